"""The selection pass's shortcuts decide exactly what the slow path decides: the ASCII
needle test vs the case-insensitive regex, ``subject_of`` vs the FHIR mapping's
``_patient_of``, ``loads_for_selection`` vs ``json.loads``, and skipping the drug
matching for patients already selected."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cmvrx.api import load_knowledge
from cmvrx.audit.embedded import select
from cmvrx.audit.jsonline import loads_for_selection
from cmvrx.audit.select import line_pattern, may_be_cmv_antiviral, needles
from cmvrx.audit.sources import Source
from cmvrx.fhir.inbound import _patient_of, subject_of
from cmvrx.fhir.resources import Item

K = load_knowledge()
WORDS = [*needles(K), "Medication", "medicationReference", "GANCICLOVIR", "Foscavir", "x"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(WORDS), st.text(max_size=6)), max_size=8))
def test_needle_test_is_the_regex(parts: list[str]) -> None:
    line = "Medication " + " ".join(parts)
    slow = "medicationReference" in line or line_pattern(K).search(line) is not None
    assert may_be_cmv_antiviral(line, K) == slow


REF = st.one_of(
    st.sampled_from(["Patient/p1", "Patient/", "urn:uuid:u1", "a/Patient/p2", "Group/g", ""]),
    st.text(max_size=12),
    st.integers(),
)
HOLDER = st.one_of(st.fixed_dictionaries({"reference": REF}), st.just({}), st.just("x"))


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["subject", "patient", "id"]), HOLDER))
def test_subject_of_is_the_mapping(fields: dict[str, Any]) -> None:
    resource = {"resourceType": "MedicationRequest", **fields}
    assert subject_of(resource) == _patient_of(Item(resource))


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(
        st.text(max_size=20),
        st.recursive(
            st.one_of(
                st.none(),
                st.booleans(),
                st.floats(),
                st.integers(-(2**63), 2**63 - 1),  # beyond 64 bits: a float (docstring)
                st.text(max_size=5),
            ),
            lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=3), c, max_size=3),
            max_leaves=8,
        ).map(json.dumps),
    )
)
def test_loads_for_selection_accepts_and_refuses_like_json(line: str) -> None:
    assume(re.search(r"[0-9]{19}", line) is None)  # beyond 64 bits: a float (docstring)
    try:
        expected: Any = json.loads(line)
    except ValueError:
        expected = ValueError
    try:
        got: Any = loads_for_selection(line)
    except ValueError:
        got = ValueError
    if expected is not ValueError and got is not ValueError:
        assert json.dumps(got, sort_keys=True) == json.dumps(expected, sort_keys=True) or (
            got != got or expected != expected  # NaN
        )
    else:
        assert got is expected


def _order(oid: str, pid: str, drug: str) -> str:
    return json.dumps(
        {
            "resourceType": "MedicationRequest",
            "id": oid,
            "status": "active",
            "subject": {"reference": f"Patient/{pid}"},
            "medicationCodeableConcept": {"text": drug},
        }
    )


def test_patients_selected_once_are_still_selected(tmp_path: Path) -> None:
    """Later lines of a selected patient are skipped; other patients still are read."""
    lines = [
        _order("a1", "a", "ganciclovir"),
        _order("a2", "a", "ganciclovir"),
        _order("b1", "b", "paracetamol"),
        _order("b2", "b", "foscarnet"),
        _order("c1", "c", "valganciclovir"),
    ]
    path = tmp_path / "MedicationRequest.ndjson"
    path.write_text("\n".join(lines) + "\n")
    assert select([Source(path, "MedicationRequest")], K).patients == {"a", "b", "c"}

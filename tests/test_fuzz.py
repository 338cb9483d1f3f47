"""Fuzzing the case and event schemas (issue 6, "done when"): Hypothesis mutates valid
cases, course events and raw documents with hostile values; every outcome is a result
or a deliberate ``CmvrxError`` — never another exception (which the CLI would turn into
exit 70) — and a refused input never yields a dose. Time is bounded by the reader's
own limits (size, depth, node count), not by a timer.
"""

from __future__ import annotations

import contextlib
import copy
import math
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cmvrx
from cmvrx import api, reader
from cmvrx.errors import CmvrxError
from strategies import AS_OF, cases

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "cns-encephalitis-hiv.yaml"
COURSE = Path(__file__).resolve().parents[1] / "examples" / "course-cns.yaml"
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

HOSTILE_VALUES = st.one_of(
    st.sampled_from(
        [
            True,
            False,
            None,
            "42",
            "1:04",
            "",
            " ",
            "\u202e",
            "a\x00b",
            [],
            {},
            [[[]]],
            -1,
            0,
            -0.0,
            1e308,
            -1e308,
            10**30,
            math.nan,
            math.inf,
            -math.inf,
            "NaN",
            "∞",
        ]
    ),
    st.integers(),
    st.floats(),
    st.text(max_size=30),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value in a nested mapping/list."""
    out: list[tuple[Any, ...]] = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out.extend(_paths(value, (*prefix, i)))
    return out


def _replace(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    data = copy.deepcopy(data)
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return data


def _no_dose(plan: cmvrx.Plan) -> bool:
    doses = [*plan.regimen.induction, *plan.maintenance.options]
    return all(d.practical_mg is None for d in doses)


@FUZZ
@given(case=cases(), data=st.data())
def test_a_mutated_case_plans_or_is_refused(case: dict[str, Any], data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(_paths(case)))
    value = data.draw(HOSTILE_VALUES)
    mutated = _replace(case, path, value)
    with contextlib.suppress(CmvrxError):  # refused on purpose: nothing was dosed
        cmvrx.plan(mutated, as_of=AS_OF)


@FUZZ
@given(data=st.data())
def test_a_mutated_example_case_plans_or_is_refused(data: st.DataObject) -> None:
    case = yaml.safe_load(EXAMPLE.read_text())
    path = data.draw(st.sampled_from(_paths(case)))
    mutated = _replace(case, path, data.draw(HOSTILE_VALUES))
    with contextlib.suppress(CmvrxError):
        cmvrx.plan(mutated, as_of=AS_OF)


@FUZZ
@given(case=cases(), key=st.sampled_from(["weight", "age", "height"]), value=HOSTILE_VALUES)
def test_a_refused_body_size_never_gives_a_dose(
    case: dict[str, Any], key: str, value: object
) -> None:
    mutated = _replace(case, ("patient", key, "value"), value)
    try:
        plan = cmvrx.plan(mutated, as_of=AS_OF)
    except cmvrx.InputError:
        return
    assert isinstance(value, int | float) and not isinstance(value, bool)
    assert math.isfinite(value) or _no_dose(plan)


@FUZZ
@given(text=st.text(max_size=400))
def test_any_text_is_parsed_or_refused(text: str) -> None:
    with contextlib.suppress(CmvrxError):
        api.load_case(text if "\n" in text else text + "\n")


@FUZZ
@given(raw=st.binary(max_size=400))
def test_any_bytes_are_decoded_or_refused(raw: bytes) -> None:
    with contextlib.suppress(CmvrxError):
        reader.parse(reader.decode(raw, name="fuzz"), name="fuzz")


EVENT_KINDS = {
    "weight": {"value": 70, "unit": "kg"},
    "lab": {"analyte": "creatinine", "value": 1.1, "unit": "mg/dL"},
    "dose_given": {"drug": "ganciclovir", "dose_mg": 320},
    "cmv_pcr": {"result": "detected", "value": 1000, "lower_limit": 35},
    "plan_started": {"orders": [{"drug": "ganciclovir", "dose_mg": 320, "interval": "q12h"}]},
    "dialysis_changed": {"dialysis": "none"},
    "clinical_status": {"status": "stable"},
    "note": {"text": "x"},
}


@FUZZ
@given(kind=st.sampled_from(sorted(EVENT_KINDS)), data=st.data())
def test_a_mutated_event_is_validated_or_refused(kind: str, data: st.DataObject) -> None:
    from cmvrx.store.validation import validate_event

    event = {"kind": kind, "at": "2026-11-25T08:00:00Z", **EVENT_KINDS[kind]}
    path = data.draw(st.sampled_from(_paths(event)))
    mutated = _replace(event, path, data.draw(HOSTILE_VALUES))
    with contextlib.suppress(CmvrxError):
        validate_event(mutated)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(EVENT_KINDS)), data=st.data())
def test_a_course_with_a_mutated_event_is_assessed_or_refused(
    kind: str, data: st.DataObject
) -> None:
    from datetime import UTC, datetime

    course = yaml.safe_load(COURSE.read_text())
    event = {"kind": kind, "at": "2026-11-25T08:00:00Z", **EVENT_KINDS[kind]}
    path = data.draw(st.sampled_from(_paths(event)))
    course["events"].append(_replace(event, path, data.draw(HOSTILE_VALUES)))
    with contextlib.suppress(CmvrxError):
        cmvrx.assess_course(course, as_of=datetime(2026, 12, 15, 12, tzinfo=UTC))

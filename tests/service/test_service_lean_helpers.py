"""The cheaper helpers of the order-sign path give what the plain ones gave: ``strip_empty``
(no recursion into leaves) against the depth-first reference it replaced, on any JSON;
``updated_order`` (a copy of the draft's top level only) equal to the deep-copy version,
and the draft left unchanged."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cmvrx.service.cdshooks.models import strip_empty
from cmvrx.service.cdshooks.order_sign import updated_order

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=False)
    | st.sampled_from(["", "x", " "]),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(["a", "b", "c", ""]), inner, max_size=4),
    max_leaves=30,
)  # fmt: skip


def _reference(value: object) -> object:
    """``strip_empty`` as it was written first: every value, depth first."""
    if isinstance(value, dict):
        kept = {k: _reference(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if not _empty(v)}
    if isinstance(value, list):
        items = [_reference(v) for v in value]
        return [v for v in items if not _empty(v)]
    return value


def _empty(value: object) -> bool:
    return value is None or (isinstance(value, str | list | dict) and not value)


@settings(max_examples=300, deadline=None)
@given(_JSON)
def test_strip_empty_is_the_depth_first_reference(value: Any) -> None:
    expected = _reference(value)
    got = strip_empty(value)
    assert got == expected
    assert json.dumps(got, sort_keys=True) == json.dumps(expected, sort_keys=True)  # 0 vs False


def _draft() -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": "d1",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        "medicationCodeableConcept": {"coding": [{"system": "x", "code": "1"}], "text": "g"},
        "dosageInstruction": [
            {
                "route": {"coding": [{"system": "http://snomed.info/sct", "code": "47625008"}]},
                "doseAndRate": [{"doseQuantity": {"value": 500, "code": "mg"}}],
            }
        ],
    }


def _deep_copy_version(draft: dict[str, Any], corrected: dict[str, Any]) -> dict[str, Any]:
    return updated_order(copy.deepcopy(draft), corrected)


def test_updated_order_equals_the_deep_copy_version_and_leaves_the_draft_alone() -> None:
    for corrected in (
        {"text": "ganciclovir 350 mg IV q12h", "amount_mg": 350, "interval_hours": 12},
        {"text": "ganciclovir 350 mg IV weekly", "amount_mg": 350, "interval": "weekly"},
    ):
        draft = _draft()
        before = copy.deepcopy(draft)
        got = updated_order(draft, corrected)
        assert got == _deep_copy_version(before, corrected)
        assert draft == before
        assert got["id"] == "d1" and got["dosageInstruction"] != draft["dosageInstruction"]

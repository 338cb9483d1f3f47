"""``api.review_record`` as the CDS Hooks patient-view and the audit call it."""

from __future__ import annotations

from datetime import datetime

import pytest
from vignette_support import VIGNETTES, load

import cmvrx.api as api
from cmvrx.errors import InputError

BASE = next(p for p in VIGNETTES if p.name.startswith("01_"))
NONE = next(p for p in VIGNETTES if p.name.startswith("12_"))


def test_review_shape() -> None:
    resources, as_of, _ = load(BASE)
    review = api.review_record(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": r} for r in resources],
        },
        as_of=as_of,
        no_dialysis_unless_recorded=True,
    )
    assert review.patient_id == "p1" and review.on_cmv_antiviral
    assert review.findings == ()
    body = review.to_dict()
    assert body["knowledge_version"] == "2026.12.1" and body["disclaimer"]


def test_no_antiviral_is_not_reviewed() -> None:
    resources, as_of, _ = load(NONE)
    review = api.review_record(resources, as_of=as_of, no_dialysis_unless_recorded=True)
    assert not review.on_cmv_antiviral and review.findings == ()


def test_dialysis_never_assumed_by_default() -> None:
    resources, as_of, _ = load(BASE)
    review = api.review_record(resources, as_of=as_of)
    assert {(f.order_id, f.kind) for f in review.findings} == {("gcv", "insufficient_data")}
    assert all(f.corrected_dose is None for f in review.findings)
    assert "dialysis" in review.findings[0].summary


def test_naive_as_of_is_an_input_error() -> None:
    resources, _, _ = load(BASE)
    with pytest.raises(InputError):
        api.review_record(resources, as_of=datetime(2026, 3, 10))


@pytest.mark.parametrize("junk", [None, 42, "text", [1, 2], {"resourceType": 7}, [{"a": 1}]])
def test_junk_never_crashes(junk: object) -> None:
    _, as_of, _ = load(BASE)
    review = api.review_record(junk, as_of=as_of)
    assert review.findings == ()

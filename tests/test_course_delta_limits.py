"""The delta limits that hold an implausible course measurement (parameters.toml
``*_delta_max_fold`` / ``*_delta_window_hours``, NOT CONFIRMED), each on both sides of its
fold and of its window (issue 6 item 5; issue 12: every clinical number guarded).

A measurement 100 days after the baseline is accepted (outside every window); the next
one, ``hours`` later, at ``ratio`` × that value, is held when the ratio exceeds the fold
within the window. Ratios sit 0.04 inside / outside each fold and times half an hour
inside / outside each window, so a limit moved by one written step fails a test."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

import cmvrx
from cmvrx.engine.course.review import DELTA_LIMITS, review_course

K = cmvrx.load_knowledge()
BASELINE = yaml.safe_load(
    (Path(__file__).parent / "course_cases" / "35_weight_jump_held.yaml").read_text("utf-8")
)["course"]["baseline"]
T1 = datetime.fromisoformat("2026-11-20T08:00:00+00:00") + timedelta(days=100)
#: measurement -> (event kind and fields, the first value): values that stay plausible
FIRST = {
    "weight": ({"kind": "weight", "unit": "kg"}, 70.0),
    "creatinine": ({"kind": "lab", "analyte": "creatinine", "unit": "mg/dL"}, 1.0),
    "anc": ({"kind": "lab", "analyte": "anc", "unit": "cells/uL"}, 1000.0),
    "platelets": ({"kind": "lab", "analyte": "platelets", "unit": "cells/uL"}, 50000.0),
    "hemoglobin": ({"kind": "lab", "analyte": "hemoglobin", "unit": "g/dL"}, 6.0),
}


def _held(name: str, ratio: float, hours: float) -> bool:
    fields, first = FIRST[name]
    second_at = T1 + timedelta(hours=hours)
    course = cmvrx.load_course(
        {
            "course_id": "delta",
            "baseline": BASELINE,
            "events": [
                {**fields, "at": T1.isoformat(), "value": first},
                {**fields, "at": second_at.isoformat(), "value": round(first * ratio, 6)},
            ],
        }
    )
    review = review_course(course, K, second_at + timedelta(hours=1))
    return any(s.status == "held" for s in review.held)


def test_every_delta_limit_is_covered() -> None:
    assert set(FIRST) == set(DELTA_LIMITS)


@pytest.mark.parametrize("name", sorted(DELTA_LIMITS))
def test_fold_both_sides(name: str) -> None:
    fold = K.number(DELTA_LIMITS[name][0])
    assert not _held(name, fold - 0.04, hours=1)
    assert _held(name, fold + 0.04, hours=1)
    assert not _held(name, 1 / (fold - 0.04), hours=1)  # a fall, the same limit
    assert _held(name, 1 / (fold + 0.04), hours=1)


@pytest.mark.parametrize("name", sorted(DELTA_LIMITS))
def test_window_both_sides(name: str) -> None:
    fold, window = (K.number(p) for p in DELTA_LIMITS[name])
    assert _held(name, fold + 0.04, hours=window - 0.5)
    assert not _held(name, fold + 0.04, hours=window + 0.5)


def test_the_limits_are_the_design_values_listed_for_review() -> None:
    """The values themselves, as docs/course.md lists them (NOT CONFIRMED, configurable)."""
    expected: dict[str, Any] = {
        "weight_delta_max_fold": 1.3, "weight_delta_window_hours": 720,
        "creatinine_delta_max_fold": 3, "creatinine_delta_window_hours": 48,
        "anc_delta_max_fold": 10, "platelets_delta_max_fold": 5,
        "hemoglobin_delta_max_fold": 2, "blood_count_delta_window_hours": 48,
    }  # fmt: skip
    for name, value in expected.items():
        assert K.number(name) == value, name
        assert K.parameters[name].grade.value == "NOT CONFIRMED", name

"""Course data checks (engine/course/review.py, engine/course/doses.py; issue 6 items 5–7).

Properties: whatever measurements a course holds — wrong units, impossible values, wild
jumps — the assessment and the chart never fail because of them, never use a set-aside
value, and a held weight or creatinine never yields a re-dose or a stop.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cmvrx
from cmvrx.engine.course.doses import label_maximum

CASES = Path(__file__).parent / "course_cases"
K = cmvrx.load_knowledge()
START = datetime(2026, 11, 20, 12, tzinfo=UTC)
AS_OF = datetime(2026, 11, 24, 8, tzinfo=UTC)


def _course() -> dict[str, Any]:
    data = yaml.safe_load((CASES / "35_weight_jump_held.yaml").read_text(encoding="utf-8"))
    course: dict[str, Any] = data["course"]
    course["events"] = [e for e in course["events"] if e["kind"] != "weight"]
    return course


UNITS = {
    "creatinine": ["mg/dL", "umol/L", "µmol/L", "furlongs", "", "mmol/L"],
    "anc": ["cells/uL", "10*9/L", "g/dL", "furlongs"],
    "platelets": ["cells/uL", "10*9/L", "mg/dL"],
    "hemoglobin": ["g/dL", "g/L", "cells/uL"],
}

labs = st.builds(
    lambda analyte, unit_index, value, hours: {
        "kind": "lab",
        "at": (START + timedelta(hours=hours)).isoformat(),
        "analyte": analyte,
        "value": value,
        "unit": UNITS[analyte][unit_index % len(UNITS[analyte])] or None,
    },
    st.sampled_from(sorted(UNITS)),
    st.integers(0, 5),
    st.sampled_from([0.0, 0.013, 0.9, 1.1, 4.0, 9.0, 50.0, 97.0, 800.0, 2500.0, 160000.0]),
    st.integers(0, 90),
)
weights = st.builds(
    lambda unit, value, hours: {
        "kind": "weight",
        "at": (START + timedelta(hours=hours)).isoformat(),
        "value": value,
        "unit": unit,
    },
    st.sampled_from(["kg", "lb", "g", "stone"]),
    st.sampled_from([0.3, 6.3, 50.0, 68.0, 70.0, 154.0, 500.0, 70000.0]),
    st.integers(0, 90),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(labs, weights), max_size=6))
def test_no_recorded_measurement_breaks_the_assessment(extra: list[dict[str, Any]]) -> None:
    course = _course()
    course["events"] = [*course["events"], *extra]
    a = cmvrx.assess_course(course, as_of=AS_OF)  # never raises for an event
    held = {s.what.split(" ")[0] for s in a.set_aside if s.status == "held"}
    if held & {"weight", "creatinine"}:
        assert all(o.verdict not in ("redose", "stop") for o in a.orders), a.orders
    used_weight = a.state["weight_kg"]
    assert 0.4 <= used_weight <= 350  # never an implausible or unconverted weight
    for s in a.set_aside:
        assert s.status in ("invalid", "held", "superseded")
        assert 1 <= s.seq <= len(course["events"])


def test_the_chart_draws_a_course_with_bad_events(tmp_path: Path) -> None:
    course = _course()
    course["events"] += [
        {"kind": "lab", "at": "2026-11-23T08:00:00Z", "analyte": "anc", "value": 5,
         "unit": "furlongs"},
        {"kind": "lab", "at": "2026-11-23T08:00:00Z", "analyte": "creatinine", "value": 50,
         "unit": "mg/dL"},
        {"kind": "weight", "at": "2026-11-23T08:00:00Z", "value": 6.3, "unit": "kg"},
    ]  # fmt: skip
    svg = tmp_path / "c.svg"
    assert cmvrx.chart_course(course, as_of=AS_OF, svg_path=svg) == [svg]


def test_a_retraction_counts_from_its_own_time() -> None:
    course = _course()
    bad = {"kind": "lab", "at": "2026-11-22T06:00:00Z", "analyte": "creatinine", "value": 2.9,
           "unit": "mg/dL"}  # fmt: skip
    course["events"] += [
        bad,
        {
            "kind": "entered_in_error",
            "at": "2026-11-23T06:00:00Z",
            "ref_seq": len(course["events"]) + 1,
            "reason": "wrong tube",
        },
    ]
    before = cmvrx.assess_course(course, as_of=datetime(2026, 11, 22, 12, tzinfo=UTC))
    after = cmvrx.assess_course(course, as_of=AS_OF)
    assert before.state["serum_creatinine_mg_dl"]["value"] == 2.9  # known then, not yet retracted
    assert after.state["serum_creatinine_mg_dl"]["value"] == 1.0
    assert [s.status for s in after.set_aside] == ["entered_in_error"]


def test_a_held_value_superseded_by_an_agreeing_old_value_is_not_a_finding() -> None:
    course = _course()
    course["events"] += [
        {"kind": "weight", "at": "2026-11-22T06:00:00Z", "value": 7.0, "unit": "kg"},
        {"kind": "weight", "at": "2026-11-23T06:00:00Z", "value": 69.0, "unit": "kg"},
    ]
    a = cmvrx.assess_course(course, as_of=AS_OF)
    assert [s.status for s in a.set_aside] == ["superseded"]
    assert "CRS-DATA-MEASUREMENT-HELD" not in a.rule_ids()
    assert a.state["weight_kg"] == 69.0


def test_delta_limits_are_configurable_and_bounded() -> None:
    course = _course()
    course["events"] += [
        {"kind": "weight", "at": "2026-11-23T06:00:00Z", "value": 50.0, "unit": "kg"}
    ]
    assert "CRS-DATA-MEASUREMENT-HELD" in cmvrx.assess_course(course, as_of=AS_OF).rule_ids()
    loose = cmvrx.load_knowledge({"weight_delta_max_fold": 1.5})
    a = cmvrx.assess_course(course, as_of=AS_OF, knowledge=loose)
    assert "CRS-DATA-MEASUREMENT-HELD" not in a.rule_ids()
    assert "weight_delta_max_fold" in {n.id for n in a.not_confirmed}
    with pytest.raises(cmvrx.InputError, match="outside the allowed"):
        cmvrx.load_knowledge({"weight_delta_max_fold": 0.5})  # its cited bounds


@pytest.mark.parametrize(
    ("drug", "per_dose", "per_day", "unit"),
    [
        # Label rows (knowledge/data/*.toml): the largest single dose and daily amount.
        ("ganciclovir", 5, 10, "mg/kg"),  # 5 mg/kg q12h induction
        ("foscarnet", 120, 180, "mg/kg"),  # 120 mg/kg once daily maintenance; 60 q8h
        ("valganciclovir", 900, 1800, "mg"),  # 900 mg twice daily induction
        ("cidofovir", 5, 5, "mg/kg"),  # 5 mg/kg weekly: the single dose bounds 24 h
        ("letermovir", 480, 480, "mg"),
    ],
)
def test_label_maximum_comes_from_the_dose_tables(
    drug: str, per_dose: float, per_day: float, unit: str
) -> None:
    limit = label_maximum(K, drug)
    assert limit is not None
    assert (limit.per_dose, limit.per_day, limit.unit) == (per_dose, per_day, unit)
    assert limit.cite


def test_doses_given_within_a_day_add_up() -> None:
    course = _course()
    # 70 kg: ganciclovir ≤ 10 mg/kg/24 h = 700 mg; three 350 mg doses in 24 h = 1050 mg.
    course["events"] += [
        {"kind": "dose_given", "at": f"2026-11-23T{h:02d}:00:00Z", "drug": "ganciclovir",
         "dose_mg": 350} for h in (0, 8, 16)
    ]  # fmt: skip
    a = cmvrx.assess_course(course, as_of=AS_OF)
    (f,) = [f for f in a.findings if f.rule_id == "CRS-DOSE-GIVEN-ABOVE-LABEL-MAXIMUM"]
    assert "1050 mg of ganciclovir in the 24 h" in f.message
    assert "10 mg/kg per 24 h (700 mg for 70 kg)" in f.message

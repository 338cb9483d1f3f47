"""Course engine details not covered by the vignettes: overrides, refused input, purity."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import yaml

import cmvrx

CASES = Path(__file__).parent / "course_cases"


def _vignette(name: str) -> tuple[dict, datetime]:
    data = yaml.safe_load((CASES / name).read_text(encoding="utf-8"))
    return data["course"], datetime.fromisoformat(data["as_of"])


def test_not_confirmed_pcr_count_is_configurable_and_reported() -> None:
    course, as_of = _vignette("16_cns_end_of_induction_met.yaml")
    default = cmvrx.assess_course(course, as_of=as_of)
    assert default.end_of_induction.met
    assert "end_of_induction_negative_pcr_count" in {n.id for n in default.not_confirmed}
    strict = cmvrx.load_knowledge({"end_of_induction_negative_pcr_count": 2})
    two = cmvrx.assess_course(course, as_of=as_of, knowledge=strict)
    # 11-14 was "detected below LLOQ": only one of the last two weekly PCRs is negative
    assert not two.end_of_induction.met
    assert "CRS-END-OF-INDUCTION-MET" not in two.rule_ids()
    assert two.provenance.knowledge_hash != default.provenance.knowledge_hash


def test_graded_course_thresholds_are_not_overridable() -> None:
    with pytest.raises(cmvrx.KnowledgeError, match="only NOT CONFIRMED"):
        cmvrx.load_knowledge({"refractory_log10_rise": 0.5})


def test_a_lab_value_without_unit_is_set_aside_not_used() -> None:
    # Was an InputError (exit 2 for every later assessment); now the event is ignored and
    # reported naming the field, and the orders are checked on the other values (issue 6).
    course, as_of = _vignette("02_gcv_creatinine_rise_redose.yaml")
    before = cmvrx.assess_course(course, as_of=as_of)
    course["events"].append(
        {"kind": "lab", "at": "2026-11-09T07:00:00Z", "analyte": "creatinine", "value": 1.0}
    )
    a = cmvrx.assess_course(course, as_of=as_of)
    (aside,) = a.set_aside
    assert (aside.status, aside.field) == ("invalid", f"seq {len(course['events'])}.unit")
    assert "CRS-DATA-EVENT-INVALID" in a.rule_ids()
    assert a.orders == before.orders


def test_csf_pcr_does_not_count_as_the_weekly_blood_pcr() -> None:
    course, as_of = _vignette("23_missing_tests_on_foscarnet.yaml")
    course["events"].append(
        {
            "kind": "cmv_pcr",
            "at": "2026-11-02T09:00:00Z",
            "result": "detected",
            "value": 900,
            "lower_limit": 35,
            "specimen": "csf",
        }
    )
    a = cmvrx.assess_course(course, as_of=as_of)
    assert {t.rule_id: t.status for t in a.tests}["MON-CMV-PCR-WEEKLY"] == "missing"


def test_assessing_twice_gives_the_same_answer() -> None:
    course, as_of = _vignette("21_plateau_but_underdosed_after_renal_recovery.yaml")
    assert (
        cmvrx.assess_course(course, as_of=as_of).to_dict()
        == cmvrx.assess_course(course, as_of=as_of).to_dict()
    )


def test_an_event_without_time_zone_is_refused() -> None:
    course, as_of = _vignette("02_gcv_creatinine_rise_redose.yaml")
    course["events"].append({"kind": "note", "at": "2026-11-02T08:00:00", "text": "naive"})
    with pytest.raises(cmvrx.InputError, match="time zone"):
        cmvrx.assess_course(course, as_of=as_of)


def test_every_course_rule_and_tracked_item_is_well_formed() -> None:
    k = cmvrx.load_knowledge()
    assert k.course is not None
    assert {r.kind for r in k.course.rule} <= {
        "data",
        "phase",
        "order",
        "test",
        "toxicity",
        "step_down",
        "end_of_induction",
        "response",
        "resistance",
        "maintenance",
    }
    tracked = [m for m in k.monitoring if m.tracks]
    assert all(m.every_days for m in tracked)
    assert {"MON-CMV-PCR-WEEKLY", "MON-CIDOFOVIR-PRE-DOSE"} <= {m.id for m in tracked}

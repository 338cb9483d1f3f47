"""Every monitoring cadence, from the label/guideline text, through the plan and the course.

``EVERY_DAYS`` is the longest allowed gap between two results, written from
clinical-reference.md (NOT from monitoring.toml): the plan must print it, and a course
must find the test due on that day and overdue just after it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

import cmvrx

HERE = Path(__file__).parent

#: rule id -> longest gap in days, and where it comes from.
EVERY_DAYS = {
    "MON-CMV-PCR-WEEKLY": 7,  # seed: weekly viral load
    "MON-CBC-GANCICLOVIR-INDUCTION": 2,  # ref. §1.5 Davis: at least every 2 days (twice daily)
    "MON-CBC-GANCICLOVIR-MAINTENANCE": 7,  # ref. §1.5 Davis: weekly thereafter
    "MON-CREATININE-GANCICLOVIR": 7,  # ref. §1.5: SCr once weekly (Fraser Health)
    "MON-CRCL-FOSCARNET-INDUCTION": 3.5,  # ref. §3.6: 2–3 times weekly → 7 / 2
    "MON-CRCL-FOSCARNET-MAINTENANCE": 14,  # ref. §3.6: at least once every 1–2 weeks
    "MON-ELECTROLYTES-FOSCARNET-INDUCTION": 3.5,  # ref. §3.6: 2–3 times weekly
    "MON-ELECTROLYTES-FOSCARNET-MAINTENANCE": 7,  # ref. §3.6: at least weekly
    # foscarnet offered for maintenance after an induction without it (issue 7 item 5)
    "MON-CRCL-FOSCARNET-MAINTENANCE-OPTION": 14,  # ref. §3.6: at least once every 1–2 weeks
    "MON-ELECTROLYTES-FOSCARNET-MAINTENANCE-OPTION": 7,  # ref. §3.6: at least weekly
    "MON-CIDOFOVIR-PRE-DOSE": 2,  # ref. §4 boxed: within 48 h before each dose
    "MON-OPHTHALMOLOGY-RETINITIS": 42,  # ref. §9.2: every 4–6 weeks → at most 6 weeks
    "MON-CD4-HIV": 92,  # ref. §9.5: every 3 months → at most 92 days (31 + 31 + 30)
}


def _plans() -> dict[str, float | None]:
    """Every monitoring item any vignette plan prints, with its cadence."""
    seen: dict[str, float | None] = {}
    for path in sorted((HERE / "cases").glob("*.yaml")):
        v = yaml.safe_load(path.read_text(encoding="utf-8"))
        try:
            plan = cmvrx.plan(v["case"], as_of=datetime.fromisoformat(v["as_of"])).to_dict()
        except cmvrx.CmvrxError:
            continue
        for item in plan["monitoring"]:
            seen.setdefault(item["rule_id"], item["every_days"])
    return seen


def test_every_cadence_through_the_plan() -> None:
    printed = _plans()
    for rule_id, days in EVERY_DAYS.items():
        assert rule_id in printed, f"no vignette plan shows {rule_id}"
        assert printed[rule_id] == days, rule_id


def test_every_cadence_in_the_knowledge_has_its_source_here() -> None:
    with_cadence = {m.id for m in cmvrx.load_knowledge().monitoring if m.every_days is not None}
    assert set(EVERY_DAYS) <= with_cadence  # a new cadence: the mutation run asks for its test


#: (course vignette, rule id) for each cadence a course follows.
COURSE = [
    ("01_gcv_induction_day9_all_right", "MON-CMV-PCR-WEEKLY"),
    ("01_gcv_induction_day9_all_right", "MON-CBC-GANCICLOVIR-INDUCTION"),
    ("01_gcv_induction_day9_all_right", "MON-CREATININE-GANCICLOVIR"),
    ("17_premature_switch_to_maintenance", "MON-CBC-GANCICLOVIR-MAINTENANCE"),
    ("03_foscarnet_reestimated_band_edge", "MON-CRCL-FOSCARNET-INDUCTION"),
    ("03_foscarnet_reestimated_band_edge", "MON-ELECTROLYTES-FOSCARNET-INDUCTION"),
    ("26_hiv_maintenance_stop_eligible", "MON-CD4-HIV"),
]


def _course(stem: str) -> tuple[Any, datetime]:
    path = next((HERE / "course_cases").glob(f"{stem}*.yaml"))
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return cmvrx.load_course(data["course"]), datetime.fromisoformat(data["as_of"])


@pytest.mark.parametrize(("stem", "rule_id"), COURSE)
def test_course_finds_the_test_due_on_the_right_day(stem: str, rule_id: str) -> None:
    course, as_of = _course(stem)
    status = {t.rule_id: t for t in cmvrx.assess_course(course, as_of=as_of).tests}[rule_id]
    assert status.last_at is not None
    due = status.last_at + timedelta(days=EVERY_DAYS[rule_id])
    assert status.due_at == due
    on_time = {t.rule_id: t for t in cmvrx.assess_course(course, as_of=due).tests}[rule_id]
    assert on_time.status != "overdue"
    late = due + timedelta(minutes=1)
    after = {t.rule_id: t for t in cmvrx.assess_course(course, as_of=late).tests}[rule_id]
    assert after.status == "overdue"

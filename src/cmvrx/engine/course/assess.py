"""Assess a treatment course at ``as_of``: pure, no clock, no I/O.

Order: state at ``as_of`` (state) → phase and day → active orders against
today's renal function (orders) → tests due (monitoring) → toxicity
(toxicity) → step-down and end of induction (induction) → response and
resistance (response) → maintenance (maintenance) → findings sorted,
sources and provenance.
"""

from __future__ import annotations

import math
from datetime import datetime

from cmvrx._version import __version__
from cmvrx.engine.course.data import held_order_findings, review_findings
from cmvrx.engine.course.doses import dose_findings
from cmvrx.engine.course.induction import end_of_induction, step_down
from cmvrx.engine.course.maintenance import maintenance
from cmvrx.engine.course.monitoring import monitoring_statuses
from cmvrx.engine.course.orders import check_orders
from cmvrx.engine.course.response import resistance, response
from cmvrx.engine.course.review import DELTA_LIMITS, hold_orders, review_course
from cmvrx.engine.course.state import (
    DAY,
    CourseState,
    build_state,
    finding,
    induction_min_days,
    induction_run,
)
from cmvrx.engine.course.toxicity import toxicity
from cmvrx.errors import InputError
from cmvrx.knowledge.bundle import Knowledge
from cmvrx.knowledge.schema import Grade
from cmvrx.model.assessment import CourseAssessment, Finding, PhaseStatus
from cmvrx.model.course import Course
from cmvrx.model.plan import NotConfirmed, Provenance

_SEVERITY = {"critical": 0, "warning": 1, "info": 2}
_KIND = (
    "data",
    "phase",
    "toxicity",
    "order",
    "resistance",
    "response",
    "end_of_induction",
    "step_down",
    "maintenance",
    "test",
)

#: NOT CONFIRMED-capable parameters every course assessment may use.
_COURSE_PARAMETERS = (
    "creatinine_max_age_hours",
    "blood_count_max_age_hours",
    "course_dose_match_tolerance",
    "test_due_soon_hours",
    "end_of_induction_negative_pcr_count",
    "viral_load_unchanged_log10",
    *dict.fromkeys(name for pair in DELTA_LIMITS.values() for name in pair),
)


def assess(course: Course, k: Knowledge, as_of: datetime) -> CourseAssessment:
    """Where the patient stands at ``as_of`` and what to do next, every finding cited."""
    if as_of.tzinfo is None:
        raise InputError("as_of must carry a time zone", field="as_of")
    review = review_course(course, k, as_of)
    st = build_state(review.course, k, as_of, timeline=tuple(review.course.events))
    phase, phase_findings = phase_status(st)
    orders, order_findings = check_orders(st)
    if review.blocking:
        orders = hold_orders(orders, review, k)
        order_findings = held_order_findings(st, orders, order_findings)
    tests, test_findings = monitoring_statuses(st)
    step, step_findings = step_down(st)
    eoi, eoi_findings = end_of_induction(st)
    resp, resp_findings = response(st, orders)
    maint, maint_findings = maintenance(st, eoi)
    findings = sorted(
        (
            *review_findings(k, review, course.course_id),
            *phase_findings,
            *toxicity(st),
            *order_findings,
            *dose_findings(st),
            *resistance(st),
            *resp_findings,
            *eoi_findings,
            *step_findings,
            *maint_findings,
            *test_findings,
        ),
        key=_order,
    )
    cited = {c for f in findings for c in f.cite}
    return CourseAssessment(
        course_id=course.course_id,
        provenance=Provenance(__version__, k.version, k.content_hash, as_of),
        events_considered=len(st.events),
        events_after_as_of=st.late,
        phase=phase,
        state=_state_summary(st),
        renal=st.situation.renal,
        orders=orders,
        tests=tests,
        step_down=step,
        end_of_induction=eoi,
        response=resp,
        maintenance=maint,
        findings=tuple(findings),
        not_confirmed=_not_confirmed(k, st),
        sources={cid: k.sources[cid].title for cid in sorted(cited)},
        set_aside=review.set_aside,
    )


def _order(f: Finding) -> tuple[int, int, str, str, str]:
    return (_SEVERITY[f.severity], _KIND.index(f.kind), f.rule_id, f.drug or "", f.message)


def phase_status(st: CourseState) -> tuple[PhaseStatus, list[Finding]]:
    k, current = st.knowledge, st.current
    if current is None:
        status = PhaseStatus(
            "not_started", "no therapy recorded", None, None, None, None, None, None
        )
        return status, [
            finding(
                k, "CRS-NO-THERAPY", "no plan_started event up to as_of: record the therapy given."
            )
        ]
    first = st.periods[0].start
    phase_start = current.start
    for period in reversed(st.periods):
        if period.phase != current.phase:
            break
        phase_start = period.start
    phase_day = math.floor(st.days_since(phase_start)) + 1
    findings: list[Finding] = []
    if current.phase in ("induction", "step_down"):
        run = induction_run(st.periods, len(st.periods) - 1)
        min_days, regimen_id = induction_min_days(k, run)
        day = math.floor((st.as_of - run[0].start) / DAY) + 1
        bound = f"of ≥ {min_days}" if min_days else "(minimum unknown)"
        text = f"induction day {day} {bound}"
        if current.phase == "step_down":
            text = f"step-down (oral), {text}"
        if min_days is None:
            findings.append(
                finding(
                    k,
                    "CRS-INDUCTION-DURATION-UNKNOWN",
                    "no regimen id and no regimen with these drugs in the knowledge: the minimum "
                    "induction duration cannot be checked.",
                )
            )
        return PhaseStatus(
            current.phase,
            text,
            regimen_id or run[0].regimen_id,
            first,
            phase_start,
            day,
            min_days,
            phase_day,
        ), findings
    text = (
        f"maintenance day {phase_day}"
        if current.phase == "maintenance"
        else f"stopped since {phase_start:%Y-%m-%d} (day {phase_day} off therapy)"
    )
    return PhaseStatus(
        current.phase, text, current.regimen_id, first, phase_start, None, None, phase_day
    ), findings


def _state_summary(st: CourseState) -> dict[str, object]:
    f, r = st.facts, st.situation.renal
    current = st.current

    def reading(name: str) -> dict[str, object] | None:
        value = getattr(f, name)
        if value is None:
            return None
        return {"value": round(value.value, 3), "at": value.measured_at.isoformat()}

    return {
        "weight_kg": round(f.weight_kg, 2),
        "dialysis": r.dialysis,
        "serum_creatinine_mg_dl": reading("creatinine"),
        "baseline_creatinine_mg_dl": f.baseline_creatinine_mg_dl,
        "creatinine_clearance_ml_min": r.creatinine_clearance_ml_min,
        "clearance_per_kg_ml_min_kg": r.clearance_per_kg_ml_min_kg,
        "anc": reading("anc"),
        "platelets": reading("platelets"),
        "hemoglobin": reading("hemoglobin"),
        "potassium": reading("potassium"),
        "magnesium": reading("magnesium"),
        "ionized_calcium": reading("ionized_calcium"),
        "phosphate": reading("phosphate"),
        "cd4": reading("cd4"),
        "urine_dipstick": f.urine_dipstick,
        "can_absorb_oral": None
        if st.case.oral is None
        else st.case.oral.can_take_oral and st.case.oral.can_absorb_oral,
        "active_drugs": sorted(current.drugs) if current and current.phase != "stopped" else [],
        "cytopenias": list(st.situation.cytopenias),
    }


def _not_confirmed(k: Knowledge, st: CourseState) -> tuple[NotConfirmed, ...]:
    names = list(_COURSE_PARAMETERS)
    current = st.current
    if current is not None and "foscarnet" in current.drugs:
        names.extend(
            (
                "foscarnet_low_potassium",
                "foscarnet_low_magnesium",
                "foscarnet_low_ionized_calcium",
                "foscarnet_low_phosphate",
            )
        )
    out = []
    for name in names:
        p = k.param(name)
        if p.grade is Grade.NOT_CONFIRMED:
            out.append(NotConfirmed(name, f"{p.value} {p.unit}", p.description))
    return tuple(out)

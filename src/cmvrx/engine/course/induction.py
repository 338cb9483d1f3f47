"""Oral step-down, end of induction and premature discontinuation.

- Step-down: the regimen's ``step_down`` (regimens.toml: after 3–5 days of improvement,
  its ``requires`` predicates, the valganciclovir refusals) with today's valganciclovir dose.
- End of induction: the regimen's minimum days AND the latest weekly blood PCRs not
  detected (``end_of_induction_negative_pcr_count``); leaving induction for maintenance
  or a stop before that is a premature discontinuation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from cmvrx.engine.course.state import (
    DAY,
    INDUCTION_PHASES,
    CourseState,
    TherapyPeriod,
    finding,
    induction_min_days,
    induction_run,
    param_cite,
)
from cmvrx.engine.dosing import dose_for
from cmvrx.engine.predicates import PREDICATES, holds
from cmvrx.model.assessment import EndOfInduction, Finding, StepDownStatus


def step_down(st: CourseState) -> tuple[StepDownStatus, list[Finding]]:
    k, s, current = st.knowledge, st.situation, st.current
    none = StepDownStatus(False, False, None, None, (), None, "", ())
    if current is None or current.phase != "induction" or "ganciclovir" not in current.drugs:
        return none, []
    run = induction_run(st.periods, len(st.periods) - 1)
    _, regimen_id = induction_min_days(k, run)
    regimen = k.regimens.get(regimen_id)
    if regimen is None or regimen.step_down is None:
        regimen = next(
            (
                r
                for r in k.regimens.values()
                if r.step_down is not None
                and frozenset(c.drug for c in r.components) == current.drugs
            ),
            None,
        )
    if regimen is None or regimen.step_down is None:
        return none, []
    d = regimen.step_down
    days = improving_days(st)
    unmet: list[str] = []
    if days is None or days < d.after_improvement_days_min:
        shown = "no improvement recorded" if days is None else f"{days:.1f} days of improvement"
        unmet.append(f"{shown} (needs ≥ {d.after_improvement_days_min})")
    unmet.extend(n.replace("_", " ") for n in d.requires if not PREDICATES[n](s))
    unmet.extend(
        r.reason for r in k.refusals if r.drug == d.drug and r.when and holds(s, r.when, r.unless)
    )
    dose = dose_for(s, d.drug, d.phase)
    if dose.status != "dose":
        unmet.append(f"{d.drug}: {dose.reason or dose.status}")
    rule_id = f"{regimen.id}.step_down"
    status = StepDownStatus(
        True,
        not unmet,
        days,
        d.after_improvement_days_min,
        tuple(dict.fromkeys(unmet)),
        dose,
        rule_id,
        d.cite,
    )
    if unmet:
        return status, []
    message = (
        f"{days:.1f} days of clinical improvement, non-CNS disease, can absorb oral, not on "
        f"hemodialysis: switch IV ganciclovir to valganciclovir {dose.practical_mg:g} mg "
        f"{dose.interval} ({dose.band}, {dose.renal_basis}) to complete induction."
    )
    return status, [
        finding(
            k,
            "CRS-STEP-DOWN-ELIGIBLE",
            message,
            based_on=(rule_id, dose.rule_id),
            cite=(*d.cite, *dose.cite),
            drug=d.drug,
        )
    ]


def improving_days(st: CourseState) -> float | None:
    """Days since the current unbroken run of 'improving' clinical statuses began."""
    start: datetime | None = None
    for status in st.statuses:
        start = (start or status.at) if status.status == "improving" else None
    return None if start is None else st.days_since(start)


# --- end of induction -----------------------------------------------------------------


def _pcr_negative(st: CourseState, since: datetime, until: datetime) -> bool:
    n = int(st.knowledge.number("end_of_induction_negative_pcr_count"))
    window = [p for p in st.pcrs if since <= p.at <= until]
    return len(window) >= n and all(p.result == "not_detected" for p in window[-n:])


def csf_negative(st: CourseState, since: datetime, until: datetime) -> bool:
    """CNS disease: the latest CSF CMV PCR of the induction run is not detected."""
    window = [p for p in st.csf_pcrs if since <= p.at <= until]
    return bool(window) and window[-1].result == "not_detected"


def _eoi_at(
    st: CourseState, run: tuple[TherapyPeriod, ...], until: datetime
) -> tuple[int | None, int, bool, bool, list[str]]:
    min_days, _ = induction_min_days(st.knowledge, run)
    days = math.floor((until - run[0].start) / DAY)
    duration_met = min_days is not None and days >= min_days
    negative = _pcr_negative(st, run[0].start, until)
    cns_open = PREDICATES["cns_disease"](st.situation) and not csf_negative(st, run[0].start, until)
    remaining = []
    if min_days is None:
        remaining.append("minimum duration unknown (record the regimen id)")
    elif not duration_met:
        remaining.append(f"{min_days - days} more day(s) to the minimum of {min_days}")
    if not negative:
        n = int(st.knowledge.number("end_of_induction_negative_pcr_count"))
        remaining.append(f"blood CMV PCR not yet 'not detected' on the latest {n} weekly check(s)")
    if cns_open:  # CNS disease ends on a negative CSF PCR (EOI-CNS-CSF-PCR-NEGATIVE)
        remaining.append(
            "CNS disease: CSF CMV PCR not yet 'not detected' during induction — repeat lumbar "
            "puncture (MON-CSF-PCR-CNS; interval NOT CONFIRMED: specialist to set)"
        )
    return min_days, days, duration_met, negative and not cns_open, remaining


def end_of_induction(st: CourseState) -> tuple[EndOfInduction, list[Finding]]:
    k = st.knowledge
    based_on = tuple(c.id for c in k.criteria("end_of_induction"))
    cite = tuple(c for crit in k.criteria("end_of_induction") for c in crit.cite)
    findings = _premature(st, cite)
    current = st.current
    if current is None or current.phase not in INDUCTION_PHASES:
        return EndOfInduction(False, None, None, False, False, False, (), based_on), findings
    run = induction_run(st.periods, len(st.periods) - 1)
    min_days, days, duration_met, negative, remaining = _eoi_at(st, run, st.as_of)
    met = duration_met and negative
    status = EndOfInduction(
        True, min_days, days, duration_met, negative, met, tuple(remaining), based_on
    )
    if met:
        pcr = "blood CMV PCR not detected"
        if PREDICATES["cns_disease"](st.situation):
            pcr = "blood and CSF CMV PCR not detected"
        findings.append(
            finding(
                k,
                "CRS-END-OF-INDUCTION-MET",
                f"{days} days of induction (minimum {min_days}) and {pcr}: induction may end "
                "once the disease has clinically resolved — start maintenance (options below).",
                based_on=based_on,
                cite=(*cite, *param_cite(k, "end_of_induction_negative_pcr_count")),
            )
        )
    return status, findings


def _premature(st: CourseState, cite: Sequence[str]) -> list[Finding]:
    """The current period follows induction directly, and induction was left (to
    maintenance or stopped) before its end criteria were met."""
    periods = st.periods
    if len(periods) < 2 or periods[-1].phase in INDUCTION_PHASES:
        return []
    if periods[-2].phase not in INDUCTION_PHASES:
        return []
    run = induction_run(periods, len(periods) - 2)
    end = periods[-1].start
    _, days, duration_met, negative, remaining = _eoi_at(st, run, end)
    if duration_met and negative:
        return []
    return [
        finding(
            st.knowledge,
            "CRS-PREMATURE-DISCONTINUATION",
            f"induction ended {end:%Y-%m-%d} after {days} days ({periods[-1].phase}) "
            f"before its end criteria: {'; '.join(remaining)} — resume induction dosing "
            "unless a specialist decided otherwise; failures are common with early stops.",
            based_on=("ALR-PREMATURE-DISCONTINUATION",),
            cite=cite,
        )
    ]

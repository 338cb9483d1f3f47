"""Oral step-down, end of induction, premature discontinuation, viral-load response and
resistance.

- Step-down: the regimen's ``step_down`` (regimens.toml: after 3–5 days of improvement,
  its ``requires`` predicates, the valganciclovir refusals) with today's valganciclovir dose.
- End of induction: the regimen's minimum days AND the latest weekly blood PCRs not
  detected (``end_of_induction_negative_pcr_count``); leaving induction earlier is a
  premature discontinuation.
- Response: log10 change from the baseline PCR; after ``refractory_min_days`` a rise
  above ``refractory_log10_rise`` is refractory, an unchanged load (fall smaller than
  ``viral_load_unchanged_log10``) or a smaller rise is probable refractory; either asks
  for genotyping (course.toml ``genotype``) unless the dose is not right for today's
  renal function (then: correct the dose first).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from cmvrx.engine.course_state import (
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
from cmvrx.engine.resistance import describe, drugs_affected, rule_for
from cmvrx.model.assessment import (
    EndOfInduction,
    Finding,
    OrderCheck,
    PcrPoint,
    Response,
    ResponseClass,
    StepDownStatus,
)
from cmvrx.model.course import CmvPcr

# --- step-down ------------------------------------------------------------------------


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
                if r.step_down is not None and frozenset(c.drug for c in r.components) == current.drugs
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
        True, not unmet, days, d.after_improvement_days_min, tuple(dict.fromkeys(unmet)), dose,
        rule_id, d.cite,
    )  # fmt: skip
    if unmet:
        return status, []
    message = (
        f"{days:.1f} days of clinical improvement, non-CNS disease, can absorb oral, not on "
        f"hemodialysis: switch IV ganciclovir to valganciclovir {dose.practical_mg:g} mg "
        f"{dose.interval} ({dose.band}, {dose.renal_basis}) to complete induction."
    )
    return status, [
        finding(
            k, "CRS-STEP-DOWN-ELIGIBLE", message, based_on=(rule_id, dose.rule_id),
            cite=(*d.cite, *dose.cite), drug=d.drug,
        )  # fmt: skip
    ]


def improving_days(st: CourseState) -> float | None:
    """Days since the current unbroken run of 'improving' clinical statuses began."""
    start: datetime | None = None
    for status in st.statuses:
        if status.status == "improving":
            start = start or status.at
        else:
            start = None
    return None if start is None else st.days_since(start)


# --- end of induction -----------------------------------------------------------------


def _pcr_negative(st: CourseState, since: datetime, until: datetime) -> bool:
    n = int(st.knowledge.number("end_of_induction_negative_pcr_count"))
    window = [p for p in st.pcrs if since <= p.at <= until]
    return len(window) >= n and all(p.result == "not_detected" for p in window[-n:])


def _eoi_at(
    st: CourseState, run: tuple[TherapyPeriod, ...], until: datetime
) -> tuple[int | None, int, bool, bool, list[str]]:
    min_days, _ = induction_min_days(st.knowledge, run)
    days = math.floor((until - run[0].start) / DAY)
    duration_met = min_days is not None and days >= min_days
    negative = _pcr_negative(st, run[0].start, until)
    remaining = []
    if min_days is None:
        remaining.append("minimum duration unknown (record the regimen id)")
    elif not duration_met:
        remaining.append(f"{min_days - days} more day(s) to the minimum of {min_days}")
    if not negative:
        n = int(st.knowledge.number("end_of_induction_negative_pcr_count"))
        remaining.append(f"blood CMV PCR not yet 'not detected' on the latest {n} weekly check(s)")
    return min_days, days, duration_met, negative, remaining


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
    status = EndOfInduction(True, min_days, days, duration_met, negative, met, tuple(remaining), based_on)
    if met:
        findings.append(
            finding(
                k, "CRS-END-OF-INDUCTION-MET",
                f"{days} days of induction (minimum {min_days}) and blood CMV PCR not detected: "
                "induction may end once the disease has clinically resolved (CNS: CSF PCR "
                "negative) — start maintenance (options below).",
                based_on=based_on, cite=(*cite, *param_cite(k, "end_of_induction_negative_pcr_count")),
            )  # fmt: skip
        )
    return status, findings


def _premature(st: CourseState, cite: Sequence[str]) -> list[Finding]:
    """Induction left (to maintenance or stopped) before its end criteria: the last time."""
    periods = st.periods
    if not periods or periods[-1].phase in INDUCTION_PHASES:
        return []
    for i in range(len(periods) - 1, 0, -1):
        if periods[i - 1].phase in INDUCTION_PHASES and periods[i].phase not in INDUCTION_PHASES:
            run = induction_run(periods, i - 1)
            end = periods[i].start
            _, days, duration_met, negative, remaining = _eoi_at(st, run, end)
            if duration_met and negative:
                return []
            return [
                finding(
                    st.knowledge, "CRS-PREMATURE-DISCONTINUATION",
                    f"induction ended {end:%Y-%m-%d} after {days} days ({periods[i].phase}) "
                    f"before its end criteria: {'; '.join(remaining)} — resume induction dosing "
                    "unless a specialist decided otherwise; failures are common with early stops.",
                    based_on=("ALR-PREMATURE-DISCONTINUATION",), cite=cite,
                )  # fmt: skip
            ]
    return []


# --- response -------------------------------------------------------------------------


def _point(p: CmvPcr) -> PcrPoint:
    return PcrPoint(p.at, p.result, p.value, p.lower_limit, p.specimen)


def _load(p: CmvPcr) -> float:
    """IU/mL for the log10 arithmetic: the value, or the assay limit when not quantified."""
    return p.value if p.result == "detected" and p.value else p.lower_limit


def _last_run_start(st: CourseState) -> datetime | None:
    for i in range(len(st.periods) - 1, -1, -1):
        if st.periods[i].phase in INDUCTION_PHASES:
            return induction_run(st.periods, i)[0].start
    return st.periods[0].start if st.periods else None


def response(
    st: CourseState, orders: Sequence[OrderCheck]
) -> tuple[Response, list[Finding]]:
    k = st.knowledge
    start = _last_run_start(st)
    genes = _genes(st)
    if start is None or not st.pcrs:
        text = "no therapy recorded" if start is None else "no blood CMV PCR recorded"
        return Response("no_data", None, None, None, None, True, (), text), []
    before = [p for p in st.pcrs if p.at <= start]
    baseline = before[-1] if before else next((p for p in st.pcrs if p.at >= start), None)
    latest = st.pcrs[-1]
    underdosed = [o.ordered.drug for o in orders if o.verdict == "redose" and o.direction == "lower"]
    adequate = not underdosed
    if baseline is None or baseline.result == "not_detected":
        return Response(
            "no_data", None, _point(latest), None, None, adequate, (),
            "no detectable baseline viral load",
        ), []  # fmt: skip
    change = round(math.log10(_load(latest)) - math.log10(_load(baseline)), 3)
    days = math.floor((latest.at - start) / DAY)
    min_days = k.number("refractory_min_days")
    rise = k.number("refractory_log10_rise")
    unchanged = k.number("viral_load_unchanged_log10")
    kind: ResponseClass
    if latest.result == "not_detected":
        kind = "cleared"
    elif latest is baseline or days < min_days:
        kind = "too_early"
    elif change > rise:
        kind = "refractory"
    elif change >= -unchanged:
        kind = "probable_refractory"
    else:
        kind = "responding"
    if kind in ("refractory", "probable_refractory") and not adequate:
        kind = "check_dosing"
    text = (
        f"{_describe(latest)} on day {days} vs baseline {_describe(baseline)}: "
        f"{change:+.2f} log10"
    )
    result = Response(
        kind, _point(baseline), _point(latest), change, days, adequate,
        genes if kind in ("refractory", "probable_refractory") else (), text,
    )  # fmt: skip
    return result, _response_findings(st, result, underdosed)


def _describe(p: CmvPcr) -> str:
    if p.result == "not_detected":
        return f"not detected (< {p.lower_limit:g} IU/mL)"
    if p.result == "detected_below_lloq" or not p.value:
        return f"detected < {p.lower_limit:g} IU/mL"
    return f"{p.value:g} IU/mL"


def _response_findings(st: CourseState, r: Response, underdosed: list[str]) -> list[Finding]:
    k = st.knowledge
    names = ("refractory_min_days", "refractory_log10_rise", "viral_load_unchanged_log10")
    cite = param_cite(k, *names)
    if r.classification == "check_dosing":
        return [
            finding(
                k, "CRS-RESPONSE-CHECK-DOSING",
                f"{r.text}, but {', '.join(underdosed)} is below the label dose for today's renal "
                "function: re-dose first, then re-assess the viral load weekly.",
                cite=cite,
            )  # fmt: skip
        ]
    rule = {
        "refractory": "CRS-RESPONSE-REFRACTORY",
        "probable_refractory": "CRS-RESPONSE-PROBABLE-REFRACTORY",
    }.get(r.classification)
    if rule is None:
        return []
    g = k.course.genotype if k.course else None
    return [
        finding(k, rule, f"{r.text} after ≥ {k.number('refractory_min_days'):g} days of therapy.", cite=cite),
        finding(
            k, "CRS-GENOTYPE",
            f"send genotypic resistance testing: {' + '.join(r.genotype_genes)} "
            "(genotyping may fail at low viral loads).",
            cite=g.cite if g else (),
        ),  # fmt: skip
    ]


def _genes(st: CourseState) -> tuple[str, ...]:
    g = st.knowledge.course.genotype if st.knowledge.course else None
    if g is None:
        return ()
    ordered = {d for p in st.periods for d in p.drugs}
    meds = st.facts.medications
    genes = list(g.genes)
    if "letermovir" in ordered or "letermovir" in meds:
        genes.extend(g.after_letermovir)
    if "maribavir" in ordered or "maribavir" in meds:
        genes.extend(g.after_maribavir)
    return tuple(dict.fromkeys(genes))


# --- known resistance -----------------------------------------------------------------


def resistance(st: CourseState) -> list[Finding]:
    k = st.knowledge
    current = st.current
    active = current.drugs if current is not None and current.phase != "stopped" else frozenset()
    out: list[Finding] = []
    for m in sorted(st.case.resistance_mutations, key=lambda m: (m.gene.value, m.mutation)):
        rule = rule_for(m, k)
        based_on = (rule.id,) if rule else ()
        cite = rule.cite if rule else ()
        out.append(finding(k, "CRS-RESISTANCE-KNOWN", describe(m, k), based_on=based_on, cite=cite))
        for drug in sorted(drugs_affected(m, k) & active):
            out.append(
                finding(
                    k, "CRS-RESISTANCE-ACTIVE-DRUG",
                    f"{drug} is active but {m.gene.value} {m.mutation} confers resistance to it: "
                    "change therapy (specialist review).",
                    based_on=based_on, cite=cite, drug=drug,
                )  # fmt: skip
            )
    return out

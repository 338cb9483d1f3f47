"""Are the active orders still right for today's renal function? If not, the new order.

Each active order is recomputed with ``dosing.dose_for`` on today's situation. Within
``course_dose_match_tolerance`` of the label dose at the same interval it is still right;
otherwise the re-dosed order is given with the change and its reason (the band it was
written in and the band today). Cidofovir after a creatinine rise in the label's reduce range is
checked against the label's reduced dose.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime
from typing import Literal

from cmvrx.engine.course.state import (
    INDUCTION_PHASES,
    CourseState,
    build_state,
    finding,
    param_cite,
)
from cmvrx.engine.course.toxicity import cidofovir_rule
from cmvrx.engine.dosing import dose_for
from cmvrx.engine.order_check import judge_dose
from cmvrx.errors import InputError
from cmvrx.knowledge.schema import Interval as LabelInterval
from cmvrx.model.assessment import Finding, OrderCheck, OrderedDose
from cmvrx.model.course import DrugOrder
from cmvrx.model.dosage import Dosage, Interval
from cmvrx.model.plan import DrugDose
from cmvrx.order_input import parse_every


def dosing_phase(phase: str) -> str:
    return "induction" if phase in INDUCTION_PHASES else "maintenance"


def per_week(interval: str) -> float | None:
    """Administrations per week of a label interval, None if not a label wording."""
    try:
        return LabelInterval(interval.strip().lower()).administrations_per_week
    except ValueError:
        return None


def check_orders(st: CourseState) -> tuple[tuple[OrderCheck, ...], list[Finding]]:
    current = st.current
    if current is None or current.phase == "stopped":
        return (), []
    checks: list[OrderCheck] = []
    findings: list[Finding] = []
    for order in current.orders:
        check = _check(st, order, current.start, dosing_phase(current.phase))
        checks.append(check)
        f = _finding(st, check)
        if f is not None:
            findings.append(f)
    return tuple(checks), findings


def _check(st: CourseState, order: DrugOrder, at: datetime, phase: str) -> OrderCheck:
    ordered = OrderedDose(order.drug.value, order.dose_mg, order.interval, order.route, at)
    drug = order.drug.value
    if drug not in st.knowledge.vocabulary("renally_dosed"):
        return OrderCheck(
            ordered, "not_checked", None, "", "no renal dose adjustment to check", "", "", ()
        )
    # One rule for the ongoing order and the oral step-down: blood counts missing or older
    # than their limit leave a ganciclovir-class order unverifiable. A cytopenia is the
    # toxicity finding's to report (hold, G-CSF, switch), so the renal check goes on.
    dose = dose_for(st.situation, drug, phase)
    if dose.rule_id.endswith("#blood-counts") and dose.status == "not_recommended":
        dose = dose_for(st.situation, drug, phase, check_counts=False)
    if drug == "cidofovir" and dose.status == "dose":
        if cidofovir_rule(st) == "CRS-TOX-CIDOFOVIR-STOP":  # the toxicity finding says why
            rule = st.knowledge.course_rule("CRS-TOX-CIDOFOVIR-STOP")
            return OrderCheck(
                ordered, "stop", dose, "stop cidofovir", rule.title, "", rule.id, rule.cite
            )
        dose = _cidofovir_adjusted(st, dose)
    base = OrderCheck(ordered, "ok", dose, "", "", "", dose.rule_id, dose.cite)
    if dose.status == "not_recommended":
        return replace(base, verdict="stop", change=f"stop {drug}", reason=_why_not(dose))
    if dose.status == "no_label_dose":
        return replace(base, verdict="no_label_dose", reason=dose.reason)
    if dose.status == "insufficient_data":
        return replace(base, verdict="unverifiable", reason=f"measure {dose.measure}")
    expected = dose.practical_mg if dose.practical_mg is not None else dose.dose_mg
    assert expected is not None  # a 'dose' status always has an amount
    # the one order judgement of cmvrx (engine/order_check.py), at the course's tolerance
    judgement = judge_dose(
        st.knowledge,
        course_dosage(order),
        dose,
        weight_kg=dose.weight_kg if dose.weight_kg is not None else st.situation.renal.weight_kg,
        tolerance="course",
    )
    if judgement.verdict == "ok":
        return base
    direction: Literal["higher", "lower"] = "higher" if judgement.direction == "higher" else "lower"
    change = f"{drug} {order.dose_mg:g} mg {order.interval} → {expected:g} mg {dose.interval}"
    return replace(
        base,
        verdict="redose",
        change=change,
        reason=_reason(st, order, at, phase, dose, direction),
        direction=direction,
    )


def course_dosage(order: DrugOrder) -> Dosage:
    """A course order as a structured dosage (an interval that is not a label wording
    never equals a label interval)."""
    interval = Interval.parse_label(order.interval) or _unknown_interval(order.interval)
    route = (order.route or "").lower()
    return Dosage(order.drug.value, route, interval, amount_mg=order.dose_mg)


def _unknown_interval(text: str) -> Interval:
    try:
        return parse_every(text)
    except InputError:
        return Interval(math.nan, None, False, text)


def _cidofovir_adjusted(st: CourseState, dose: DrugDose) -> DrugDose:
    """The label's reduced dose (``cidofovir_reduced_dose``) after a creatinine rise in the
    reduce range (``cidofovir_scr_rise_reduce`` up to ``cidofovir_scr_rise_stop``)."""
    if cidofovir_rule(st) != "CRS-TOX-CIDOFOVIR-REDUCE" or dose.weight_kg is None:
        return dose
    k = st.knowledge
    per_kg = k.number("cidofovir_reduced_dose")
    mg = round(per_kg * dose.weight_kg, 1)
    return replace(
        dose,
        dose_per_kg=per_kg,
        dose_mg=mg,
        practical_mg=mg,
        rounding="reduced dose after a creatinine rise (label): not rounded",
        rule_id=f"{dose.rule_id}#reduced-after-creatinine-rise",
        cite=tuple(dict.fromkeys((*dose.cite, *param_cite(k, "cidofovir_reduced_dose")))),
    )


def _why_not(dose: DrugDose) -> str:
    parts = [dose.reason or "not recommended"]
    if dose.renal_basis:
        parts.append(dose.renal_basis)
    if dose.instead:
        parts.append(f"instead: {dose.instead}")
    return "; ".join(parts)


def _reason(
    st: CourseState, order: DrugOrder, at: datetime, phase: str, today: DrugDose, direction: str
) -> str:
    """Why the order is wrong now: the band moved since it was written, or it never fit."""
    then_state = build_state(st.course, st.knowledge, at, timeline=st.events)
    then = dose_for(then_state.situation, order.drug.value, phase, check_counts=False)
    now = _band_text(today)
    if then.status == "dose" and then.band and then.band != today.band:
        return (
            f"renal function moved into another band: {_band_text(then)} when ordered → "
            f"{now} today; the order is {direction} than the label dose"
        )
    if today.rule_id.endswith("#reduced-after-creatinine-rise"):
        k = st.knowledge
        return (
            f"cidofovir: creatinine ≥ {k.number('cidofovir_scr_rise_reduce'):g} and < "
            f"{k.number('cidofovir_scr_rise_stop'):g} mg/dL above baseline; label: reduce to "
            f"{k.number('cidofovir_reduced_dose'):g} mg/kg"
        )
    return f"the order does not match the label dose for {now}; it is {direction}"


def _band_text(dose: DrugDose) -> str:
    """'> 1 and ≤ 1.4 mL/min/kg (CrCl 1.047 mL/min/kg)' — the band and today's value."""
    value = dose.renal_basis.split(" (")[0]
    if dose.band and value:
        return f"{dose.band} ({value})"
    return dose.band or value or "today's renal function"


def _finding(st: CourseState, check: OrderCheck) -> Finding | None:
    k = st.knowledge
    drug = check.ordered.drug
    dose = check.recommended
    based_on = (check.rule_id,) if check.rule_id else ()
    if check.verdict == "redose" and dose is not None:
        message = (
            f"Re-dose {drug}: {check.change} ({dose.dose_per_kg:g} mg/kg) — {check.reason}."
            if dose.dose_per_kg is not None
            else f"Re-dose {drug}: {check.change} — {check.reason}."
        )
        return finding(
            k, "CRS-ORDER-REDOSE", message, based_on=based_on, cite=check.cite, drug=drug
        )
    if check.verdict == "stop" and not check.rule_id.startswith("CRS-"):
        return finding(
            k,
            "CRS-ORDER-STOP",
            f"Stop {drug}: {check.reason}.",
            based_on=based_on,
            cite=check.cite,
            drug=drug,
        )
    if check.verdict == "no_label_dose":
        return finding(
            k,
            "CRS-ORDER-NO-LABEL-DOSE",
            f"{drug}: {check.reason}.",
            based_on=based_on,
            cite=check.cite,
            drug=drug,
        )
    if check.verdict == "unverifiable":
        return finding(
            k,
            "CRS-ORDER-UNVERIFIABLE",
            f"{drug} {check.ordered.dose_mg:g} mg {check.ordered.interval} cannot be checked: "
            f"{check.reason}.",
            based_on=based_on,
            cite=check.cite,
            drug=drug,
        )
    return None

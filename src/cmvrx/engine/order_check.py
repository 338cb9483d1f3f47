"""Is this proposed order right for this patient today, and if not, what is? — the one
order judgement of cmvrx (``cmvrx.check_order``, and the course's active-order re-checks
through ``judge_dose``).

An order is judged with every rule the plan applies to its drug — route, resistance, the
refusals (letermovir for treatment, maribavir for CNS disease or without refractory
disease, valganciclovir on hemodialysis ...), blood counts, renal band, dialysis — and
then its arithmetic against the label dose of the phase and label column it fits:
amount per administration (mg, or mg/kg × weight) within the plan's rounding step,
interval, mg vs mg/kg confusion, a daily total given as one dose, the daily maximum and
the infusion rate. Orders checked together are also checked for duplicate therapy,
forbidden combinations (orders.toml) and a CNS combination missing its partner.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any, Literal, TypeVar

from cmvrx._version import __version__
from cmvrx.engine import plan_items
from cmvrx.engine.dosing import column_of, dose_for
from cmvrx.engine.predicates import PREDICATES, Situation, holds
from cmvrx.errors import InputError
from cmvrx.frozen import fast_init
from cmvrx.knowledge.bundle import Knowledge
from cmvrx.knowledge.schema import Drug
from cmvrx.model.dosage import Dosage, Interval, from_drug_dose, infusion_of
from cmvrx.model.order_check import (
    VERDICT_RANK,
    OrderCheck,
    OrderFinding,
    OrderResult,
    Verdict,
)
from cmvrx.model.patient import Case
from cmvrx.model.plan import DrugDose, Refused

Tolerance = Literal["rounding", "course"]
T = TypeVar("T")
_DISPLAY_MG = 0.05  # doses are shown to 0.1 mg: half of it is "the same amount"


@fast_init
@dataclass(frozen=True, slots=True)
class Judgement:
    """An order's arithmetic against one label dose."""

    verdict: Verdict
    findings: tuple[OrderFinding, ...]
    corrected: Dosage | None
    direction: Literal["", "higher", "lower"]


@fast_init
@dataclass(frozen=True, slots=True)
class _Context:
    s: Situation
    refused: Mapping[str, Refused]
    many: bool


def check_orders(s: Situation, orders: Sequence[Dosage]) -> tuple[OrderResult, ...]:
    """Each order's judgement, then the set's (duplicates, combinations, CNS partner).
    ``s`` is the planned situation (regimen drugs set: ``planned_situation``)."""
    ctx = _Context(s, _refusals(s), len(orders) > 1)
    results = [judge_order(ctx, order) for order in orders]
    if len(results) > 1:
        results = _together(ctx, results)
    return tuple(_cns_partner(ctx, results))


def _refusals(s: Situation) -> dict[str, Refused]:
    out: dict[str, Refused] = {}
    for applies, item in plan_items.refusals(s.knowledge):
        if item.drug not in out and applies(s):
            out[item.drug] = item
    return out


def judge_order(ctx: _Context, order: Dosage) -> OrderResult:
    """One order: route, resistance, refusals, counts, renal band, then arithmetic."""
    s, k = ctx.s, ctx.s.knowledge
    drug = k.drugs.get(order.drug)
    if drug is None:
        raise InputError(f"unknown drug {order.drug!r}", field="drug")
    routes = {"IV": ("iv",), "oral": ("oral",)}.get(drug.administration.route, ("iv", "oral"))
    if order.route not in routes:
        f = _finding(
            k,
            "ORD-ROUTE",
            order,
            f"{drug.name} is given {' or '.join(routes)} only, not {order.route}",
            {"route": order.route},
        )
        return OrderResult(order.order_id, order, "not_recommended", (f,), None, order.phase, None)
    if order.drug in s.resistant_to:
        return _resistant(s, order)
    phase, column, label = _choose(ctx, order, _candidates(s, drug, order.phase))
    findings: list[OrderFinding] = []
    if order.phase is None:
        findings.append(
            _finding(
                k,
                "ORD-PHASE-ASSUMED",
                order,
                f"no phase given: judged as {phase}"
                + (f" (label column {column})" if column not in ("standard", None) else ""),
                {"phase": phase, "column": column},
            )
        )
    refusal = _refusal_for(ctx, order.drug, phase)
    if refusal is not None:
        findings.append(
            OrderFinding(
                "critical",
                refusal.rule_id,
                f"{drug.name} is not recommended: {refusal.reason} Instead: {refusal.instead}",
                refusal.cite,
                {"phase": phase},
                order.order_id,
            )
        )
        return _result(order, "not_recommended", findings, None, phase, column, label)
    if label.status != "dose":
        verdict, f = _no_dose(order, label)
        findings.append(f)
        return _result(order, verdict, findings, None, phase, column, label)
    unusable = _unusable(s, order)
    if unusable is not None:
        findings.append(unusable)
        return _result(order, "not_recommended", findings, None, phase, column, label)
    findings.extend(_advice(ctx, order, drug, phase))
    weight = s.renal.weight_kg
    dosage = from_drug_dose(label)  # once: the corrected order and the label text share it
    j = judge_dose(k, order, label, weight_kg=weight, tolerance="rounding", label_dosage=dosage)
    findings.extend(j.findings)
    return _result(order, j.verdict, findings, j.corrected, phase, column, label, dosage)


def _result(
    order: Dosage,
    verdict: Verdict,
    findings: list[OrderFinding],
    corrected: Dosage | None,
    phase: str,
    column: str,
    label: DrugDose,
    label_dosage: Dosage | None = None,
) -> OrderResult:
    text = label_dosage.text if label_dosage is not None else _label_text(label)
    return OrderResult(
        order.order_id, order, verdict, tuple(findings), corrected, phase, column, text
    )


def _label_text(label: DrugDose) -> str:
    if label.status != "dose":
        return f"{label.status}: {label.reason}".strip()
    dosage = from_drug_dose(label)
    return dosage.text if dosage else ""


def _resistant(s: Situation, order: Dosage) -> OrderResult:
    k = s.knowledge
    mutations = [f"{m.gene.value} {m.mutation}" for m in s.facts.case.resistance_mutations]
    cite = tuple(
        dict.fromkeys(c for r in k.resistance if order.drug in r.resistant_to for c in r.cite)
    )
    f = _finding(
        k,
        "ORD-RESISTANCE",
        order,
        f"{order.drug}: resistance reported ({', '.join(mutations)}): do not use",
        {"mutations": mutations},
        cite,
    )
    return OrderResult(order.order_id, order, "not_recommended", (f,), None, order.phase, None)


def _candidates(s: Situation, drug: Drug, phase: str | None) -> list[tuple[str, str]]:
    """(phase, label column) pairs the order may mean: the patient's column first."""
    phases = s.knowledge.derived(("phases", drug.id), lambda _k: _phases(drug))
    if phase is not None:
        if phase not in phases:
            raise InputError(
                f"{drug.id} has no {phase!r} dose in the knowledge (phases: {', '.join(phases)})",
                field="phase",
            )
        phases = (phase,)
    out: list[tuple[str, str]] = []
    case = s.facts.case
    for ph in phases:
        own = column_of(case, s.pediatric, drug.id, ph)
        out.append((ph, own))
        if drug.id == "foscarnet" and not s.pediatric:
            out.extend(
                (ph, sch.column)
                for sch in drug.schedule
                if sch.phase == ph and sch.column not in (own, "pediatric", "standard")
            )
    return out


def _phases(drug: Drug) -> tuple[str, ...]:
    return tuple(dict.fromkeys(sch.phase for sch in drug.schedule))


def _label(s: Situation, drug: str, phase: str, column: str) -> DrugDose:
    """The label dose of ``drug`` in ``phase`` from label ``column`` for this patient."""
    case = s.facts.case
    if column_of(case, s.pediatric, drug, phase) != column:
        key = f"foscarnet_{phase}_column"
        facts = replace(s.facts, case=case.model_copy(update={key: column}))
        s = replace(s, facts=facts)
    return dose_for(s, drug, phase)


def _choose(
    ctx: _Context, order: Dosage, candidates: list[tuple[str, str]]
) -> tuple[str, str, DrugDose]:
    """The reading of the order that fits: one it matches (ok); else one whose daily total
    it is; else one with its interval; else the first (the patient's own column). The
    label doses are computed in that order, and only as far as needed: an order that
    matches its first reading costs one dose."""
    k = ctx.s.knowledge
    weight = ctx.s.renal.weight_kg
    labels: list[tuple[str, str, DrugDose]] = []
    for phase, column in candidates:
        c = (phase, column, _label(ctx.s, order.drug, phase, column))
        if (
            c[2].status == "dose"
            and _refusal_for(ctx, order.drug, phase) is None
            and _fits(k, order, c[2], weight)
        ):
            return c
        labels.append(c)
    mg = _ordered_mg(order, k.drug(order.drug), weight)
    for c in labels:
        interval = _label_interval(c[2])
        if mg is not None and interval is not None and _daily_as_single(mg, order, c[2], interval):
            return c
    for c in labels:
        if (
            c[2].status == "dose"
            and mg is not None
            and _close(mg, _label_mg(c[2]), c[2].dose_mg, None, "rounding")
        ):
            return c
    same_interval = [
        c for c in labels if c[2].status == "dose" and _label_interval(c[2]) == order.interval
    ]
    if same_interval and mg is not None and mg > 0:
        # several phases share the interval (hemodialysis): the one nearest in amount
        return min(same_interval, key=lambda c: abs(math.log(mg / _label_mg(c[2]))))
    if same_interval:
        return same_interval[0]
    return labels[0]


def _fits(k: Knowledge, order: Dosage, label: DrugDose, weight: float) -> bool:
    """Does the order match ``label`` (same interval, same amount)? A quick test first;
    an order stating its infusion time is judged in full."""
    if order.infusion_minutes is not None:
        return judge_dose(k, order, label, weight_kg=weight, tolerance="rounding").verdict == "ok"
    drug = k.drug(order.drug)
    if order.amount_mg_per_kg is not None and drug.dose_unit != "mg/kg":
        return False
    mg = _ordered_mg(order, drug, weight)
    if mg is None or _label_interval(label) != order.interval:
        return False
    return _close(mg, _label_mg(label), label.dose_mg, _rounding_step(drug, label), "rounding")


def _refusal_for(ctx: _Context, drug: str, phase: str) -> Refused | None:
    """The refusal of ``drug`` in ``phase``: none for a maintenance option the plan offers
    (looked at only for a refused drug: the options' rules are not read otherwise)."""
    refusal = ctx.refused.get(drug)
    if refusal is None or (phase == "maintenance" and drug in _maintenance_options(ctx.s)):
        return None
    return refusal


def _maintenance_options(s: Situation) -> frozenset[str]:
    return frozenset(o.drug for o in s.knowledge.maintenance.option if holds(s, (), o.unless))


def _unusable(s: Situation, order: Dosage) -> OrderFinding | None:
    """The orders.toml rule that makes the drug unusable for this patient, if any."""
    for u in s.knowledge.orders.unusable if s.knowledge.orders else ():
        if order.drug in u.drugs and holds(s, u.when):
            detail = _unusable_detail(s, order.drug)
            return OrderFinding(
                "critical",
                u.id,
                f"{order.drug}: {u.reason}" + (f": {detail}" if detail else ""),
                u.cite,
                {"problems": detail},
                order.order_id,
            )
    return None


def _unusable_detail(s: Situation, drug: str) -> str:
    if drug == "cidofovir":
        return "; ".join(s.cidofovir_problems)
    problems = []
    intolerance = s.facts.case.intolerance
    name = "ganciclovir" if drug == "valganciclovir" else drug
    if getattr(intolerance, name, False):
        problems.append(f"{name} intolerance")
    if name == "ganciclovir":
        problems.extend(s.cytopenias)
    if name == "foscarnet" and s.foscarnet_renal_refusal:
        problems.append("CrCl < 0.4 mL/min/kg or hemodialysis (label)")
    return "; ".join(problems)


def _no_dose(order: Dosage, label: DrugDose) -> tuple[Verdict, OrderFinding]:
    if label.status == "insufficient_data":
        message = f"{order.drug}: cannot be checked: measure {label.measure or label.reason}"
        verdict: Verdict = "insufficient_data"
        severity: Literal["warning", "critical"] = "warning"
    else:
        why = label.reason or "not recommended"
        instead = f" Instead: {label.instead}." if label.instead else ""
        basis = f" ({label.renal_basis})" if label.renal_basis else ""
        message = f"{order.drug}: {why}{basis}.{instead}"
        verdict, severity = "not_recommended", "critical"
    data = {"renal": label.renal_basis, "band": label.band, "status": label.status}
    return verdict, OrderFinding(severity, label.rule_id, message, label.cite, data, order.order_id)


def _advice(ctx: _Context, order: Dosage, drug: Drug, phase: str) -> list[OrderFinding]:
    """Warnings that do not change the dose: regimen fit, current-medication interactions,
    a CNS combination ordered alone."""
    s, k = ctx.s, ctx.s.knowledge
    out: list[OrderFinding] = []
    if phase == "induction" and s.regimen_chosen and order.drug not in s.regimen_drugs:
        drugs = ", ".join(sorted(s.regimen_drugs)) or "none"
        out.append(
            _finding(
                k,
                "ORD-REGIMEN-FIT",
                order,
                f"{drug.name} is not in the regimen chosen for this patient ({drugs})",
                {"regimen_drugs": sorted(s.regimen_drugs), "sites": sorted(s.sites)},
            )
        )
    for combo in _combinations(k, "forbidden"):
        if order.drug in combo.drugs:
            current = sorted(s.facts.medications & (set(combo.drugs) - {order.drug}))
            if current:
                out.append(
                    _finding(
                        k,
                        "ORD-INTERACTION-CURRENT",
                        order,
                        f"the patient takes {', '.join(current)}: {combo.reason}; stop it first",
                        {"medications": current},
                        combo.cite,
                    )
                )
    return out


def _combinations(k: Knowledge, kind: str) -> list[Any]:
    return [c for c in (k.orders.combination if k.orders else ()) if c.kind == kind]


# --- the arithmetic ---------------------------------------------------------------------


def judge_dose(
    k: Knowledge,
    order: Dosage,
    label: DrugDose,
    *,
    weight_kg: float,
    tolerance: Tolerance,
    label_dosage: Dosage | None = None,
) -> Judgement:
    """``order`` against ``label`` (a ``dose``): amount, interval, mg vs mg/kg, daily total
    as one dose, daily maximum, infusion rate. ``tolerance``: the plan's rounding step
    (a draft order) or ``course_dose_match_tolerance`` (an active course order).
    ``label_dosage``: ``from_drug_dose(label)`` when the caller has it already."""
    drug = k.drug(order.drug)
    per_kg_drug = drug.dose_unit == "mg/kg"
    label_mg = _label_mg(label)
    label_interval = _label_interval(label)
    step = _rounding_step(drug, label)
    frac = k.number("course_dose_match_tolerance") if tolerance == "course" else None
    mg = _ordered_mg(order, drug, weight_kg)
    data: dict[str, Any] = {
        "weight_kg": weight_kg,
        "renal": label.renal_basis,
        "band": label.band,
        "label_mg": label_mg,
        "label_mg_per_kg": label.dose_per_kg,
        "label_interval": label.interval,
        "ordered_mg": None if mg is None else round(mg, 1),
        "ordered_interval": order.interval.text,
    }
    findings: list[OrderFinding] = []
    specific = False
    if order.amount_mg_per_kg is not None and not per_kg_drug:
        findings.append(
            _finding(
                k,
                "ORD-UNIT-CONFUSION",
                order,
                f"{drug.name} is dosed in mg, not mg/kg: {order.amount_mg_per_kg:g} mg/kg "
                f"ordered; label {label_mg:g} mg",
                data,
                label.cite,
            )
        )
        specific = True
    elif (
        per_kg_drug
        and order.amount_mg is not None
        and label.dose_per_kg is not None
        and _close(order.amount_mg, label.dose_per_kg, label.dose_per_kg, None, "rounding")
        and not _close(order.amount_mg, label_mg, label.dose_mg, step, tolerance, frac)
    ):
        findings.append(
            _finding(
                k,
                "ORD-UNIT-CONFUSION",
                order,
                f"{order.amount_mg:g} mg looks like the label's {label.dose_per_kg:g} mg/kg "
                f"written as mg: for {weight_kg:g} kg that is {label_mg:g} mg",
                data,
                label.cite,
            )
        )
        specific = True
    amount_ok = mg is not None and _close(mg, label_mg, label.dose_mg, step, tolerance, frac)
    interval_ok = label_interval is not None and order.interval == label_interval
    if (
        mg is not None
        and label_interval is not None
        and _daily_as_single(mg, order, label, label_interval)
    ):
        findings.append(
            _finding(
                k,
                "ORD-DAILY-AS-SINGLE",
                order,
                f"{mg:g} mg is the daily total ({label_mg:g} mg {label.interval}) "
                f"ordered as one administration {order.interval.text}",
                data,
                label.cite,
            )
        )
        specific = True
    max_day = _max_per_day(label, weight_kg if per_kg_drug else 1.0)
    if mg is not None and max_day is not None:
        ordered_day = mg * order.interval.per_day
        if ordered_day > max_day * (1 + (frac or 0.0) + 1e-9) + _DISPLAY_MG:
            findings.append(
                _finding(
                    k,
                    "ORD-MAX-DAILY",
                    order,
                    f"{ordered_day:g} mg/day ordered; label maximum {max_day:g} mg/day",
                    {**data, "ordered_mg_per_day": round(ordered_day, 1)},
                    label.cite,
                )
            )
    findings.extend(_infusion_findings(k, order, label, mg, weight_kg, data))
    direction: Literal["", "higher", "lower"] = ""
    if mg is not None and label_interval is not None:
        ordered_week = mg * order.interval.per_week
        label_week = label_mg * label_interval.per_week
        if not (amount_ok and interval_ok):
            direction = "higher" if ordered_week > label_week else "lower"
    if not amount_ok and not specific and mg is not None:
        rule = "ORD-DOSE-HIGH" if mg > label_mg else "ORD-DOSE-LOW"
        findings.append(
            _finding(
                k,
                rule,
                order,
                f"{mg:g} mg ordered; label {label_mg:g} mg"
                + (f" ({label.dose_per_kg:g} mg/kg × {weight_kg:g} kg)" if per_kg_drug else "")
                + (f" for {label.band}" if label.band else ""),
                data,
            )
        )
    if not interval_ok:
        findings.append(
            _finding(
                k,
                "ORD-INTERVAL",
                order,
                f"{order.interval.text} ordered; label {label.interval}"
                + (f" for {label.band}" if label.band else ""),
                data,
                label.cite,
            )
        )
    if any(f.severity != "info" for f in findings):
        corrected = label_dosage if label_dosage is not None else from_drug_dose(label)
        if corrected is not None:
            minutes = None
            if order.infusion_minutes is not None and corrected.infusion is not None:
                minutes = corrected.infusion.minutes
            corrected = _with(
                corrected, order_id=order.order_id, infusion_minutes=minutes, route=order.route
            )
        return Judgement("adjust", tuple(findings), corrected, direction)
    ok = _finding(
        k,
        "ORD-OK",
        order,
        f"matches the label dose {label_mg:g} mg {label.interval}"
        + (f" for {label.band}" if label.band else ""),
        data,
        label.cite,
    )
    return Judgement("ok", (*findings, ok), None, "")


def _infusion_findings(
    k: Knowledge,
    order: Dosage,
    label: DrugDose,
    mg: float | None,
    weight: float,
    data: dict[str, Any],
) -> list[OrderFinding]:
    minutes = order.infusion_minutes
    facts = label.administration
    if minutes is None or facts is None or mg is None:
        return []
    out: list[OrderFinding] = []
    rate = facts.max_rate_mg_per_kg_per_min
    if rate and weight > 0:
        fastest = mg / weight / rate
        if minutes + 1e-9 < fastest:
            out.append(
                _finding(
                    k,
                    "ORD-INFUSION-RATE",
                    order,
                    f"{mg:g} mg over {minutes:g} min is faster than {rate:g} mg/kg/min: "
                    f"at least {math.ceil(fastest)} min",
                    {**data, "infusion_minutes": minutes},
                    label.cite,
                )
            )
            return out
    least = facts.infusion_minutes_min or facts.infusion_minutes_default
    if least and minutes + 1e-9 < least:
        out.append(
            _finding(
                k,
                "ORD-INFUSION-RATE",
                order,
                f"infusion over {minutes:g} min; label: over at least {least:g} min",
                {**data, "infusion_minutes": minutes},
                label.cite,
            )
        )
    return out


def _daily_as_single(mg: float, order: Dosage, label: DrugDose, interval: Interval) -> bool:
    """The label's daily total ordered as fewer, bigger administrations (once daily)."""
    if interval.per_day <= 1 or order.interval.per_day >= interval.per_day:
        return False
    daily = _label_mg(label) * interval.per_day
    return _close(mg, daily, daily, None, "rounding")


def _ordered_mg(order: Dosage, drug: Drug, weight: float) -> float | None:
    if order.amount_mg is not None:
        return order.amount_mg
    if order.amount_mg_per_kg is not None and drug.dose_unit == "mg/kg":
        return order.amount_mg_per_kg * (order.weight_kg or weight)
    return None


def _label_mg(label: DrugDose) -> float:
    mg = label.practical_mg if label.practical_mg is not None else label.dose_mg
    assert mg is not None  # a 'dose' status always has an amount
    return mg


def _label_interval(label: DrugDose) -> Interval | None:
    return Interval.parse_label(label.interval) if label.status == "dose" else None


def _rounding_step(drug: Drug, label: DrugDose) -> float | None:
    if drug.pediatric_formula is not None and label.schedule_title.lower().find("pediatric") >= 0:
        return drug.pediatric_formula.rounding_step_mg
    return drug.rounding.step_mg if drug.rounding is not None else None


def _max_per_day(label: DrugDose, factor: float) -> float | None:
    if label.max_per_day is None:
        return None
    return label.max_per_day * factor


def _close(
    mg: float,
    practical: float,
    exact: float | None,
    step: float | None,
    tolerance: Tolerance,
    frac: float | None = None,
) -> bool:
    """Same amount: the plan's own figure, or what rounds to it (half a rounding step
    around the exact dose); for a course order, within ``frac`` of the label dose."""
    if abs(mg - practical) <= _DISPLAY_MG:
        return True
    if tolerance == "course" and frac is not None:
        return abs(mg - practical) <= frac * practical
    if exact is None:
        return False
    slack = step / 2 if step else _DISPLAY_MG
    return abs(mg - exact) <= slack + 1e-9


def _finding(
    k: Knowledge,
    rule_id: str,
    order: Dosage,
    message: str,
    data: Mapping[str, Any],
    cite: tuple[str, ...] = (),
) -> OrderFinding:
    rule = k.order_rule(rule_id)
    return OrderFinding(
        rule.severity,
        rule.id,
        message,
        tuple(dict.fromkeys((*rule.cite, *cite))),
        dict(data),
        order.order_id,
    )


# --- several orders together ------------------------------------------------------------


def _together(ctx: _Context, results: list[OrderResult]) -> list[OrderResult]:
    k = ctx.s.knowledge
    out = list(results)
    seen: dict[str, int] = {}
    for i, r in enumerate(out):
        drug = r.order.drug
        if drug in seen:
            f = _finding(
                k,
                "ORD-DUPLICATE",
                r.order,
                f"{drug} is already ordered (order {out[seen[drug]].order_id or seen[drug] + 1})",
                {"drugs": [drug]},
            )
            out[i] = _worse(out[i], "not_recommended", f)
        else:
            seen[drug] = i
    for combo in k.orders.combination if k.orders else ():
        present = [i for i, r in enumerate(out) if r.order.drug in combo.drugs]
        if len({out[i].order.drug for i in present}) < len(combo.drugs):
            continue
        if combo.kind == "duplicate":
            target = present[1:]
            rule = "ORD-DUPLICATE"
        else:
            target = [i for i in present if out[i].order.drug == combo.drugs[0]]
            rule = "ORD-FORBIDDEN-COMBINATION"
        for i in target:
            f = _finding(
                k,
                rule,
                out[i].order,
                f"{' + '.join(combo.drugs)}: {combo.reason}",
                {"drugs": list(combo.drugs)},
                combo.cite,
            )
            out[i] = _worse(out[i], "not_recommended", f)
    return out


def _missing(s: Situation, results: Sequence[OrderResult]) -> list[str]:
    """The CNS combination's drugs neither ordered for induction nor taken now, when the
    orders include one of them for induction."""
    if len(s.regimen_drugs) < 2 or not PREDICATES["cns_disease"](s):
        return []
    ordered = {r.order.drug for r in results if r.assumed_phase == "induction"}
    if not ordered & s.regimen_drugs:
        return []
    return sorted(s.regimen_drugs - ordered - s.facts.medications)


def _cns_partner(ctx: _Context, results: list[OrderResult]) -> list[OrderResult]:
    s, k = ctx.s, ctx.s.knowledge
    missing = _missing(s, results)
    if not missing:
        return results
    out = list(results)
    for i, r in enumerate(out):
        if r.order.drug not in s.regimen_drugs or r.assumed_phase != "induction":
            continue
        f = _finding(
            k,
            "ORD-CNS-PARTNER",
            r.order,
            f"CNS disease: {r.order.drug} is one half of the combination; "
            f"{', '.join(missing)} is neither ordered nor taken now (see 'add')",
            {"sites": sorted(s.sites), "missing": missing},
        )
        corrected = r.corrected
        if corrected is None and r.verdict == "ok":
            # the order itself is right: its corrected form is the label dosage it matched
            # (amount in mg and mg/kg, the weight used), for the contract's `corrected`
            column = r.assumed_column or column_of(
                s.facts.case, s.pediatric, r.order.drug, "induction"
            )
            label = from_drug_dose(_label(s, r.order.drug, "induction", column))
            corrected = r.order if label is None else _with(label, order_id=r.order.order_id)
        out[i] = _worse(r, "adjust", f, corrected)
    return out


def missing_partners(s: Situation, results: Sequence[OrderResult]) -> tuple[Dosage, ...]:
    """The label dosage of each CNS combination partner the orders lack."""
    out: list[Dosage] = []
    for drug in _missing(s, results):
        dosage = from_drug_dose(dose_for(s, drug, "induction"))
        if dosage is not None:
            out.append(dosage)
    return tuple(out)


def _worse(
    r: OrderResult, verdict: Verdict, f: OrderFinding, corrected: Dosage | None = None
) -> OrderResult:
    """``r`` with finding ``f`` and the worse of its verdict and ``verdict``; its corrected
    order (``corrected`` if given) kept only for ``adjust``."""
    worst = verdict if VERDICT_RANK[verdict] > VERDICT_RANK[r.verdict] else r.verdict
    findings = tuple(x for x in r.findings if x.rule_id != "ORD-OK")
    if corrected is None:
        corrected = r.corrected
    if worst != "adjust":
        corrected = None
    return _with(r, verdict=worst, findings=(*findings, f), corrected=corrected)


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _with(obj: T, **changes: Any) -> T:
    """``dataclasses.replace(obj, **changes)`` for the frozen value classes of this module
    (every field an ``__init__`` argument): the field names read once per class, and the
    class called positionally — replace() was a tenth of an order check."""
    cls = type(obj)
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls) if f.init)  # type: ignore[arg-type]
        if len(names) != len(fields(cls)):  # type: ignore[arg-type]
            raise TypeError(f"{cls.__name__} has fields outside __init__")
    if changes.keys() - names:
        raise TypeError(f"{cls.__name__} has no field(s) {sorted(changes.keys() - names)}")
    return cls(*[changes[n] if n in changes else getattr(obj, n) for n in names])


def overall(results: Sequence[OrderResult]) -> Verdict:
    verdict: Verdict = "ok"
    for r in results:
        if VERDICT_RANK[r.verdict] > VERDICT_RANK[verdict]:
            verdict = r.verdict
    return verdict


def infusion_for(dosage: Dosage, label: DrugDose) -> Dosage:
    """``dosage`` with the label's structured infusion for its amount."""
    facts = label.administration
    mg = dosage.per_dose_mg
    if facts is None or mg is None:
        return dosage
    return replace(dosage, infusion=infusion_of(facts, mg, dosage.amount_mg_per_kg))


def planned_situation(case: Case, k: Knowledge, as_of: datetime) -> Situation:
    """The patient's situation with the regimen the plan would choose (for the refusals
    and the regimen fit)."""
    from cmvrx.engine.intake import read_facts
    from cmvrx.engine.planner import choose_rule, planned, situation

    s = situation(read_facts(case, k, as_of), k)
    regimen, drugs, _ = plan_items.regimen_of(k, choose_rule(s))
    step_down = regimen is not None and regimen.step_down is not None
    return planned(s, drugs, regimen is not None, step_down)


def check(case: Case, k: Knowledge, as_of: datetime, orders: Sequence[Dosage]) -> OrderCheck:
    """``orders`` checked together for ``case`` at ``as_of``."""
    if not orders:
        raise InputError("no order to check", field="orders")
    s = planned_situation(case, k, as_of)
    filled = [_with_route(k, o) for o in orders]
    results = check_orders(s, filled)
    findings = tuple(f for r in results for f in r.findings)
    return OrderCheck(
        verdict=overall(results),
        results=results,
        findings=findings,
        add=missing_partners(s, results),
        as_of=as_of,
        cmvrx_version=__version__,
        knowledge_version=k.version,
        knowledge_hash=k.content_hash,
    )


def _with_route(k: Knowledge, order: Dosage) -> Dosage:
    """The order with its route: as written, or the drug's only route."""
    drug = k.drugs.get(order.drug)
    if drug is None:
        raise InputError(
            f"unknown drug {order.drug!r} (known: {', '.join(sorted(k.drugs))})", field="drug"
        )
    if order.route:
        return order
    route = drug.administration.route
    if route == "IV or oral":
        raise InputError(f"{drug.name} is given IV or orally: state the route", field="route")
    return _with(order, route="oral" if route == "oral" else "iv")

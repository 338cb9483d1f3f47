"""Assemble the plan for one patient at ``as_of``: pure, no I/O, no clock.

Order: facts → renal function → situation (resistance, cytopenias, eligibility) →
regimen rule → induction doses and step-down → refusals → maintenance → monitoring
→ alerts → the NOT CONFIRMED values used → provenance.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from cmvrx._version import __version__
from cmvrx.engine import plan_items
from cmvrx.engine import renal as renal_fn
from cmvrx.engine.body_size import body_size_parameters
from cmvrx.engine.dosing import column_of, dose_for, per_kg_renal_refusal
from cmvrx.engine.eligibility import cidofovir_checks, first_refusal
from cmvrx.engine.intake import Facts, read_facts
from cmvrx.engine.messages import alert_context, render
from cmvrx.engine.plan_items import CriteriaSection, GatedCriteria
from cmvrx.engine.predicates import PREDICATES, Situation, holds
from cmvrx.engine.resistance import resistant_drugs
from cmvrx.knowledge.bundle import Knowledge
from cmvrx.knowledge.schema import Regimen as RegimenDef
from cmvrx.knowledge.schema import RegimenRule
from cmvrx.knowledge.schema import StepDown as StepDownDef
from cmvrx.model import plan as p
from cmvrx.model.patient import Case


def make_plan(case: Case, k: Knowledge, as_of: datetime) -> p.Plan:
    """The complete, cited treatment plan for ``case`` at ``as_of``."""
    facts = read_facts(case, k, as_of)
    s = situation(facts, k)
    rule = choose_rule(s)
    regimen_def, drugs, cite = plan_items.regimen_of(k, rule)
    step_down_def = regimen_def.step_down if regimen_def else None
    s = planned(s, drugs, regimen_def is not None, step_down_def is not None)
    induction = (
        tuple(dose_for(s, c.drug, c.phase) for c in regimen_def.components) if regimen_def else ()
    )
    step_down = _step_down(s, step_down_def, rule.regimen or "") if step_down_def else None
    context = alert_context(s)  # once per plan: placeholders are costly
    maintenance = _maintenance(s, context)
    doses = (
        *induction,
        *maintenance.options,
        *((step_down.dose,) if step_down and step_down.dose else ()),
    )
    not_confirmed = _not_confirmed(s, doses, regimen_def)
    s = planned(s, drugs, regimen_def is not None, step_down_def is not None, bool(not_confirmed))
    regimen = p.Regimen(
        rule_id=rule.id,
        regimen_id=rule.regimen,
        title=regimen_def.title if regimen_def else "No regimen: specialist review",
        rationale=rule.rationale,
        induction=induction,
        duration=_duration_text(s, regimen_def) if regimen_def else "",
        duration_min_days=regimen_def.induction.min_days if regimen_def else None,
        duration_max_days=regimen_def.induction.max_days if regimen_def else None,
        step_down=step_down,
        then=regimen_def.then if regimen_def else "",
        cite=cite,
    )
    alerts = _alerts(s, context)
    cited = set(regimen.cite).union(*[item.cite for item in (*doses, *alerts)])
    titles = plan_items.source_titles(k)
    return p.Plan(
        case_id=case.case_id,
        provenance=p.Provenance(__version__, k.version, k.content_hash, as_of),
        patient=_patient_summary(s),
        renal=s.renal,
        regimen=regimen,
        refused=_refusals(s),
        maintenance=maintenance,
        monitoring=_monitoring(s),
        alerts=alerts,
        not_confirmed=not_confirmed,
        sources={cid: titles[cid] for cid in sorted(cited)},
    )


def situation(facts: Facts, k: Knowledge) -> Situation:
    """Everything the rules need to know about the patient, before a regimen is chosen."""
    pediatric = renal_fn.is_pediatric(facts, k)
    renal = renal_fn.assess(facts, k, pediatric)
    resistant_to = resistant_drugs(facts.case.resistance_mutations, k)
    column = column_of(facts.case, pediatric, "foscarnet", "induction")
    return Situation(
        facts=facts,
        renal=renal,
        knowledge=k,
        pediatric=pediatric,
        resistant_to=resistant_to,
        cytopenias=_cytopenias(facts, k),
        foscarnet_renal_refusal=per_kg_renal_refusal(k, renal, column),
        cidofovir_problems=_cidofovir_problems(facts, k, renal, resistant_to),
    )


def planned(
    s: Situation, drugs: frozenset[str], chosen: bool, step_down: bool, uses_nc: bool = False
) -> Situation:
    """``s`` with the regimen facts set: built directly, as dataclasses.replace() of this
    frozen dataclass cost more than the rules it feeds."""
    return Situation(
        facts=s.facts,
        renal=s.renal,
        knowledge=s.knowledge,
        pediatric=s.pediatric,
        resistant_to=s.resistant_to,
        cytopenias=s.cytopenias,
        foscarnet_renal_refusal=s.foscarnet_renal_refusal,
        cidofovir_problems=s.cidofovir_problems,
        regimen_drugs=drugs,
        step_down_offered=step_down,
        regimen_chosen=chosen,
        uses_not_confirmed=uses_nc,
    )


def choose_rule(s: Situation) -> RegimenRule:
    """The first regimen rule that holds (the knowledge's rules cover every case)."""
    for check, rule in plan_items.rule_checks(s.knowledge):
        if check(s):
            return rule
    raise ValueError("no regimen rule matched")  # unreachable: CNS and non-CNS both covered


_COUNT_LIMITS = (
    "numbers",
    "ganciclovir_min_anc",
    "ganciclovir_min_platelets",
    "ganciclovir_min_hemoglobin",
)


def _cytopenias(f: Facts, k: Knowledge) -> tuple[str, ...]:
    anc, platelets, hemoglobin = k.numbers_of(_COUNT_LIMITS)
    checks = (
        ("ANC", f.anc, anc, "cells/µL"),
        ("platelets", f.platelets, platelets, "cells/µL"),
        ("hemoglobin", f.hemoglobin, hemoglobin, "g/dL"),
    )
    out = []
    for name, reading, limit, unit in checks:
        if reading is not None and reading.value < limit:
            out.append(f"{name} {reading.value:g} {unit} < {limit:g}")
    return tuple(out)


def _cidofovir_problems(
    f: Facts, k: Knowledge, r: p.RenalFunction, resistant_to: frozenset[str]
) -> tuple[str, ...]:
    return tuple(problem.text for problem in cidofovir_checks(f, k, r, resistant_to))


def _step_down(s: Situation, d: StepDownDef, regimen_id: str) -> p.StepDown:
    refusal = first_refusal(s, d.drug)
    eligible = refusal is None and holds(s, d.requires)
    why = refusal.reason if refusal else ("" if eligible else _unmet(s, d.requires))
    dose = dose_for(s, d.drug, d.phase) if eligible else None
    return p.StepDown(
        drug=d.drug,
        after_improvement_days=f"{d.after_improvement_days_min}–{d.after_improvement_days_max}",
        eligible=eligible and dose is not None and dose.status == "dose",
        why_not=why or (dose.reason if dose and dose.status != "dose" else ""),
        dose=dose,
        rule_id=f"{regimen_id}.step_down",
        cite=d.cite,
    )


def _unmet(s: Situation, names: tuple[str, ...]) -> str:
    return "not met: " + ", ".join(n.replace("_", " ") for n in names if not PREDICATES[n](s))


def _duration_text(s: Situation, regimen: RegimenDef) -> str:
    """The regimen's duration, with the notes that apply to this patient (HIV GI disease)."""
    notes = [n.text for n in regimen.induction.note if holds(s, n.when)]
    return "; ".join((regimen.induction.text, *notes))


def _maintenance(s: Situation, context: Mapping[str, str]) -> p.Maintenance:
    k = s.knowledge
    options = tuple(
        [dose_for(s, drug, "maintenance") for drug, offered in plan_items.options(k) if offered(s)]
    )

    def crit(constant: CriteriaSection, gated: GatedCriteria) -> tuple[p.Criterion, ...]:
        if constant is not None:
            return constant
        return tuple(  # only the criteria that apply: no adult CD4 rules for young children
            item or p.Criterion(c.id, render(c.text, context), grade, c.cite)
            for check, c, grade, item in gated
            if check is None or check(s)
        )

    end, stop, restart, lifelong = plan_items.maintenance_criteria(k)
    return p.Maintenance(options, crit(*end), crit(*stop), crit(*restart), crit(*lifelong))


def _refusals(s: Situation) -> tuple[p.Refused, ...]:
    return tuple([item for applies, item in plan_items.refusals(s.knowledge) if applies(s)])


def _monitoring(s: Situation) -> tuple[p.MonitoringItem, ...]:
    return tuple([item for applies, item in plan_items.monitoring(s.knowledge) if applies(s)])


def _alerts(s: Situation, context: Mapping[str, str]) -> tuple[p.Alert, ...]:
    return tuple(
        [
            a.item or p.Alert(a.rule_id, a.severity, render(a.message, context), a.cite)
            for a in plan_items.alerts(s.knowledge)  # critical first, then warning, info
            if a.applies(s)
        ]
    )


def _not_confirmed(
    s: Situation, doses: tuple[p.DrugDose, ...], regimen: RegimenDef | None
) -> tuple[p.NotConfirmed, ...]:
    k = s.knowledge
    used: dict[str, p.NotConfirmed] = {}
    parameters = plan_items.parameter_entries(k)
    for name in _parameters_in_use(s):
        entry = parameters.get(name)
        if entry is None:
            k.param(name)  # a confirmed parameter; raises KnowledgeError for an unknown one
        else:
            used[name] = entry
    rounding = plan_items.rounding_entries(k)
    for dose in doses:
        for item in dose.not_confirmed:
            if item in rounding:
                used[item] = rounding[item]
            elif item in parameters:  # e.g. hydration_between_bands
                used[item] = parameters[item]
    if regimen is not None:
        for entry in plan_items.regimen_entries(k, regimen.id):
            used[entry.id] = entry
    return tuple(used.values())


def _parameters_in_use(s: Situation) -> tuple[str, ...]:
    """The NOT CONFIRMED-capable parameters that shaped this plan."""
    names = ["creatinine_max_age_hours", "blood_count_max_age_hours", "rounding_tolerance_percent"]
    names.extend(body_size_parameters(s.knowledge, s.facts.age_years, s.facts.height_cm))
    if s.renal.ideal_weight_kg is not None:
        names.append("obesity_ratio_to_ideal_weight")
    if s.renal.weight_basis == "adjusted":
        names.append("adjusted_body_weight_factor")
    if s.pediatric or s.facts.age_years < 21:
        names.extend(("pediatric_age_limit", "pediatric_full_dose_min_egfr"))
    if s.renal.dialysis == "intermittent_hemodialysis" and s.facts.measured_clearance is not None:
        names.append("hemodialysis_contradiction_crcl")
    if "foscarnet" in s.regimen_drugs:
        names.extend(
            (
                "foscarnet_low_potassium",
                "foscarnet_low_magnesium",
                "foscarnet_low_ionized_calcium",
                "foscarnet_low_phosphate",
            )
        )
    if s.facts.sex == "female" and PREDICATES["ganciclovir_class_in_plan"](s):
        names.extend(("pregnancy_relevant_min_age", "pregnancy_relevant_max_age"))
    hiv = s.facts.case.hiv
    if hiv is not None and hiv.status == "positive":
        names.append("hiv_maintenance_stop_cd4_upper")
    return tuple(names)


def _patient_summary(s: Situation) -> dict[str, object]:
    f = s.facts
    return {
        "age_years": round(f.age_years, 2),
        "sex": f.sex,
        "weight_kg": round(f.weight_kg, 2),
        "height_cm": round(f.height_cm, 1) if f.height_cm is not None else None,
        "pediatric": s.pediatric,
        "sites": sorted(s.sites),
        "resistant_to": sorted(s.resistant_to),
        "cytopenias": list(s.cytopenias),
        "cidofovir_problems": list(s.cidofovir_problems),
    }

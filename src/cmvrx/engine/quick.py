"""Quick single-drug dose calculation (``cmvrx dose``), through the same engine as plans.

The few numbers given are wrapped into a minimal case and go through the plan's own
steps: ``read_facts`` (plausibility, body size), ``planner.situation`` (renal function,
eligibility), the knowledge's refusal rules for the drug and its label eligibility
(``engine.eligibility``, shared with the plan), then ``dosing.dose_for``. So a quick dose
can never be given where the plan refuses the drug. What a quick calculation cannot know
(disease site, transplant, refractory status, resistance, intolerance, oral absorption,
blood counts) is listed in ``DrugDose.not_checked``: those checks were not made.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cmvrx.engine.dose_table import table
from cmvrx.engine.dosing import column_of, dose_for
from cmvrx.engine.eligibility import TriPredicate, cidofovir_checks, refusal_checks
from cmvrx.engine.intake import Facts, read_facts
from cmvrx.engine.pediatric import valganciclovir_prevention
from cmvrx.engine.predicates import Situation, maribavir_label_population
from cmvrx.errors import InputError, NotRecommendedError
from cmvrx.knowledge.bundle import Knowledge
from cmvrx.knowledge.schema import Refusal
from cmvrx.model.patient import Case
from cmvrx.model.plan import DrugDose

TREATMENT_PHASES = ("induction", "maintenance")
COUNTS_NOT_CHECKED = "Quick calculation: blood counts, resistance and regimen choice were not checked — use `cmvrx plan` for those."

#: Predicates a quick calculation can decide from its inputs (weight, age, sex, height,
#: creatinine, dialysis, medications, urine protein, birth weight). Every other predicate
#: is unknown here: a refusal rule that needs one is reported as not checked.
KNOWN_IN_QUICK = frozenset(
    {
        "any_disease",
        "pediatric",
        "adult",
        "may_become_pregnant",
        "on_calcineurin_or_mtor_inhibitor",
        "on_hemodialysis",
        "no_label_renal_dose",
        "renal_impairment",
        "obese",
        "letermovir_exposure",
        "maribavir_label_population",
    }
)

#: Predicates that are partly decidable: False when the known part already fails.
PARTIAL: Mapping[str, TriPredicate] = {
    "refractory_post_transplant": lambda s: None if maribavir_label_population(s) else False,
}

#: What input an unknown predicate needs, for the "not checked" list.
NEEDS = {
    "cns_disease": "disease site (CNS or not)",
    "non_cns_disease": "disease site (CNS or not)",
    "refractory_post_transplant": "transplant and refractory status",
    "cannot_absorb_oral": "whether the patient can take and absorb oral drugs",
    "can_absorb_oral": "whether the patient can take and absorb oral drugs",
}

#: Drug-level facts of a case that the quick inputs do not carry.
CIDOFOVIR_UNKNOWN = (
    "cidofovir intolerance, probenecid/sulfa hypersensitivity and resistance genotype",
    "other nephrotoxic agents (the label says to stop them before starting)",
)


def _case(fields: Mapping[str, Any], as_of: datetime) -> Case:
    renal: dict[str, Any] = {"dialysis": fields["dialysis"]}
    if fields["creatinine"] is not None:
        renal["serum_creatinine"] = {
            "value": fields["creatinine"],
            "unit": fields["creatinine_unit"],
            "measured_at": as_of,
        }
    protein, dipstick = fields.get("urine_protein_mg_dl"), fields.get("urine_dipstick")
    if protein is not None or dipstick is not None:
        renal["urine_protein"] = {
            "quantity": None if protein is None else {"value": protein, "unit": "mg/dL"},
            "dipstick": dipstick,
            "measured_at": as_of,
        }
    patient: dict[str, Any] = {
        "age": {"value": fields["age_years"], "unit": "a"},
        "sex": fields["sex"],
        "weight": {"value": fields["weight_kg"], "unit": "kg"},
        "low_birth_weight_for_gestational_age": fields.get("low_birth_weight"),
    }
    if fields["height_cm"] is not None:
        patient["height"] = {"value": fields["height_cm"], "unit": "cm"}
    data: dict[str, Any] = {
        "case_id": "quick-dose",
        "patient": patient,
        "renal": renal,
        "disease": {"sites": ["cmv_syndrome"]},
        "medications": list(fields["medications"]),
    }
    column = fields["column"]
    if column is not None:
        data[
            "foscarnet_induction_column"
            if column in ("60_q8h", "90_q12h")
            else "foscarnet_maintenance_column"
        ] = column
    from pydantic import ValidationError

    try:
        return Case.model_validate(data)
    except ValidationError as exc:
        from cmvrx.documents import input_error

        # a quantity's ``value`` is the command-line option itself: name the quantity
        raise input_error(exc, drop_last="value") from exc


def _check_column(k: Knowledge, drug: str, phase: str, column: str | None) -> None:
    """``--column`` must be one of this drug's columns for this phase."""
    if column is None:
        return
    columns = sorted({s.column for s in k.drug(drug).schedule if s.phase == phase})
    if column not in columns or column in ("standard", "pediatric"):
        fits = [c for c in columns if c not in ("standard", "pediatric")]
        raise InputError(
            f"column {column!r} does not apply to {drug} {phase}"
            + (f"; columns: {', '.join(fits)}" if fits else " (it has no choice of column)"),
            field="column",
        )


def quick_dose(
    k: Knowledge, drug: str, phase: str, as_of: datetime, fields: Mapping[str, Any]
) -> DrugDose:
    """One drug's dose for one phase from weight, age, sex and creatinine — or why not."""
    from cmvrx.engine.planner import situation

    if drug not in k.drugs:
        raise InputError(f"unknown drug {drug!r}; known: {', '.join(k.drugs)}", field="drug")
    facts = read_facts(_case(fields, as_of), k, as_of)
    phases = {s.phase for s in k.drug(drug).schedule}
    if drug == "valganciclovir" and phase == "prevention":
        _check_column(k, drug, phase, fields["column"])
        return _prevention(facts, k)
    if phase not in phases:
        unconditional = next(
            (r for r in k.refusals if r.drug == drug and not r.when and not r.unless), None
        )
        if unconditional is not None and phase in TREATMENT_PHASES:
            raise NotRecommendedError(
                unconditional.reason, rule_id=unconditional.id, cite=unconditional.cite
            )
        raise InputError(
            f"{drug} has no {phase!r} phase; known: {', '.join(sorted(phases))}", field="phase"
        )
    _check_column(k, drug, phase, fields["column"])
    s = dataclasses.replace(situation(facts, k), cytopenias=())
    refused, not_checked = _refusals(s, drug)
    if refused is not None:
        return _without_dose(
            s, drug, phase, not_checked, status="not_recommended", rule_id=refused.id,
            reason=refused.reason, instead=refused.instead, cite=refused.cite,
        )  # fmt: skip
    if drug == "cidofovir":
        blocked = _cidofovir(s, phase, not_checked)
        if blocked is not None:
            return blocked
        not_checked += CIDOFOVIR_UNKNOWN
    result = dose_for(s, drug, phase, check_counts=False)
    if drug in k.vocabulary("ganciclovir_class"):
        not_checked += ("blood counts (ANC, platelets, hemoglobin)",)
    return dataclasses.replace(
        result,
        note=" ".join(filter(None, (result.note, COUNTS_NOT_CHECKED))),
        not_checked=not_checked,
    )


def _refusals(s: Situation, drug: str) -> tuple[Refusal | None, tuple[str, ...]]:
    """The first refusal rule that applies, and those that could not be checked."""
    partial: dict[str, TriPredicate] = {
        name: (lambda _s: None) for name in _predicates_of(s.knowledge, drug)
    }
    for name in KNOWN_IN_QUICK:
        partial.pop(name, None)
    partial.update({n: f for n, f in PARTIAL.items() if n in partial})
    unchecked: list[str] = []
    for check in refusal_checks(s, drug, partial):
        if check.applies:
            return check.rule, tuple(unchecked)
        if check.applies is None:
            rule = check.rule
            needs = sorted(
                {NEEDS.get(n, n.replace("_", " ")) for n in (*rule.when, *rule.unless)
                 if n in partial}
            )  # fmt: skip
            unchecked.append(f"{rule.id} ({rule.reason}) — needs: {'; '.join(needs)}")
    return None, tuple(unchecked)


def _predicates_of(k: Knowledge, drug: str) -> set[str]:
    return {n for r in k.refusals if r.drug == drug for n in (*r.when, *r.unless)}


def _cidofovir(s: Situation, phase: str, not_checked: tuple[str, ...]) -> DrugDose | None:
    """Cidofovir's label eligibility, exactly as the plan applies it; None when eligible."""
    problems = cidofovir_checks(s.facts, s.knowledge, s.renal, s.resistant_to)
    contraindications = [p.text for p in problems if not p.measure]
    missing = [p for p in problems if p.measure]
    rule_id = "cidofovir.eligibility"
    cite = s.knowledge.drug("cidofovir").schedule[0].cite
    if contraindications:
        return _without_dose(
            s, "cidofovir", phase, not_checked, status="not_recommended", rule_id=rule_id,
            reason="contraindicated: " + "; ".join(contraindications), cite=cite,
            instead="specialist review",
        )  # fmt: skip
    if missing:
        measure = ", ".join(p.measure for p in missing)
        return _without_dose(
            s, "cidofovir", phase, not_checked, status="insufficient_data", rule_id=rule_id,
            reason="; ".join(p.text for p in missing), measure=measure, cite=cite,
        )  # fmt: skip
    return None


def _without_dose(
    s: Situation, drug: str, phase: str, not_checked: tuple[str, ...], **fields: Any
) -> DrugDose:
    """A DrugDose without a dose, carrying the schedule's description."""
    t = table(s.knowledge, drug, phase, column_of(s.facts.case, s.pediatric, drug, phase))
    return DrugDose(**{**t.base, **fields, "not_checked": not_checked})


def _prevention(facts: Facts, k: Knowledge) -> DrugDose:
    """Valganciclovir prevention: the label's pediatric formula — children only."""
    from cmvrx.engine.planner import situation

    formula = k.drug("valganciclovir").pediatric_formula
    s = situation(facts, k)
    if not s.pediatric or formula is None:
        raise InputError(
            "valganciclovir prevention is supported only for children, by the label's"
            " pediatric formula ("
            + (formula.note if formula else "not in the knowledge")
            + "). Adult prevention (prophylaxis) is not supported: cmvrx covers treatment"
            " of severe CMV disease — for an adult use --phase induction or maintenance.",
            field="phase",
        )
    refused, not_checked = _refusals(s, "valganciclovir")
    if refused is not None:
        raise NotRecommendedError(refused.reason, rule_id=refused.id, cite=refused.cite)
    if s.renal.dialysis != "none":
        raise NotRecommendedError(
            "the pediatric prevention formula has no dialysis dose: specialist review",
            rule_id="valganciclovir.pediatric_formula",
            cite=formula.cite,
        )
    result = valganciclovir_prevention(facts, k)
    return dataclasses.replace(
        result,
        not_checked=(
            *not_checked,
            "transplant type and days since transplant (see the label's start and duration)",
            "blood counts (ANC, platelets, hemoglobin)",
        ),
    )

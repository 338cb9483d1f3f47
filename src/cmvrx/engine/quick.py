"""Quick single-drug dose calculation (``cmvrx dose``), through the same engine as plans.

The few numbers given are wrapped into a minimal case and dosed by ``dosing.dose_for``,
so the quick answer can never differ from the plan's. Blood counts are not part of a
quick calculation: the result says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cmvrx.engine.dosing import dose_for
from cmvrx.engine.intake import read_facts
from cmvrx.engine.pediatric import valganciclovir_prevention
from cmvrx.errors import InputError, NotRecommendedError
from cmvrx.knowledge.bundle import Knowledge
from cmvrx.model.patient import Case
from cmvrx.model.plan import DrugDose

TREATMENT_PHASES = ("induction", "maintenance")
COUNTS_NOT_CHECKED = "Quick calculation: blood counts, resistance and regimen choice were not checked — use `cmvrx plan` for those."


def _case(fields: Mapping[str, Any], as_of: datetime) -> Case:
    renal: dict[str, Any] = {"dialysis": fields["dialysis"]}
    if fields["creatinine"] is not None:
        renal["serum_creatinine"] = {
            "value": fields["creatinine"],
            "unit": fields["creatinine_unit"],
            "measured_at": as_of,
        }
    patient: dict[str, Any] = {
        "age": {"value": fields["age_years"], "unit": "a"},
        "sex": fields["sex"],
        "weight": {"value": fields["weight_kg"], "unit": "kg"},
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

        raise input_error(exc) from exc


def quick_dose(
    k: Knowledge, drug: str, phase: str, as_of: datetime, fields: Mapping[str, Any]
) -> DrugDose:
    """One drug's dose for one phase from weight, age, sex and creatinine."""
    from cmvrx.engine.planner import situation

    if drug not in k.drugs:
        raise InputError(f"unknown drug {drug!r}; known: {', '.join(k.drugs)}", field="drug")
    facts = read_facts(_case(fields, as_of), k, as_of)
    if drug == "valganciclovir" and phase == "prevention":
        return valganciclovir_prevention(facts, k)
    phases = {s.phase for s in k.drug(drug).schedule}
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
    s = dataclasses.replace(situation(facts, k), cytopenias=())
    result = dose_for(s, drug, phase, check_counts=False)
    return dataclasses.replace(
        result, note=" ".join(filter(None, (result.note, COUNTS_NOT_CHECKED)))
    )

"""Pediatric label formulas: valganciclovir prevention dose = 7 × BSA × CrCl.

CrCl here is the label's own Schwartz with the old age/sex k (capped at 150), not the
bedside Schwartz — using 0.413 would under-dose against the label (ref. §2.4 note).
"""

from __future__ import annotations

from cmvrx.engine import renal
from cmvrx.engine.intake import Facts
from cmvrx.errors import InsufficientDataError
from cmvrx.knowledge.bundle import Knowledge
from cmvrx.knowledge.schema import Grade
from cmvrx.model.plan import DrugDose


def valganciclovir_prevention(facts: Facts, k: Knowledge) -> DrugDose:
    """The label's pediatric valganciclovir prevention dose (mg once daily)."""
    drug = k.drug("valganciclovir")
    formula = drug.pediatric_formula
    if formula is None or facts.height_cm is None or facts.creatinine is None:
        raise InsufficientDataError(
            "the pediatric formula needs height and serum creatinine",
            field="patient.height",
            measure="height and serum creatinine",
        )
    schwartz_k = renal.label_schwartz_k(
        k,
        age_years=facts.age_years,
        sex=facts.sex,
        low_birth_weight=facts.case.patient.low_birth_weight_for_gestational_age,
    )
    crcl = renal.label_schwartz(
        k, height_cm=facts.height_cm, creatinine_mg_dl=facts.creatinine.value, schwartz_k=schwartz_k
    )
    bsa = renal.mosteller_bsa(k, height_cm=facts.height_cm, weight_kg=facts.weight_kg)
    exact = min(formula.multiplier * bsa * crcl, formula.max_mg)
    step = formula.rounding_step_mg
    practical = min(round(exact / step) * step, formula.max_mg)
    low, high = formula.tablet_window_mg
    a = drug.administration
    form = (
        f"{a.tablet_mg:g} mg tablet allowed"
        if low <= exact <= high and a.tablet_mg  # the calculated dose, as the source says
        else f"oral solution {a.oral_solution_mg_per_ml:g} mg/mL"
    )
    nc = (
        ("valganciclovir.pediatric_rounding",)
        if formula.rounding_grade is Grade.NOT_CONFIRMED
        else ()
    )
    return DrugDose(
        drug=drug.id,
        drug_name=drug.name,
        phase="prevention",
        status="dose",
        rule_id="valganciclovir.pediatric_formula",
        schedule_title="Pediatric prevention (label formula)",
        route="oral",
        cite=formula.cite,
        renal_basis=f"label Schwartz CrCl {crcl:.1f} mL/min/1.73 m² (k {schwartz_k:g}, cap {k.number('label_schwartz_cap'):g}); BSA {bsa:.3f} m² (Mosteller)",
        dose_unit="mg",
        dose_mg=round(exact, 1),
        practical_mg=float(practical),
        rounding=f"nearest {step:g} mg (NOT CONFIRMED: 25 mg in a label quote, 10 mg in MPR), maximum {formula.max_mg:g} mg",
        interval="once daily",
        per_day=float(practical),
        max_per_day=formula.max_mg,
        instructions=(f"{form}; with food",),
        note=formula.note,
        not_confirmed=nc,
    )

"""Renal function and body size, exactly as the labels define them.

- Cockcroft–Gault (mL/min): (140 − age) × weight / (72 × SCr), × 0.85 for women
  (valganciclovir Table 2 footnote; ganciclovir and cidofovir labels; ref. §7.1).
- Foscarnet per-kg estimate (mL/min/kg): (140 − age) / (72 × SCr), × 0.85 for women;
  weight cancels (foscarnet label; ref. §3.2). A measured CrCl is divided by weight.
- Bedside Schwartz eGFR (mL/min/1.73 m²) = 0.413 × height / SCr (ref. §7.3).
- Label Schwartz (old k by age/sex, capped at 150) and Mosteller BSA for the pediatric
  label formulas (ref. §2.4).
- Devine ideal and adjusted body weight, for the weight-basis choice and the obesity
  flag (ref. §7.2, NOT CONFIRMED as a CMV rule).

The constants come from ``parameters.toml``; these functions only do the arithmetic.
"""

from __future__ import annotations

import math

from cmvrx.engine.intake import Facts
from cmvrx.errors import InputError, InsufficientDataError, KnowledgeError
from cmvrx.knowledge.bundle import Knowledge
from cmvrx.model.plan import RenalFunction
from cmvrx.units import CM_PER_INCH

# Clearances are rounded to this many decimals before any band lookup, so that a value
# exactly on a label band edge (e.g. CrCl 25 mL/min) is not moved across the edge by
# floating-point error (24.999999999999996 would fall into the lower band).
_CLEARANCE_DECIMALS = 9
_CG = ("numbers", "cockcroft_gault_age_constant", "cockcroft_gault_denominator")


def clean(value: float) -> float:
    """A computed clearance with floating-point noise removed (see _CLEARANCE_DECIMALS)."""
    return round(value, _CLEARANCE_DECIMALS)


def cockcroft_gault(
    k: Knowledge, *, age_years: float, weight_kg: float, creatinine_mg_dl: float, sex: str
) -> float:
    """Creatinine clearance in mL/min (label Cockcroft–Gault)."""
    return clean(
        weight_kg
        * _clearance_per_kg(k, age_years=age_years, creatinine_mg_dl=creatinine_mg_dl, sex=sex)
    )


def foscarnet_clearance_per_kg(
    k: Knowledge, *, age_years: float, creatinine_mg_dl: float, sex: str
) -> float:
    """Creatinine clearance in mL/min/kg (foscarnet label's modified Cockcroft–Gault)."""
    return clean(
        _clearance_per_kg(k, age_years=age_years, creatinine_mg_dl=creatinine_mg_dl, sex=sex)
    )


def _clearance_per_kg(
    k: Knowledge, *, age_years: float, creatinine_mg_dl: float, sex: str
) -> float:
    age_constant, denominator = k.numbers_of(_CG)
    value = (age_constant - age_years) / (denominator * creatinine_mg_dl)
    if sex == "female":
        value *= k.number("cockcroft_gault_female_factor")
    return max(value, 0.0)


def bedside_schwartz(k: Knowledge, *, height_cm: float, creatinine_mg_dl: float) -> float:
    """eGFR in mL/min/1.73 m² (CKiD bedside Schwartz)."""
    return clean(k.number("bedside_schwartz_k") * height_cm / creatinine_mg_dl)


def label_schwartz_k(
    k: Knowledge, *, age_years: float, sex: str, low_birth_weight: bool | None
) -> float:
    """The label's old Schwartz k for this child (ref. §2.4)."""
    for row in k.schwartz_k:
        if not row.min_age <= age_years < row.max_age:
            continue
        if row.sex not in ("any", sex):
            continue
        if row.low_birth_weight is not None:
            if low_birth_weight is None:
                raise InsufficientDataError(
                    "the label's k for infants depends on it",
                    field="patient.low_birth_weight_for_gestational_age",
                    measure="whether the infant was low birth weight for gestational age",
                )
            if row.low_birth_weight != low_birth_weight:
                continue
        return row.k
    raise KnowledgeError(f"parameters.toml: no label Schwartz k for age {age_years:g}, {sex}")


def label_schwartz(
    k: Knowledge, *, height_cm: float, creatinine_mg_dl: float, schwartz_k: float
) -> float:
    """Label pediatric CrCl (mL/min/1.73 m²) = k × height / SCr, capped (ref. §2.4)."""
    return min(schwartz_k * height_cm / creatinine_mg_dl, k.number("label_schwartz_cap"))


def mosteller_bsa(k: Knowledge, *, height_cm: float, weight_kg: float) -> float:
    """Body surface area in m² (Mosteller)."""
    return math.sqrt(height_cm * weight_kg / k.number("mosteller_divisor"))


def ideal_body_weight(k: Knowledge, *, height_cm: float, sex: str) -> float:
    """Devine ideal body weight in kg."""
    base = k.number(f"ideal_body_weight_{sex}_base")
    inches_over = height_cm / CM_PER_INCH - k.number("ideal_body_weight_base_height")
    return base + k.number("ideal_body_weight_kg_per_inch") * inches_over


def dosing_weight(
    facts: Facts, k: Knowledge, pediatric: bool | None = None
) -> tuple[float, float | None, bool]:
    """(weight used, ideal weight or None, obese?) for the case's weight basis.

    Devine ideal / adjusted body weight and the obesity flag are adult formulas: a child
    gets actual weight, no ideal weight and no obesity flag, and a case asking for an
    ideal or adjusted basis for a child is refused (no source applies them to children).
    An ideal weight that is not above zero (an adult far below the formula's height
    range) is not shown and cannot be a dosing basis. ``pediatric``: ``is_pediatric``
    when the caller has it already."""
    basis = facts.case.weight_basis
    if is_pediatric(facts, k) if pediatric is None else pediatric:
        if basis != "actual":
            raise InputError(
                f"{basis} body weight is an adult formula (Devine) and is not applied to "
                "children: dose children on actual body weight (weight_basis: actual)",
                field="weight_basis",
            )
        return facts.weight_kg, None, False
    if facts.height_cm is None:
        if basis != "actual":
            raise InsufficientDataError(
                f"{basis} body weight needs height", field="patient.height", measure="height"
            )
        return facts.weight_kg, None, False
    ibw = ideal_body_weight(k, height_cm=facts.height_cm, sex=facts.sex)
    if ibw <= 0:
        if basis != "actual":
            raise InputError(
                f"the ideal-weight formula gives no positive weight for height "
                f"{facts.height_cm:g} cm: use weight_basis actual",
                field="weight_basis",
            )
        return facts.weight_kg, None, False
    obese = facts.weight_kg > k.number("obesity_ratio_to_ideal_weight") * ibw
    if basis == "ideal":
        return min(ibw, facts.weight_kg), ibw, obese
    if basis == "adjusted" and facts.weight_kg > ibw:
        adjusted = ibw + k.number("adjusted_body_weight_factor") * (facts.weight_kg - ibw)
        return adjusted, ibw, obese
    return facts.weight_kg, ibw, obese


#: What the renal section says instead of a clearance, by dialysis mode.
DIALYSIS_NO_CLEARANCE = {
    "intermittent_hemodialysis": (
        "not estimated: on intermittent hemodialysis the label's hemodialysis row applies"
    ),
    "crrt": "not estimated: on CRRT no label row applies (specialist review)",
    "peritoneal": "not estimated: on peritoneal dialysis no label row applies (specialist review)",
}


def is_pediatric(facts: Facts, k: Knowledge) -> bool:
    return facts.age_years < k.number("pediatric_age_limit")


def assess(facts: Facts, k: Knowledge, pediatric: bool | None = None) -> RenalFunction:
    """Renal function for every label measure this patient may need (``pediatric``:
    ``is_pediatric`` when the caller has it already; each value is computed once)."""
    if pediatric is None:
        pediatric = is_pediatric(facts, k)
    weight, ibw, obese = dosing_weight(facts, k, pediatric)
    dialysis = facts.case.renal.dialysis.value
    scr = facts.creatinine
    fresh_scr = scr.value if scr is not None and scr.fresh else None
    measured = facts.measured_clearance
    crcl, method, per_kg, per_kg_method = None, "", None, ""
    if dialysis != "none":
        # On dialysis a clearance (estimated or timed) is not the dosing basis: shown, a
        # Cockcroft–Gault "CrCl 12.6 mL/min" pointed readers to the 10–24 band (H49).
        method = per_kg_method = DIALYSIS_NO_CLEARANCE[dialysis]
    elif measured is not None and measured.fresh:
        crcl, method = measured.value, "measured (timed urine)"
        per_kg, per_kg_method = clean(measured.value / weight), f"measured CrCl ÷ {weight:.1f} kg"
    elif fresh_scr is not None and not pediatric:
        # cockcroft_gault and foscarnet_clearance_per_kg share the per-kg value: once here
        raw = _clearance_per_kg(
            k, age_years=facts.age_years, creatinine_mg_dl=fresh_scr, sex=facts.sex
        )
        crcl = clean(weight * raw)
        method = f"Cockcroft–Gault, {facts.case.weight_basis} weight {weight:.1f} kg"
        per_kg = clean(raw)
        per_kg_method = "foscarnet label modified Cockcroft–Gault (weight cancels)"
    egfr = bsa = None
    if pediatric and facts.height_cm is not None:
        bsa = mosteller_bsa(k, height_cm=facts.height_cm, weight_kg=facts.weight_kg)
        if fresh_scr is not None:
            egfr = bedside_schwartz(k, height_cm=facts.height_cm, creatinine_mg_dl=fresh_scr)
    return RenalFunction(
        dialysis=dialysis,
        serum_creatinine_mg_dl=scr.value if scr else None,
        creatinine_measured_at=scr.measured_at if scr else None,
        creatinine_age_hours=scr.age_hours if scr else None,
        creatinine_clearance_ml_min=crcl,
        clearance_method=method,
        clearance_per_kg_ml_min_kg=per_kg,
        per_kg_method=per_kg_method,
        weight_basis=facts.case.weight_basis,
        weight_kg=weight,
        actual_weight_kg=facts.weight_kg,
        ideal_weight_kg=ibw,
        obese=obese,
        egfr_bedside_schwartz=egfr,
        bsa_m2=bsa,
        insufficient=_insufficient(facts, k, dialysis, pediatric),
    )


def _insufficient(facts: Facts, k: Knowledge, dialysis: str, pediatric: bool) -> str | None:
    """What must be measured before any renal dose, or None if renal data suffice."""
    if dialysis != "none":
        return None
    measured = facts.measured_clearance
    if measured is not None and measured.fresh:
        return None
    scr = facts.creatinine
    if scr is None:
        return "serum creatinine (none recorded)"
    if not scr.fresh:
        if facts.creatinine_limit_hours is not None:  # a course's monitoring cadence
            return (
                f"serum creatinine (last value is {scr.age_hours:.0f} h old; limit "
                f"{facts.creatinine_limit_hours:g} h, the creatinine monitoring cadence)"
            )
        limit = k.number("creatinine_max_age_hours")
        return (
            f"serum creatinine (last value is {scr.age_hours:.0f} h old; "
            f"limit {limit:g} h, NOT CONFIRMED, configurable)"
        )
    if pediatric and facts.height_cm is None:
        return "height (children's renal function uses bedside Schwartz)"
    return None

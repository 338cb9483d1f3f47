"""Doses from the label tables: band lookup, mg per administration, rounding,
infusion time and volume, hydration.

A dose is produced only from a recommended knowledge row and complete, fresh data;
everything else becomes a ``DrugDose`` whose status says why there is no dose
(``not_recommended``, ``insufficient_data`` with what to measure, ``no_label_dose``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from cmvrx.engine.predicates import GANCICLOVIR_CLASS, Situation
from cmvrx.knowledge.bundle import Knowledge
from cmvrx.knowledge.schema import Band, DoseRow, Drug, Grade, Schedule
from cmvrx.model.plan import DrugDose, RenalFunction

_MEASURE_UNIT = {
    "crcl_ml_min": "mL/min",
    "crcl_ml_min_per_kg": "mL/min/kg",
    "egfr_bedside_schwartz": "mL/min/1.73 m²",
}


@dataclass(frozen=True, slots=True)
class RenalLookup:
    """The renal value a schedule needs, or why it is unavailable."""

    value: float | None
    basis: str
    missing: str = ""


def column_for(s: Situation, drug: str, phase: str) -> str:
    """Which label column applies: pediatric, the chosen foscarnet column, or standard."""
    if s.pediatric:
        return "pediatric"
    case = s.facts.case
    if drug == "foscarnet":
        return (
            case.foscarnet_induction_column
            if phase == "induction"
            else case.foscarnet_maintenance_column
        )
    return "standard"


def renal_value(schedule: Schedule, renal: RenalFunction) -> RenalLookup:
    """The value of ``schedule.measure`` for this patient."""
    if renal.insufficient:
        return RenalLookup(None, "", renal.insufficient)
    if schedule.measure == "crcl_ml_min" and renal.creatinine_clearance_ml_min is not None:
        v = renal.creatinine_clearance_ml_min
        return RenalLookup(v, f"CrCl {v:.1f} mL/min ({renal.clearance_method})")
    if schedule.measure == "crcl_ml_min_per_kg" and renal.clearance_per_kg_ml_min_kg is not None:
        v = renal.clearance_per_kg_ml_min_kg
        return RenalLookup(v, f"CrCl {v:.3f} mL/min/kg ({renal.per_kg_method})")
    if schedule.measure == "egfr_bedside_schwartz" and renal.egfr_bedside_schwartz is not None:
        v = renal.egfr_bedside_schwartz
        return RenalLookup(v, f"eGFR {v:.1f} mL/min/1.73 m² (bedside Schwartz)")
    needs = (
        "height and serum creatinine"
        if schedule.measure == "egfr_bedside_schwartz"
        else "serum creatinine"
    )
    return RenalLookup(None, "", needs)


def find_band(schedule: Schedule, value: float) -> Band:
    """The one band of ``schedule`` containing ``value`` (the loader proved there is one)."""
    for band in schedule.band:
        if band.contains(value):
            return band
    raise ValueError(f"{schedule.id}: no band contains {value}")  # unreachable: loader checks


def dose_for(s: Situation, drug_id: str, phase: str, *, check_counts: bool = True) -> DrugDose:
    """This patient's dose of ``drug_id`` in ``phase``, or the reason there is none."""
    k = s.knowledge
    drug = k.drug(drug_id)
    schedule = k.schedule_for(drug_id, phase, column_for(s, drug_id, phase))
    # The fields every outcome shares; each outcome builds its DrugDose once (a
    # replace() of a 30-field frozen dataclass per dose was a hot spot of a warm plan).
    base: dict[str, Any] = {
        "drug": drug.id,
        "drug_name": drug.name,
        "phase": phase,
        "status": "insufficient_data",
        "rule_id": schedule.id,
        "schedule_title": schedule.title,
        "route": drug.administration.route,
        "cite": schedule.cite,
        "instructions": drug.administration.instructions,
        "warnings": drug.warning,
    }
    if check_counts and drug_id in GANCICLOVIR_CLASS:
        blocked = _counts_problem(s)
        if blocked is not None:
            return DrugDose(**{**base, **blocked, "rule_id": f"{schedule.id}#blood-counts"})
    row, rule_id, basis, band_text = _select_row(s, schedule)
    if isinstance(row, str):  # no row: the string says what is missing or why
        if rule_id.endswith("#dialysis"):
            return _outcome(base, status="no_label_dose", rule_id=rule_id, reason=row)
        return _outcome(base, rule_id=rule_id, reason=row, measure=row)
    if not row.recommended:
        return _outcome(
            base,
            status="not_recommended",
            rule_id=rule_id,
            cite=row.cite,
            renal_basis=basis,
            band=band_text,
            reason=row.reason or "",
            note=row.note or "",
            instead=_instead(drug_id),
        )
    return _dose(s, drug, schedule, row, rule_id, basis, band_text, base)


def _outcome(base: dict[str, Any], **fields: Any) -> DrugDose:
    return DrugDose(**{**base, **fields})


def _counts_problem(s: Situation) -> dict[str, Any] | None:
    """The DrugDose fields that block a ganciclovir-class dose on blood counts, if any."""
    f = s.facts
    counts = (("ANC", f.anc), ("platelets", f.platelets), ("hemoglobin", f.hemoglobin))
    missing = [name for name, r in counts if r is None or not r.fresh]
    if missing:
        text = "CBC: " + ", ".join(missing) + " (missing or older than the freshness limit)"
        return {"reason": text, "measure": text}
    if s.cytopenias:
        return {
            "status": "not_recommended",
            "reason": "do not start: " + "; ".join(s.cytopenias),
            "instead": "foscarnet; G-CSF can ameliorate marrow suppression",
        }
    return None


def _select_row(s: Situation, schedule: Schedule) -> tuple[DoseRow | str, str, str, str]:
    """(row or what is missing, rule id, renal basis text, band text)."""
    if schedule.measure == "none":
        for modifier in schedule.modifier:
            if s.facts.medications & {m.lower() for m in modifier.when_medication_any}:
                meds = "/".join(modifier.when_medication_any)
                return modifier, f"{schedule.id}#with-{meds}", "", f"with {meds}"
        assert schedule.fixed is not None  # schema guarantees it
        return schedule.fixed, f"{schedule.id}#fixed", "", ""
    dialysis = s.renal.dialysis
    if dialysis == "intermittent_hemodialysis":
        if schedule.hemodialysis is None:
            return "no hemodialysis dose in the knowledge", f"{schedule.id}#dialysis", "", ""
        return (
            schedule.hemodialysis,
            f"{schedule.id}#hemodialysis",
            "intermittent hemodialysis",
            "hemodialysis",
        )
    if dialysis in ("crrt", "peritoneal"):
        label = "CRRT" if dialysis == "crrt" else "peritoneal dialysis"
        why = f"no label dose on {label}: specialist (ID pharmacy / nephrology) review"
        return why, f"{schedule.id}#dialysis", label, ""
    lookup = renal_value(schedule, s.renal)
    if lookup.value is None:
        return lookup.missing, f"{schedule.id}#renal-data", "", ""
    band = find_band(schedule, lookup.value)
    text = band.describe(_MEASURE_UNIT[schedule.measure])
    return band, f"{schedule.id}#band[{text}]", lookup.basis, text


def _dose(
    s: Situation,
    drug: Drug,
    schedule: Schedule,
    row: DoseRow,
    rule_id: str,
    basis: str,
    band_text: str,
    base: dict[str, Any],
) -> DrugDose:
    assert row.dose is not None and row.interval is not None  # recommended rows have both
    per_kg = drug.dose_unit == "mg/kg"
    weight = s.renal.weight_kg
    exact = row.dose * weight if per_kg else row.dose
    per_admin_max = schedule.max_per_day * 7 / row.interval.administrations_per_week
    if row is schedule.hemodialysis:  # label: the hemodialysis dose "should not exceed" this
        per_admin_max = min(per_admin_max, row.dose)
    practical, rounding, nc = _round(
        drug, exact, per_admin_max * weight if per_kg else per_admin_max
    )
    per_day = row.dose * row.interval.administrations_per_week / 7
    return _outcome(
        base,
        status="dose",
        rule_id=rule_id,
        cite=tuple(dict.fromkeys((*row.cite, *schedule.cite))),
        renal_basis=basis,
        band=band_text,
        dose_per_kg=row.dose if per_kg else None,
        dose_unit=drug.dose_unit,
        weight_kg=weight if per_kg else None,
        dose_mg=round(exact, 1),
        practical_mg=practical,
        rounding=rounding,
        interval=row.interval.value,
        per_day=round(per_day, 4),
        max_per_day=schedule.max_per_day,
        infusion=_infusion(drug, row.dose if per_kg else None, exact),
        hydration=_hydration(drug, row.dose if per_kg else None),
        note=row.note or "",
        not_confirmed=nc + ((schedule.id,) if schedule.grade is Grade.NOT_CONFIRMED else ()),
    )


def _round(drug: Drug, exact: float, ceiling: float) -> tuple[float, str, tuple[str, ...]]:
    """Practical amount: nearest rounding step, never above the label maximum."""
    if drug.rounding is None:
        return round(exact, 1), "fixed-strength product: no rounding", ()
    step = drug.rounding.step_mg
    practical = round(exact / step) * step
    if practical > ceiling + 1e-9:
        practical = math.floor(exact / step) * step
    nc = (f"{drug.id}.rounding",) if drug.rounding.grade is Grade.NOT_CONFIRMED else ()
    return (
        float(practical),
        f"nearest {step:g} mg, never above the label maximum — {drug.rounding.note}",
        nc,
    )


def _infusion(drug: Drug, dose_per_kg: float | None, mg: float) -> tuple[str, ...]:
    a = drug.administration
    out: list[str] = []
    minutes = a.infusion_minutes_default or a.infusion_minutes_min
    if a.max_rate_mg_per_kg_per_min and dose_per_kg is not None:
        fastest = dose_per_kg / a.max_rate_mg_per_kg_per_min
        minutes = max(minutes or 0.0, fastest)
        out.append(
            f"no faster than {a.max_rate_mg_per_kg_per_min:g} mg/kg/min: at least {fastest:.0f} min for {dose_per_kg:g} mg/kg"
        )
    if minutes:
        out.append(f"infuse over {minutes:.0f} min")
    if a.max_concentration_mg_per_ml:
        out.append(
            f"final concentration ≤ {a.max_concentration_mg_per_ml:g} mg/mL: at least {mg / a.max_concentration_mg_per_ml:.0f} mL of diluent"
        )
    if a.central_line_concentration_mg_per_ml:
        out.append(
            f"central line: {a.central_line_concentration_mg_per_ml:g} mg/mL undiluted = {mg / a.central_line_concentration_mg_per_ml:.0f} mL"
        )
    if a.peripheral_line_concentration_mg_per_ml:
        out.append(
            f"peripheral line: dilute to {a.peripheral_line_concentration_mg_per_ml:g} mg/mL = {mg / a.peripheral_line_concentration_mg_per_ml:.0f} mL"
        )
    if a.vial_mg:
        out.append(f"{math.ceil(mg / a.vial_mg)} × {a.vial_mg:g} mg vial(s)")
    if a.tablet_mg:
        out.append(f"{mg / a.tablet_mg:g} × {a.tablet_mg:g} mg tablet(s)")
    return tuple(out)


def _hydration(drug: Drug, dose_per_kg: float | None) -> tuple[str, ...]:
    if not drug.hydration or dose_per_kg is None:
        return ()
    out: list[str] = []
    first = drug.first_dose_hydration
    if first is not None:
        out.append(
            f"before the first infusion: {first.volume_ml_min:g}–{first.volume_ml_max:g} mL {first.fluid}"
        )
    for row in drug.hydration:
        if row.min_mg_per_kg <= dose_per_kg <= row.max_mg_per_kg:
            vol = (
                f"{row.volume_ml_min:g}"
                if row.volume_ml_min == row.volume_ml_max
                else f"{row.volume_ml_min:g}–{row.volume_ml_max:g}"
            )
            out.append(f"with each infusion of {dose_per_kg:g} mg/kg: {vol} mL {row.fluid}")
            return tuple(out)
    bands = "; ".join(
        f"{r.volume_ml_min:g}–{r.volume_ml_max:g} mL for {r.min_mg_per_kg:g}–{r.max_mg_per_kg:g} mg/kg"
        for r in drug.hydration
    )
    out.append(
        f"the label gives no hydration volume for {dose_per_kg:g} mg/kg ({bands}): clinician to decide, if no contraindication"
    )
    return tuple(out)


def _instead(drug_id: str) -> str:
    return {
        "valganciclovir": "IV ganciclovir at the renally adjusted dose",
        "foscarnet": "ganciclovir if usable; otherwise specialist review",
        "ganciclovir": "foscarnet if usable; otherwise specialist review",
        "cidofovir": "specialist review",
    }.get(drug_id, "specialist review")


def per_kg_renal_refusal(k: Knowledge, renal: RenalFunction, column: str) -> bool:
    """Does foscarnet's induction table refuse this CrCl/kg (< 0.4 mL/min/kg), or this
    patient on intermittent hemodialysis (the US label has no foscarnet HD dose)?"""
    schedule = k.schedule_for("foscarnet", "induction", column)
    if renal.dialysis == "intermittent_hemodialysis":
        # Without this, CNS disease on HD kept the "combination" regimen with foscarnet
        # undosed and no single-agent/specialist-review alert (S-FOS-MEDLIB6, S-FOS-UCSF).
        return schedule.hemodialysis is not None and not schedule.hemodialysis.recommended
    value = renal.clearance_per_kg_ml_min_kg
    if value is None or renal.dialysis != "none" or renal.insufficient:
        return False
    if schedule.measure != "crcl_ml_min_per_kg":
        return False
    return not find_band(schedule, value).recommended

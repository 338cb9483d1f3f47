"""Doses from the label tables: band lookup, mg per administration, rounding,
infusion time and volume, hydration.

A dose is produced only from a recommended knowledge row and complete, fresh data;
everything else becomes a ``DrugDose`` whose status says why there is no dose
(``not_recommended``, ``insufficient_data`` with what to measure, ``no_label_dose``).
What does not depend on the patient (band texts, cites, hydration, infusion time) comes
ready-made from ``dose_table``; this module adds the patient's numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cmvrx.engine.dose_table import Table, table
from cmvrx.engine.predicates import Situation
from cmvrx.frozen import fast_init
from cmvrx.knowledge.bundle import Knowledge
from cmvrx.knowledge.schema import Band, DoseRow, Drug, Schedule
from cmvrx.model.patient import Case
from cmvrx.model.plan import DRUG_DOSE_FIELDS, DrugDose, RenalFunction, drug_dose_of

#: The one (drug, phase) with a congenital-CMV column (NIH pediatric OI guideline).
CONGENITAL = ("ganciclovir", "induction")
_COUNTS = "counts_problem"  # Situation.derived key (and "not computed yet" marker)


@fast_init
@dataclass(frozen=True, slots=True)
class RenalLookup:
    """The renal value a schedule needs, or why it is unavailable."""

    value: float | None
    basis: str
    missing: str = ""


def column_of(case: Case, pediatric: bool, drug: str, phase: str) -> str:
    """Which label column applies: congenital (ganciclovir induction for congenital CMV),
    pediatric, the chosen foscarnet column, or standard."""
    if pediatric:
        congenital = case.disease.congenital is True
        return "congenital" if congenital and (drug, phase) == CONGENITAL else "pediatric"
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
    t = table(s.knowledge, drug_id, phase, column_of(s.facts.case, s.pediatric, drug_id, phase))
    schedule = t.schedule
    if check_counts and drug_id in s.knowledge.vocabulary_sets["ganciclovir_class"]:
        blocked = s.derived.get(_COUNTS, _COUNTS)
        if blocked is _COUNTS:  # the same for each ganciclovir-class dose of a plan
            blocked = s.derived[_COUNTS] = _counts_problem(s)
        if blocked is not None:
            return _outcome(t, rule_id=f"{schedule.id}#blood-counts", **blocked)
    row, rule_id, basis, band_text = _select_row(s, t)
    if isinstance(row, str):  # no row: the string says what is missing or why
        if rule_id.endswith("#dialysis"):
            return _outcome(t, status="no_label_dose", rule_id=rule_id, reason=row)
        return _outcome(t, rule_id=rule_id, reason=row, measure=row)
    if not row.recommended:
        return _outcome(
            t,
            status="not_recommended",
            rule_id=rule_id,
            cite=row.cite,
            renal_basis=basis,
            band=band_text,
            reason=row.reason or "",
            note=row.note or "",
            instead=s.knowledge.instead(drug_id),
        )
    return _dose(s, t, row, rule_id, basis, band_text)


def _outcome(t: Table, **fields: Any) -> DrugDose:
    """A DrugDose built once (a replace() of this 28-field dataclass was a hot spot)."""
    fields.setdefault("status", "insufficient_data")
    fields.setdefault("cite", t.schedule.cite)
    return DrugDose(**t.base, **fields)


def _counts_problem(s: Situation) -> dict[str, Any] | None:
    """The DrugDose fields that block a ganciclovir-class dose on blood counts, if any."""
    f = s.facts
    counts = (("ANC", f.anc), ("platelets", f.platelets), ("hemoglobin", f.hemoglobin))
    missing = [name for name, r in counts if r is None or not r.fresh]
    if missing:
        limit = f.blood_count_limit_hours or s.knowledge.number("blood_count_max_age_hours")
        text = "CBC: " + ", ".join(missing) + f" (missing or older than {limit:g} h)"
        return {"reason": text, "measure": text}
    if s.cytopenias:
        return {
            "status": "not_recommended",
            "reason": "do not start: " + "; ".join(s.cytopenias),
            "instead": "foscarnet; G-CSF can ameliorate marrow suppression",
        }
    return None


def _select_row(s: Situation, t: Table) -> tuple[DoseRow | str, str, str, str]:
    """(row or what is missing, rule id, renal basis text, band text)."""
    schedule = t.schedule
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
    lookup: RenalLookup | None = s.derived.get(schedule.measure)
    if lookup is None:  # the same for every schedule of this measure
        lookup = s.derived[schedule.measure] = renal_value(schedule, s.renal)
    if lookup.value is None:
        return lookup.missing, f"{schedule.id}#renal-data", "", ""
    value = lookup.value
    for band, text, rule_id in t.bands:
        if band.contains(value):
            return band, rule_id, lookup.basis, text
    raise ValueError(f"{schedule.id}: no band contains {value}")  # unreachable: loader checks


#: Positions of the patient's values in a dose row's template (DRUG_DOSE_FIELDS order).
_AT = {name: i for i, name in enumerate(DRUG_DOSE_FIELDS)}
_RULE_ID, _BASIS, _BAND, _WEIGHT = _AT["rule_id"], _AT["renal_basis"], _AT["band"], _AT["weight_kg"]
_DOSE_MG, _PRACTICAL, _ROUNDING = _AT["dose_mg"], _AT["practical_mg"], _AT["rounding"]
_INFUSION, _NOT_CONFIRMED = _AT["infusion"], _AT["not_confirmed"]


def _dose(
    s: Situation, t: Table, row: DoseRow, rule_id: str, basis: str, band_text: str
) -> DrugDose:
    assert row.dose is not None  # recommended rows have a dose
    drug, fixed = t.drug, t.rows[id(row)]
    per_kg = drug.dose_unit == "mg/kg"
    weight = s.renal.weight_kg
    exact = row.dose * weight if per_kg else row.dose
    practical, rounding, nc = _round(
        t, exact, fixed.per_admin_max * weight if per_kg else fixed.per_admin_max
    )
    values = list(fixed.template)  # the row's fields; the patient's values set below
    values[_RULE_ID] = rule_id
    values[_BASIS] = basis
    values[_BAND] = band_text
    values[_WEIGHT] = weight if per_kg else None
    values[_DOSE_MG] = round(exact, 1)
    values[_PRACTICAL] = practical
    values[_ROUNDING] = rounding
    values[_INFUSION] = (*fixed.infusion_time, *_infusion_volume(s.knowledge, drug, exact))
    values[_NOT_CONFIRMED] = nc + t.not_confirmed + values[_NOT_CONFIRMED]
    return drug_dose_of(values)


def _round(t: Table, exact: float, ceiling: float) -> tuple[float, str, tuple[str, ...]]:
    """Practical amount: the coarsest step that stays within the rounding tolerance of the
    exact dose, above zero and not above the label maximum (H50); else the exact dose."""
    r = t.rounding
    if r is None:
        return round(exact, 1), "fixed-strength product: no rounding", ()
    limit = r.tolerance * exact + 1e-9
    for step, text in r.steps:
        practical = round(exact / step) * step
        if practical > ceiling + 1e-9:
            practical = math.floor(exact / step) * step
        if practical > 0 and -limit <= practical - exact <= limit:
            return round(practical, 4), text, r.not_confirmed
    return round(exact, 4), r.unrounded, r.not_confirmed


def _infusion_volume(k: Knowledge, drug: Drug, mg: float) -> tuple[str, ...]:
    """The volume and product lines for ``mg`` per administration."""
    key = ("volume_lines", drug.id)
    lines: tuple[VolumeLine, ...] | None = k.memo.get(key)
    if lines is None:
        lines = k.derived(key, _volume_lines(drug))
    out = []
    for kind, per, before, after in lines:
        if kind == "ml":
            out.append(before + _ml(mg / per) + after)
        elif kind == "vials":
            out.append(f"{math.ceil(mg / per)}{after}")
        else:
            out.append(f"{mg / per:g}{after}")
    return tuple(out)


VolumeLine = tuple[str, float, str, str]  # kind, mg per unit, text before, text after


def _volume_lines(drug: Drug) -> Callable[[Knowledge], tuple[VolumeLine, ...]]:
    """The builder of ``drug``'s volume and product lines, their texts formatted once."""

    def build(_k: Knowledge) -> tuple[VolumeLine, ...]:
        a = drug.administration
        out: list[VolumeLine] = []
        if a.max_concentration_mg_per_ml:
            c = a.max_concentration_mg_per_ml
            out.append(("ml", c, f"final concentration ≤ {c:g} mg/mL: at least ", " mL of diluent"))
        if a.central_line_concentration_mg_per_ml:
            c = a.central_line_concentration_mg_per_ml
            out.append(("ml", c, f"central line: {c:g} mg/mL undiluted = ", " mL"))
        if a.peripheral_line_concentration_mg_per_ml:
            c = a.peripheral_line_concentration_mg_per_ml
            out.append(("ml", c, f"peripheral line: dilute to {c:g} mg/mL = ", " mL"))
        if a.vial_mg:
            vials = f" × {a.vial_mg:g} mg vial(s)"
            if a.reconstitution_ml:
                vials += f", each reconstituted with {a.reconstitution_ml:g} mL ({a.vial_mg / a.reconstitution_ml:g} mg/mL)"
            out.append(("vials", a.vial_mg, "", vials))
        if a.tablet_mg:
            out.append(("tablets", a.tablet_mg, "", f" × {a.tablet_mg:g} mg tablet(s)"))
        return tuple(out)

    return build


def _ml(volume: float) -> str:
    """A volume for display: whole mL from 10 mL, else two significant digits — a small
    child's volume is never shown as '0 mL' (H48)."""
    return f"{volume:.0f}" if volume >= 10 else f"{volume:.2g}"


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

"""The patient-independent part of every dose, built once per knowledge.

For each (drug, phase, label column): the schedule, the DrugDose fields every outcome
shares, each band's description and rule id, and for each recommended row the fields
of its dose that no patient value changes (cites, interval, daily amount, hydration,
infusion time). ``dosing`` adds the patient's numbers; a warm plan no longer rebuilds
these texts and tuples for every dose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cmvrx.knowledge.bundle import Knowledge
from cmvrx.knowledge.schema import Band, DoseRow, Drug, Grade, Schedule
from cmvrx.model.plan import DRUG_DOSE_DEFAULTS


@dataclass(frozen=True, slots=True)
class Table:
    """What one (drug, phase, column) contributes to every dose, whatever the patient:
    built once per knowledge so that a warm plan does not redo lookups and texts."""

    drug: Drug
    schedule: Schedule
    base: dict[str, Any]  # the DrugDose fields every outcome shares
    bands: tuple[tuple[Band, str, str], ...]  # band, its description, its rule id
    rows: dict[int, Row]  # by id(row): the rows live as long as the knowledge
    rounding: tuple[float, str, tuple[str, ...]] | None  # step, text, NOT CONFIRMED ids
    not_confirmed: tuple[str, ...]  # the schedule's own id when it is NOT CONFIRMED


@dataclass(frozen=True, slots=True)
class Row:
    """The patient-independent parts of a dose from one recommended row."""

    fields: dict[str, Any]  # the DrugDose fields that do not depend on the patient, and
    # the defaults of the others (``drug_dose_from`` wants every field)
    per_admin_max: float  # per kg for mg/kg drugs
    infusion_time: tuple[str, ...]


def table(k: Knowledge, drug_id: str, phase: str, column: str) -> Table:
    """The table of ``drug_id`` for ``phase`` and ``column``, built on first use."""
    key = ("dose_table", drug_id, phase, column)
    found: Table | None = k.memo.get(key)
    if found is None:
        found = k.memo[key] = _build_table(k, drug_id, phase, column)
    return found


def _build_table(k: Knowledge, drug_id: str, phase: str, column: str) -> Table:
    drug = k.drug(drug_id)
    schedule = k.schedule_for(drug_id, phase, column)
    base = {
        "drug": drug.id,
        "drug_name": drug.name,
        "phase": phase,
        "schedule_title": schedule.title,
        "route": drug.administration.route,
        "instructions": drug.administration.instructions,
        "warnings": drug.warning,
    }
    unit = schedule.measure_unit
    bands = tuple(
        (b, text, f"{schedule.id}#band[{text}]")
        for b in schedule.band
        for text in (b.describe(unit),)
    )
    rows = (*schedule.band, *schedule.modifier, schedule.hemodialysis, schedule.fixed)
    rounding = drug.rounding
    return Table(
        drug,
        schedule,
        base,
        bands,
        {
            id(row): _row(drug, schedule, row, base)
            for row in rows
            if row is not None and row.recommended
        },
        None
        if rounding is None
        else (
            rounding.step_mg,
            f"nearest {rounding.step_mg:g} mg, never above the label maximum — {rounding.note}",
            (f"{drug.id}.rounding",) if rounding.grade is Grade.NOT_CONFIRMED else (),
        ),
        (schedule.id,) if schedule.grade is Grade.NOT_CONFIRMED else (),
    )


def _row(drug: Drug, schedule: Schedule, row: DoseRow, base: dict[str, Any]) -> Row:
    assert row.dose is not None and row.interval is not None  # recommended rows have both
    per_week = row.interval.administrations_per_week
    dose_per_kg = row.dose if drug.dose_unit == "mg/kg" else None
    per_admin_max = schedule.max_per_day * 7 / per_week
    if row is schedule.hemodialysis:  # label: the hemodialysis dose "should not exceed" this
        per_admin_max = min(per_admin_max, row.dose)
    fields = {
        **DRUG_DOSE_DEFAULTS,
        **base,
        "status": "dose",
        "cite": tuple(dict.fromkeys((*row.cite, *schedule.cite))),
        "dose_per_kg": dose_per_kg,
        "dose_unit": drug.dose_unit,
        "interval": row.interval.value,
        "per_day": round(row.dose * per_week / 7, 4),
        "max_per_day": schedule.max_per_day,
        "hydration": _hydration(drug, dose_per_kg),
        "note": row.note or "",
    }
    return Row(fields, per_admin_max, _infusion_time(drug, dose_per_kg))


def _infusion_time(drug: Drug, dose_per_kg: float | None) -> tuple[str, ...]:
    """The rate and duration lines: they depend on the row's dose only, not the weight."""
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
    return tuple(out)


def _hydration(drug: Drug, dose_per_kg: float | None) -> tuple[str, ...]:
    if not drug.hydration or dose_per_kg is None:
        return ()
    out: list[str] = []
    first = drug.first_dose_hydration
    if first is not None:  # the label: before the first infusion, whatever the dose
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

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

from cmvrx.frozen import fast_init
from cmvrx.knowledge.bundle import Knowledge
from cmvrx.knowledge.schema import Band, DoseRow, Drug, Grade, HydrationRow, Schedule
from cmvrx.model.dosage import AdministrationFacts, HydrationBand
from cmvrx.model.plan import DRUG_DOSE_DEFAULTS, DRUG_DOSE_FIELDS


@fast_init
@dataclass(frozen=True, slots=True)
class Table:
    """What one (drug, phase, column) contributes to every dose, whatever the patient:
    built once per knowledge so that a warm plan does not redo lookups and texts."""

    drug: Drug
    schedule: Schedule
    base: dict[str, Any]  # the DrugDose fields every outcome shares
    bands: tuple[tuple[Band, str, str], ...]  # band, its description, its rule id
    rows: dict[int, Row]  # by id(row): the rows live as long as the knowledge
    rounding: Rounding | None  # the drug's steps and tolerance; None: fixed strength
    not_confirmed: tuple[str, ...]  # the schedule's own id when it is NOT CONFIRMED


@fast_init
@dataclass(frozen=True, slots=True)
class Rounding:
    """How a drug's exact dose becomes a practical amount (issue 7 item 4, H50).

    ``steps`` run coarsest first (the drug's step, then its finer steps), each with the
    text saying what was done; the first step whose result is above zero, within
    ``tolerance`` (a fraction) of the exact dose and not above the label maximum is used."""

    steps: tuple[tuple[float, str], ...]  # (step in mg, rounding text)
    tolerance: float
    unrounded: str  # when no step fits
    not_confirmed: tuple[str, ...]


@fast_init
@dataclass(frozen=True, slots=True)
class Row:
    """The patient-independent parts of a dose from one recommended row."""

    fields: dict[str, Any]  # the DrugDose fields that do not depend on the patient, and
    # the defaults of the others (``drug_dose_from`` wants every field)
    per_admin_max: float  # per kg for mg/kg drugs
    infusion_time: tuple[str, ...]
    template: tuple[Any, ...] = ()  # ``fields`` in DRUG_DOSE_FIELDS order (drug_dose_of)


def table(k: Knowledge, drug_id: str, phase: str, column: str) -> Table:
    """The table of ``drug_id`` for ``phase`` and ``column``, built on first use."""
    key = ("dose_table", drug_id, phase, column)
    memo = k.memo
    found: Table | None = memo.get(key)
    if found is None:
        found = memo[key] = _build_table(k, drug_id, phase, column)
    return found


def _build_table(k: Knowledge, drug_id: str, phase: str, column: str) -> Table:
    drug = k.drug(drug_id)
    schedule = k.schedule_for(drug_id, phase, column)
    a = drug.administration
    child = column in ("pediatric", "congenital")
    base = {
        "drug": drug.id,
        "drug_name": drug.name,
        "phase": phase,
        "schedule_title": schedule.title,
        "route": a.route,
        # adult volumes (ganciclovir ~100 mL, cidofovir saline and probenecid) are not
        # shown to children (H46): the knowledge's pediatric wording replaces them
        "instructions": a.pediatric_instructions
        if child and a.pediatric_instructions is not None
        else a.instructions,
        "warnings": drug.warning,
        "administration": administration_facts(drug),
    }
    unit = schedule.measure_unit
    bands = tuple(
        (b, text, f"{schedule.id}#band[{text}]")
        for b in schedule.band
        for text in (b.describe(unit),)
    )
    rows = (*schedule.band, *schedule.modifier, schedule.hemodialysis, schedule.fixed)
    return Table(
        drug,
        schedule,
        base,
        bands,
        {
            id(row): _row(k, drug, schedule, row, base, child=child)
            for row in rows
            if row is not None and row.recommended
        },
        _rounding(k, drug),
        (schedule.id,) if schedule.grade is Grade.NOT_CONFIRMED else (),
    )


def _rounding(k: Knowledge, drug: Drug) -> Rounding | None:
    r = drug.rounding
    if r is None:
        return None
    percent = k.number("rounding_tolerance_percent")
    kept = f"within ±{percent:g} % of the exact dose, not above the label maximum"
    steps = (r.step_mg, *r.finer_steps_mg)
    texts = [f"nearest {r.step_mg:g} mg ({kept}; NOT CONFIRMED)"]
    texts += [
        f"nearest {step:g} mg (the {r.step_mg:g} mg step would leave ±{percent:g} % or exceed "
        f"the label maximum; {kept}; NOT CONFIRMED)"
        for step in r.finer_steps_mg
    ]
    unrounded = (
        f"not rounded: no step keeps this dose within ±{percent:g} % of the exact dose "
        "(NOT CONFIRMED convention)"
    )
    nc = (f"{drug.id}.rounding",) if r.grade is Grade.NOT_CONFIRMED else ()
    return Rounding(tuple(zip(steps, texts, strict=True)), percent / 100, unrounded, nc)


def _row(
    k: Knowledge,
    drug: Drug,
    schedule: Schedule,
    row: DoseRow,
    base: dict[str, Any],
    *,
    child: bool,
) -> Row:
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
        "note": row.note or "",
    }
    hydration, not_confirmed = (
        hydration_lines(k, drug, dose_per_kg) if not child else _child_hydration(drug)
    )
    fields["hydration"], fields["not_confirmed"] = hydration, not_confirmed
    template = tuple(fields.get(name) for name in DRUG_DOSE_FIELDS)  # rule_id: per dose
    return Row(fields, per_admin_max, _infusion_time(drug, dose_per_kg), template)


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


#: Rule id of the pediatric hydration item (no label volume for children).
PEDIATRIC_HYDRATION_RULE = "hydration.pediatric"


def _child_hydration(drug: Drug) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Children: the label volumes are adult ones and no graded source gives a pediatric
    volume (clinical-reference §3.5), so no volume — pharmacy sets it (H46)."""
    if not drug.hydration and drug.first_dose_hydration is None:
        return (), ()
    return (
        f"pediatric hydration: no label volume — specialist / pharmacy to set "
        f"(rule {drug.id}.{PEDIATRIC_HYDRATION_RULE}; the label volumes are for adults)",
    ), ()


def hydration_lines(
    k: Knowledge, drug: Drug, dose_per_kg: float | None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(hydration lines, NOT CONFIRMED ids) for an adult dose of ``dose_per_kg``.

    A dose between two label bands (foscarnet 65–80 mg/kg) gets the volume of the band
    above (parameter ``hydration_between_bands``, NOT CONFIRMED): hydration is never left
    off a foscarnet order (H52)."""
    if not drug.hydration or dose_per_kg is None:
        return (), ()
    out: list[str] = []
    first = drug.first_dose_hydration
    if first is not None:  # the label: before the first infusion, whatever the dose
        out.append(f"before the first infusion: {_volume(first)} mL {first.fluid}")
    for row in drug.hydration:
        if row.min_mg_per_kg <= dose_per_kg <= row.max_mg_per_kg:
            out.append(
                f"with each infusion of {dose_per_kg:g} mg/kg: {_volume(row)} mL {row.fluid}"
            )
            return tuple(out), ()
    above = [r for r in drug.hydration if r.min_mg_per_kg > dose_per_kg]
    below = [r for r in drug.hydration if r.max_mg_per_kg < dose_per_kg]
    use_above = k.number("hydration_between_bands") >= 0.5
    if above and (use_above or not below):
        pick, which = min(above, key=lambda r: r.min_mg_per_kg), "above"
    else:
        pick, which = max(below, key=lambda r: r.max_mg_per_kg), "below"
    covered = " and ".join(f"{r.min_mg_per_kg:g}–{r.max_mg_per_kg:g} mg/kg" for r in drug.hydration)
    out.append(
        f"with each infusion of {dose_per_kg:g} mg/kg: {_volume(pick)} mL {pick.fluid} — "
        f"NOT CONFIRMED: the label gives volumes only for {covered}; the volume of the band "
        f"{which} ({pick.min_mg_per_kg:g}–{pick.max_mg_per_kg:g} mg/kg) is proposed "
        "(configurable: hydration_between_bands); reduce if clinically warranted, give only "
        "if no contraindication"
    )
    return tuple(out), ("hydration_between_bands",)


def _volume(row: HydrationRow) -> str:
    """'500' or '750–1000' (never '500–500')."""
    if row.volume_ml_min == row.volume_ml_max:
        return f"{row.volume_ml_min:g}"
    return f"{row.volume_ml_min:g}–{row.volume_ml_max:g}"


def administration_facts(drug: Drug) -> AdministrationFacts:
    """The drug's infusion and hydration facts, for its structured dosage."""
    a = drug.administration
    return AdministrationFacts(
        infusion_minutes_min=a.infusion_minutes_min,
        infusion_minutes_default=a.infusion_minutes_default,
        max_rate_mg_per_kg_per_min=a.max_rate_mg_per_kg_per_min,
        max_concentration_mg_per_ml=a.max_concentration_mg_per_ml,
        central_line_concentration_mg_per_ml=a.central_line_concentration_mg_per_ml,
        peripheral_line_concentration_mg_per_ml=a.peripheral_line_concentration_mg_per_ml,
        first_dose_hydration=None
        if drug.first_dose_hydration is None
        else _band(drug.first_dose_hydration),
        hydration=tuple(_band(row) for row in drug.hydration),
    )


def _band(row: HydrationRow) -> HydrationBand:
    return HydrationBand(
        row.min_mg_per_kg, row.max_mg_per_kg, row.volume_ml_min, row.volume_ml_max, row.fluid
    )

"""The strict schema of the knowledge data files.

Every file under ``knowledge/data`` is validated against these models when loaded:
unknown keys are refused, every clinical row names its citations, and the loader
(``knowledge.loader``) then checks what a model alone cannot (band tables without
gaps or overlaps, citations that resolve, unique ids). See docs/knowledge-authoring.md.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Cite = Annotated[tuple[str, ...], Field(min_length=1)]


class Grade(StrEnum):
    """Confidence grade from clinical-reference §0; NOT CONFIRMED values are configurable."""

    A = "A"
    A_B = "A/B"
    B = "B"
    B_C = "B/C"
    C = "C"
    NOT_CONFIRMED = "NOT CONFIRMED"

    @property
    def confirmed(self) -> bool:
        return self is not Grade.NOT_CONFIRMED


class Interval(StrEnum):
    """Dosing intervals as the labels write them."""

    q8h = "q8h"
    q12h = "q12h"
    q24h = "q24h"
    q48h = "q48h"
    twice_daily = "twice daily"
    once_daily = "once daily"
    every_2_days = "every 2 days"
    twice_weekly = "twice weekly"
    once_weekly = "once weekly"
    every_2_weeks = "every 2 weeks"
    three_times_weekly_after_hemodialysis = "3 times weekly, after hemodialysis"

    @property
    def administrations_per_week(self) -> float:
        return _PER_WEEK[self]


_PER_WEEK: dict[Interval, float] = {
    Interval.q8h: 21.0,
    Interval.q12h: 14.0,
    Interval.q24h: 7.0,
    Interval.q48h: 3.5,
    Interval.twice_daily: 14.0,
    Interval.once_daily: 7.0,
    Interval.every_2_days: 3.5,
    Interval.twice_weekly: 2.0,
    Interval.once_weekly: 1.0,
    Interval.every_2_weeks: 0.5,
    Interval.three_times_weekly_after_hemodialysis: 3.0,
}


class Source(StrictModel):
    """One entry of the citation register (clinical-reference §13, seed references)."""

    id: str
    title: str
    kind: Literal[
        "seed", "label", "guideline", "compendium", "literature", "secondary", "reference"
    ]
    url: str | None = None
    section: str | None = None


class Bounds(StrictModel):
    """The range an override of a NOT CONFIRMED parameter must stay in, and why."""

    min: float
    max: float
    cite: Cite
    note: str

    @model_validator(mode="after")
    def _ordered(self) -> Bounds:
        if not self.min < self.max:
            raise ValueError("bounds need min < max")
        return self


class Parameter(StrictModel):
    """A single clinical number or threshold with its unit, source and grade.

    A NOT CONFIRMED number is overridable only within its ``bounds``."""

    value: float | str | bool
    unit: str
    description: str
    grade: Grade
    cite: Cite
    bounds: Bounds | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _inside_bounds(self) -> Parameter:
        b = self.bounds
        if b is not None and not (
            isinstance(self.value, int | float) and b.min <= self.value <= b.max
        ):
            raise ValueError(f"value {self.value!r} is outside its bounds {b.min:g}–{b.max:g}")
        return self


class DoseRow(StrictModel):
    """A dose with its interval, or an explicit refusal with the reason."""

    recommended: bool = True
    dose: float | None = Field(None, gt=0)
    interval: Interval | None = None
    reason: str | None = None
    note: str | None = None
    cite: Cite

    @model_validator(mode="after")
    def _complete(self) -> DoseRow:
        if self.recommended and (self.dose is None or self.interval is None):
            raise ValueError("a recommended row needs both dose and interval")
        if not self.recommended and not self.reason:
            raise ValueError("a row that is not recommended needs a reason")
        return self


class Band(DoseRow):
    """A renal band: ``lower``..``upper`` of the schedule's renal measure."""

    lower: float = Field(ge=0)
    lower_inclusive: bool
    upper: float
    upper_inclusive: bool

    def contains(self, x: float) -> bool:
        above = x >= self.lower if self.lower_inclusive else x > self.lower
        below = x <= self.upper if self.upper_inclusive else x < self.upper
        return above and below

    def describe(self, unit: str) -> str:
        lo = ("≥ " if self.lower_inclusive else "> ") + _num(self.lower)
        if math.isinf(self.upper):
            return f"{lo} {unit}"
        hi = ("≤ " if self.upper_inclusive else "< ") + _num(self.upper)
        if self.lower == 0 and self.lower_inclusive:
            return f"{hi} {unit}"
        return f"{lo} and {hi} {unit}"


def _num(x: float) -> str:
    return f"{x:g}"


class Modifier(DoseRow):
    """A dose that replaces the schedule's dose when a co-medication is present."""

    when_medication_any: Annotated[tuple[str, ...], Field(min_length=1)]


MEASURE_UNIT = {
    "crcl_ml_min": "mL/min",
    "crcl_ml_min_per_kg": "mL/min/kg",
    "egfr_bedside_schwartz": "mL/min/1.73 m²",
    "none": "",
}


class Schedule(StrictModel):
    """One dosing column of a label table: a drug, a phase, and its renal bands."""

    id: str
    phase: Literal["induction", "maintenance", "prophylaxis", "refractory_treatment"]
    column: str = "standard"
    title: str
    measure: Literal["crcl_ml_min", "crcl_ml_min_per_kg", "egfr_bedside_schwartz", "none"]
    max_per_day: float = Field(gt=0, description="Label maximum: mg/kg/day or mg/day.")
    grade: Grade
    cite: Cite
    band: tuple[Band, ...] = ()
    hemodialysis: DoseRow | None = None
    fixed: DoseRow | None = None
    modifier: tuple[Modifier, ...] = ()

    @model_validator(mode="after")
    def _shape(self) -> Schedule:
        if self.measure == "none" and (self.fixed is None or self.band):
            raise ValueError("a schedule without a renal measure needs 'fixed' and no bands")
        if self.measure != "none" and (not self.band or self.fixed is not None):
            raise ValueError("a renal schedule needs bands and no 'fixed' row")
        return self

    @property
    def measure_unit(self) -> str:
        """The unit of the renal measure its bands are written in."""
        return MEASURE_UNIT[self.measure]


class Administration(StrictModel):
    """Product and administration facts for one drug."""

    route: Literal["IV", "oral", "IV or oral"]
    cite: Cite
    grade: Grade
    infusion_minutes_min: float | None = None
    infusion_minutes_default: float | None = None
    max_rate_mg_per_kg_per_min: float | None = None
    max_concentration_mg_per_ml: float | None = None
    central_line_concentration_mg_per_ml: float | None = None
    peripheral_line_concentration_mg_per_ml: float | None = None
    vial_mg: float | None = None
    reconstitution_ml: float | None = None
    tablet_mg: float | None = None
    oral_solution_mg_per_ml: float | None = None
    instructions: tuple[str, ...] = ()
    pediatric_instructions: tuple[str, ...] | None = Field(
        None,
        description="Instructions for children, without the adult volumes (None: as adults).",
    )


class Rounding(StrictModel):
    """How a computed mg dose is rounded to a practical amount (stated in every dose)."""

    step_mg: float = Field(gt=0)
    finer_steps_mg: tuple[Annotated[float, Field(gt=0)], ...] = Field(
        (), description="Finer steps, coarsest first, for doses the step would move too far."
    )
    grade: Grade
    cite: Cite
    note: str


class HydrationRow(StrictModel):
    """Hydration volume for doses from ``min_mg_per_kg`` to ``max_mg_per_kg`` inclusive."""

    min_mg_per_kg: float
    max_mg_per_kg: float
    volume_ml_min: float
    volume_ml_max: float
    fluid: str
    cite: Cite


class PediatricFormula(StrictModel):
    """Label pediatric formula: mg = multiplier × BSA × CrCl(label Schwartz, capped)."""

    multiplier: float = Field(gt=0)
    max_mg: float = Field(gt=0)
    rounding_step_mg: float = Field(gt=0)
    rounding_grade: Grade
    tablet_window_mg: tuple[float, float]
    note: str
    cite: Cite


class Drug(StrictModel):
    """A drug file: identity, administration, rounding, hydration, schedules."""

    id: str
    name: str
    dose_unit: Literal["mg/kg", "mg"]
    summary: str
    cite: Cite
    administration: Administration
    rounding: Rounding | None = None
    first_dose_hydration: HydrationRow | None = None
    hydration: tuple[HydrationRow, ...] = ()
    schedule: tuple[Schedule, ...]
    warning: tuple[str, ...] = ()
    pediatric_formula: PediatricFormula | None = None


class RegimenComponent(StrictModel):
    drug: str
    phase: Literal["induction", "maintenance", "refractory_treatment"]


class DurationNote(StrictModel):
    """A sentence added to a regimen's duration text only when its predicates hold."""

    when: Annotated[tuple[str, ...], Field(min_length=1)]
    text: str
    cite: Cite


class Duration(StrictModel):
    min_days: int = Field(gt=0)
    max_days: int | None = None
    text: str
    grade: Grade
    cite: Cite
    note: tuple[DurationNote, ...] = ()


class StepDown(StrictModel):
    drug: str
    phase: Literal["induction"]
    after_improvement_days_min: int
    after_improvement_days_max: int
    requires: tuple[str, ...]
    grade: Grade
    cite: Cite


class Regimen(StrictModel):
    id: str
    title: str
    components: Annotated[tuple[RegimenComponent, ...], Field(min_length=1)]
    induction: Duration
    step_down: StepDown | None = None
    then: str
    cite: Cite


class RegimenRule(StrictModel):
    """First rule whose ``when`` predicates all hold and no ``unless`` holds wins."""

    id: str
    when: tuple[str, ...]
    unless: tuple[str, ...] = ()
    regimen: str | None = Field(None, description="None: no regimen; specialist review.")
    rationale: str
    cite: Cite


class Refusal(StrictModel):
    """A drug cmvrx never offers in a situation, with the reason and what to use instead."""

    id: str
    drug: str
    when: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()
    reason: str
    instead: str
    cite: Cite


class Alert(StrictModel):
    id: str
    severity: Literal["info", "warning", "critical"]
    when: Annotated[tuple[str, ...], Field(min_length=1)]
    unless: tuple[str, ...] = ()
    message: str
    cite: Cite


#: Recorded course results a monitoring item can be satisfied by (see engine/course/monitoring.py).
Tracked = Literal["cmv_pcr", "creatinine", "cbc", "electrolytes", "urine_protein", "cd4"]


class Monitoring(StrictModel):
    id: str
    test: str
    when: Annotated[tuple[str, ...], Field(min_length=1)]
    phase: Literal["induction", "maintenance", "all", "before_each_dose"]
    frequency: str
    every_days: float | None = Field(None, gt=0, description="Longest allowed gap, in days.")
    tracks: tuple[Tracked, ...] = Field(
        (),
        description="Course results that satisfy this test (course follow-up); () = not tracked.",
    )
    grade: Grade
    cite: Cite


class MutationRule(StrictModel):
    id: str
    gene: str
    mutations: tuple[str, ...] = Field(description="Codon changes, or ('*',) for any.")
    resistant_to: tuple[str, ...]
    implication: str
    remains_active: tuple[str, ...] = Field(
        (),
        description="Drugs this mutation alone leaves active; said only when the rest of "
        "the genotype does not compromise them.",
    )
    cite: Cite


class Criterion(StrictModel):
    id: str
    text: str
    grade: Grade
    cite: Cite
    when: tuple[str, ...] = Field((), description="Shown only when these predicates hold.")
    unless: tuple[str, ...] = Field((), description="Not shown when any of these holds.")


class MaintenanceOption(StrictModel):
    drug: str
    unless: tuple[str, ...] = ()
    cite: Cite


class SchwartzK(StrictModel):
    """A row of the label's old-k Schwartz table: age [min_age, max_age) in years."""

    min_age: float
    max_age: float
    sex: Literal["any", "male", "female"]
    low_birth_weight: bool | None = None
    k: float = Field(gt=0)
    cite: Cite


class Plausible(StrictModel):
    """Input-validation bounds for one field, in the internal unit."""

    field: str
    min: float
    max: float
    unit: str

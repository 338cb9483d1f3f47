"""A structured dosage: one drug, route, amount and interval — shared by plan doses,
course orders and checked orders.

Text forms ("350 mg IV q12h over 60 min") are rendered from it, never parsed back.
Equality is clinical: an interval is its number of administrations per week (and
whether it follows dialysis), so ``q12h`` equals ``twice daily``; amounts compare in
mg per administration. Per-dose, daily and weekly totals are properties.

No clinical number lives here: label intervals come from the knowledge schema's
``Interval`` vocabulary; infusion and hydration facts come from the knowledge through
``AdministrationFacts`` (built by the engine's dose tables).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from cmvrx.frozen import fast_init
from cmvrx.knowledge.schema import Interval as LabelInterval

if TYPE_CHECKING:
    from cmvrx.model.plan import DrugDose

HOURS_PER_WEEK = 168.0


class DosePhase(StrEnum):
    """The phases a dose is asked for: the knowledge schedules' phases, and
    ``prevention`` (the label's pediatric valganciclovir formula, quick doses only)."""

    induction = "induction"
    maintenance = "maintenance"
    prophylaxis = "prophylaxis"
    refractory_treatment = "refractory_treatment"
    prevention = "prevention"


#: Schedule words of order documents and ``--every`` (not hourly) → label interval.
SCHEDULE_WORDS: dict[str, LabelInterval] = {
    "daily": LabelInterval.once_daily,
    "once-daily": LabelInterval.once_daily,
    "twice-daily": LabelInterval.twice_daily,
    "every-2-days": LabelInterval.every_2_days,
    "weekly": LabelInterval.once_weekly,
    "once-weekly": LabelInterval.once_weekly,
    "twice-weekly": LabelInterval.twice_weekly,
    "every-2-weeks": LabelInterval.every_2_weeks,
    "3x-weekly-after-hd": LabelInterval.three_times_weekly_after_hemodialysis,
    "3x-weekly-after-hemodialysis": LabelInterval.three_times_weekly_after_hemodialysis,
    "after-dialysis": LabelInterval.three_times_weekly_after_hemodialysis,
}
#: The word a non-hourly interval is written with in JSON (``schedule``).
_WORD_OF: dict[LabelInterval, str] = {
    LabelInterval.once_weekly: "once-weekly",
    LabelInterval.twice_weekly: "twice-weekly",
    LabelInterval.every_2_weeks: "every-2-weeks",
    LabelInterval.three_times_weekly_after_hemodialysis: "3x-weekly-after-hd",
}
_HOURLY: dict[LabelInterval, float] = {
    LabelInterval.q8h: 8.0,
    LabelInterval.q12h: 12.0,
    LabelInterval.q24h: 24.0,
    LabelInterval.q48h: 48.0,
    LabelInterval.twice_daily: 12.0,
    LabelInterval.once_daily: 24.0,
    LabelInterval.every_2_days: 48.0,
}


_MISSING = object()
_PARSED: dict[str, object] = {}


@fast_init
@dataclass(frozen=True, slots=True, eq=False)
class Interval:
    """How often: every ``hours`` hours, or ``per_week`` times a week (after dialysis)."""

    per_week: float
    hours: float | None = None
    after_dialysis: bool = False
    label: str = ""  # the label's wording when it is one ("q12h", "once weekly", ...)

    @classmethod
    def every(cls, hours: float) -> Interval:
        return cls(HOURS_PER_WEEK / hours, hours, False, f"q{hours:g}h")

    @classmethod
    def of_label(cls, label: LabelInterval) -> Interval:
        hours = _HOURLY.get(label)
        dialysis = label is LabelInterval.three_times_weekly_after_hemodialysis
        return cls(label.administrations_per_week, hours, dialysis, label.value)

    @classmethod
    def parse_label(cls, text: str) -> Interval | None:
        """The interval a label wording names, None if it is not one."""
        found = _PARSED.get(text, _MISSING)
        if found is _MISSING:
            try:
                found = cls.of_label(LabelInterval(text.strip().lower()))
            except ValueError:
                found = None
            if len(_PARSED) < 256:  # label wordings: a handful (free text is not kept)
                _PARSED[text] = found
        return found  # type: ignore[return-value]

    @property
    def per_day(self) -> float:
        return self.per_week / 7.0

    @property
    def schedule(self) -> str | None:
        """The schedule word for intervals that are not every-N-hours (weekly, dialysis)."""
        if self.hours is not None:
            return None
        for label, word in _WORD_OF.items():
            if math.isclose(label.administrations_per_week, self.per_week) and (
                self.after_dialysis
                == (label is LabelInterval.three_times_weekly_after_hemodialysis)
            ):
                return word
        return f"{self.per_week:g}x-weekly"

    @property
    def text(self) -> str:
        if self.label:
            return self.label
        if self.hours is not None:
            return f"q{self.hours:g}h"
        return f"{self.per_week:g} times weekly" + (
            ", after dialysis" if self.after_dialysis else ""
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Interval):
            return NotImplemented
        return (
            math.isclose(self.per_week, other.per_week, rel_tol=1e-9)
            and self.after_dialysis == other.after_dialysis
        )

    def __hash__(self) -> int:
        return hash((round(self.per_week, 6), self.after_dialysis))


@fast_init
@dataclass(frozen=True, slots=True)
class InfusionLine:
    """One way to give the infusion: the line, the concentration and the volume it means."""

    line: str  # "any", "central", "peripheral"
    concentration_mg_per_ml: float
    volume_ml: float
    at_most: bool  # True: a maximum concentration (so the volume is a minimum)


@fast_init
@dataclass(frozen=True, slots=True)
class Infusion:
    minutes: float | None
    max_rate_mg_per_kg_per_min: float | None
    lines: tuple[InfusionLine, ...] = ()


@fast_init
@dataclass(frozen=True, slots=True)
class Hydration:
    fluid: str
    volume_ml_min: float
    volume_ml_max: float
    timing: str  # "before the first infusion", "with each infusion"


@fast_init
@dataclass(frozen=True, slots=True)
class HydrationBand:
    """A label hydration row: the volume for doses from ``min``..``max`` mg/kg."""

    min_mg_per_kg: float
    max_mg_per_kg: float
    volume_ml_min: float
    volume_ml_max: float
    fluid: str


@fast_init
@dataclass(frozen=True, slots=True)
class AdministrationFacts:
    """The patient-independent administration facts of one drug (from the knowledge)."""

    infusion_minutes_min: float | None = None
    infusion_minutes_default: float | None = None
    max_rate_mg_per_kg_per_min: float | None = None
    max_concentration_mg_per_ml: float | None = None
    central_line_concentration_mg_per_ml: float | None = None
    peripheral_line_concentration_mg_per_ml: float | None = None
    first_dose_hydration: HydrationBand | None = None
    hydration: tuple[HydrationBand, ...] = ()


@fast_init
@dataclass(frozen=True, slots=True)
class Dosage:
    """One drug as dosed or ordered. ``amount_mg`` is per administration; for mg/kg
    doses ``amount_mg_per_kg`` and the ``weight_kg`` used are given too."""

    drug: str
    route: str  # "iv" or "oral"
    interval: Interval
    amount_mg: float | None = None
    amount_mg_per_kg: float | None = None
    weight_kg: float | None = None
    phase: str | None = None
    infusion: Infusion | None = None
    hydration: tuple[Hydration, ...] = ()
    duration: str = ""
    infusion_minutes: float | None = None  # as ordered (an order may state it)
    order_id: str | None = None

    @property
    def per_dose_mg(self) -> float | None:
        if self.amount_mg is not None:
            return self.amount_mg
        if self.amount_mg_per_kg is not None and self.weight_kg is not None:
            return self.amount_mg_per_kg * self.weight_kg
        return None

    @property
    def per_day_mg(self) -> float | None:
        mg = self.per_dose_mg
        return None if mg is None else mg * self.interval.per_day

    @property
    def per_week_mg(self) -> float | None:
        mg = self.per_dose_mg
        return None if mg is None else mg * self.interval.per_week

    def same_as(self, other: Dosage, rel_tol: float = 1e-6) -> bool:
        """Clinically the same order: drug, route, interval and amount per administration."""
        a, b = self.per_dose_mg, other.per_dose_mg
        return (
            self.drug == other.drug
            and self.route == other.route
            and self.interval == other.interval
            and a is not None
            and b is not None
            and math.isclose(a, b, rel_tol=rel_tol)
        )

    @property
    def text(self) -> str:
        """'ganciclovir 350 mg (5 mg/kg × 70 kg) IV q12h over 60 min'."""
        mg = self.per_dose_mg
        amount = f"{mg:g} mg" if mg is not None else f"{self.amount_mg_per_kg:g} mg/kg"
        if self.amount_mg_per_kg is not None and self.weight_kg is not None:
            amount += f" ({self.amount_mg_per_kg:g} mg/kg × {self.weight_kg:g} kg)"
        route = "IV" if self.route == "iv" else self.route
        out = f"{self.drug} {amount} {route} {self.interval.text}"
        minutes = self.infusion_minutes or (self.infusion.minutes if self.infusion else None)
        if minutes:
            out += f" over {minutes:.0f} min"
        return out

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (docs/order-check.md)."""
        mg = self.per_dose_mg
        out: dict[str, Any] = {
            "drug": self.drug,
            "route": self.route,
            "amount_mg": None if mg is None else round(mg, 1),
            "amount_mg_per_kg": self.amount_mg_per_kg,
            "weight_kg": self.weight_kg,
            "interval_hours": self.interval.hours,
            "schedule": self.interval.schedule,
            "interval": self.interval.text,
            "per_week": self.interval.per_week,
            "per_day_mg": None if mg is None else round(mg * self.interval.per_day, 1),
            "phase": self.phase,
            "infusion_minutes": self.infusion_minutes,
            "infusion": None if self.infusion is None else _infusion_dict(self.infusion),
            "hydration": [
                {
                    "fluid": h.fluid,
                    "volume_ml_min": h.volume_ml_min,
                    "volume_ml_max": h.volume_ml_max,
                    "timing": h.timing,
                }
                for h in self.hydration
            ],
            "duration": self.duration,
            "text": self.text,
        }
        if self.order_id is not None:
            out["id"] = self.order_id
        return out


def _infusion_dict(i: Infusion) -> dict[str, Any]:
    return {
        "minutes": i.minutes,
        "max_rate_mg_per_kg_per_min": i.max_rate_mg_per_kg_per_min,
        "lines": [
            {
                "line": ln.line,
                "concentration_mg_per_ml": ln.concentration_mg_per_ml,
                "volume_ml": ln.volume_ml,
                "at_most": ln.at_most,
            }
            for ln in i.lines
        ],
    }


def route_of(label_route: str) -> str:
    """The order route word of a knowledge route ('IV' → 'iv', 'IV or oral' → 'iv')."""
    return "oral" if label_route.lower() == "oral" else "iv"


def from_drug_dose(dose: DrugDose) -> Dosage | None:
    """The structured dosage of a plan dose (None when the dose has no amount)."""
    if dose.status != "dose":
        return None
    interval = Interval.parse_label(dose.interval)
    mg = dose.practical_mg if dose.practical_mg is not None else dose.dose_mg
    if interval is None or mg is None:
        return None
    facts = dose.administration
    return Dosage(
        drug=dose.drug,
        route=route_of(dose.route),
        interval=interval,
        amount_mg=mg,
        amount_mg_per_kg=dose.dose_per_kg,
        weight_kg=dose.weight_kg,
        phase=dose.phase,
        infusion=None if facts is None else infusion_of(facts, mg, dose.dose_per_kg),
        hydration=() if facts is None else hydration_of(facts, dose.dose_per_kg),
    )


def infusion_of(facts: AdministrationFacts, mg: float, per_kg: float | None) -> Infusion | None:
    """Duration (the label default or minimum, at least the time the maximum rate needs),
    and the volume on each line."""
    minutes = facts.infusion_minutes_default or facts.infusion_minutes_min
    if facts.max_rate_mg_per_kg_per_min and per_kg is not None:
        minutes = max(minutes or 0.0, per_kg / facts.max_rate_mg_per_kg_per_min)
    lines: list[InfusionLine] = []
    if facts.max_concentration_mg_per_ml:
        c = facts.max_concentration_mg_per_ml
        lines.append(InfusionLine("any", c, round(mg / c), True))
    if facts.central_line_concentration_mg_per_ml:
        c = facts.central_line_concentration_mg_per_ml
        lines.append(InfusionLine("central", c, round(mg / c), False))
    if facts.peripheral_line_concentration_mg_per_ml:
        c = facts.peripheral_line_concentration_mg_per_ml
        lines.append(InfusionLine("peripheral", c, round(mg / c), False))
    if minutes is None and not lines and facts.max_rate_mg_per_kg_per_min is None:
        return None
    return Infusion(minutes, facts.max_rate_mg_per_kg_per_min, tuple(lines))


def hydration_of(facts: AdministrationFacts, per_kg: float | None) -> tuple[Hydration, ...]:
    """The label's hydration for a dose of ``per_kg`` mg/kg (none when it gives none)."""
    if per_kg is None or not facts.hydration:
        return ()
    out: list[Hydration] = []
    first = facts.first_dose_hydration
    if first is not None:
        out.append(
            Hydration(
                first.fluid, first.volume_ml_min, first.volume_ml_max, "before the first infusion"
            )
        )
    for row in facts.hydration:
        if row.min_mg_per_kg <= per_kg <= row.max_mg_per_kg:
            out.append(
                Hydration(row.fluid, row.volume_ml_min, row.volume_ml_max, "with each infusion")
            )
            break
    return tuple(out)

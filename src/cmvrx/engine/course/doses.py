"""Doses given, checked against the active order and the label maximum.

Pure. Each ``dose_given`` up to ``as_of`` is compared with:

* the label maximum for the drug: the largest single dose of any of its label rows
  (mg/kg × the weight known when it was given, or mg) and, over any 24 h, the larger of
  the schedules' ``max_per_day`` and that single dose (cidofovir is dosed weekly) — above
  either, by more than ``course_dose_match_tolerance``, is critical;
* the order active when it was given (none → warning; a different amount, beyond the same
  tolerance → warning).

One finding per rule and drug, naming how many doses and the largest.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta

from cmvrx.engine.course.state import CourseState, TherapyPeriod, finding
from cmvrx.frozen import fast_init
from cmvrx.knowledge.bundle import Knowledge
from cmvrx.model.assessment import Finding
from cmvrx.model.course import DoseGiven, Weight
from cmvrx.units import to_internal

_DAY = timedelta(days=1)  # "per day" of max_per_day: a unit, not a clinical number


@fast_init
@dataclass(frozen=True, slots=True)
class LabelMaximum:
    """The label's largest single dose and largest 24-h amount (mg/kg or mg)."""

    per_dose: float
    per_day: float
    unit: str
    cite: tuple[str, ...]


def label_maximum(k: Knowledge, drug: str, *, congenital: bool = False) -> LabelMaximum | None:
    """The drug's label maximum from its dose tables, computed once per knowledge. The
    congenital-CMV column (a higher per-kg dose for infants) counts only for congenital
    disease: it must not raise the ceiling for everyone else."""
    return k.derived(
        ("course_doses.label_maximum", drug, str(congenital)),
        lambda kk: _build_maximum(kk, drug, congenital=congenital),
    )


def _build_maximum(k: Knowledge, drug: str, *, congenital: bool) -> LabelMaximum | None:
    d = k.drugs.get(drug)
    if d is None:
        return None
    schedules = [s for s in d.schedule if congenital or s.column != "congenital"]
    doses = [
        row.dose
        for s in schedules
        for row in (*s.band, s.hemodialysis, s.fixed, *s.modifier)
        if row is not None and row.recommended and row.dose is not None
    ]
    if d.pediatric_formula is not None and d.dose_unit == "mg":
        doses.append(d.pediatric_formula.max_mg)
    if not doses:
        return None
    per_dose = max(doses)
    per_day = max(max(s.max_per_day for s in schedules), per_dose)
    cite = tuple(dict.fromkeys(c for s in schedules for c in s.cite))
    return LabelMaximum(per_dose, per_day, d.dose_unit, cite)


def dose_findings(st: CourseState) -> list[Finding]:
    """Findings on the doses given up to ``as_of`` (see the module docstring)."""
    k = st.knowledge
    tolerance = k.number("course_dose_match_tolerance")
    weights = _weights(st)
    problems: dict[tuple[str, str], list[str]] = {}
    by_drug: dict[str, list[DoseGiven]] = {}  # each drug's doses, in clinical (time) order
    for dose in st.doses_given:
        by_drug.setdefault(dose.drug.value, []).append(dose)
    for dose in st.doses_given:
        drug = dose.drug.value
        for rule, text in _check(st, dose, weights, tolerance, by_drug[drug]):
            problems.setdefault((rule, drug), []).append(text)
    out = []
    for (rule, drug), texts in sorted(problems.items()):
        limit = label_maximum(k, drug, congenital=st.case.disease.congenital is True)
        cite = limit.cite if limit is not None and "LABEL" in rule else ()
        count = f"{len(texts)} dose(s) of {drug}: " if len(texts) > 1 else ""
        more = f" (and {len(texts) - 3} more)" if len(texts) > 3 else ""
        message = f"{count}{'; '.join(texts[-3:])}{more}."
        out.append(finding(k, rule, message, cite=cite, drug=drug))
    return out


def _check(
    st: CourseState,
    dose: DoseGiven,
    weights: list[tuple[datetime | None, float]],
    tol: float,
    same_drug: list[DoseGiven],
) -> list[tuple[str, str]]:
    k = st.knowledge
    drug = dose.drug.value
    out: list[tuple[str, str]] = []
    limit = label_maximum(k, drug, congenital=st.case.disease.congenital is True)
    if limit is not None:
        kg = _weight_at(weights, dose.at)
        scale, basis = (kg, f" for {kg:g} kg") if limit.unit == "mg/kg" else (1.0, "")
        per_dose, per_day = limit.per_dose * scale, limit.per_day * scale
        # the doses of this drug given in the 24 h up to this one (in time order: a slice)
        start = bisect_right(same_drug, dose.at - _DAY, key=_at)
        end = bisect_right(same_drug, dose.at, key=_at)
        window = sum(g.dose_mg for g in same_drug[start:end])
        if dose.dose_mg > per_dose * (1 + tol):
            out.append(
                (
                    "CRS-DOSE-GIVEN-ABOVE-LABEL-MAXIMUM",
                    f"{_when(dose)} is above the label maximum of {limit.per_dose:g} {limit.unit}"
                    f" per dose ({per_dose:g} mg{basis})",
                )
            )
        elif window > per_day * (1 + tol):
            out.append(
                (
                    "CRS-DOSE-GIVEN-ABOVE-LABEL-MAXIMUM",
                    f"{window:g} mg of {drug} in the 24 h up to {dose.at:%Y-%m-%d %H:%M} is above"
                    f" the label maximum of {limit.per_day:g} {limit.unit} per 24 h"
                    f" ({per_day:g} mg{basis})",
                )
            )
    order = _order_at(st, dose)
    if order is None:
        out.append(
            ("CRS-DOSE-GIVEN-NOT-ORDERED", f"{_when(dose)}: no active {drug} order at that time")
        )
    elif abs(dose.dose_mg - order) > tol * order:
        out.append(
            (
                "CRS-DOSE-GIVEN-DIFFERS-FROM-ORDER",
                f"{_when(dose)} differs from the active order of {order:g} mg by more than"
                f" {tol:.0%} (course_dose_match_tolerance, NOT CONFIRMED)",
            )
        )
    return out


def _at(dose: DoseGiven) -> datetime:
    return dose.at


def _when(dose: DoseGiven) -> str:
    """'ganciclovir 320 mg at 2026-11-25 08:00' (only for a finding: formatting costs)."""
    return f"{dose.drug.value} {dose.dose_mg:g} mg at {dose.at:%Y-%m-%d %H:%M}"


def _order_at(st: CourseState, dose: DoseGiven) -> float | None:
    period: TherapyPeriod | None = None
    for p in st.periods:
        if p.start <= dose.at:
            period = p
    if period is None or period.phase == "stopped":
        return None
    amounts = [o.dose_mg for o in period.orders if o.drug == dose.drug]
    return amounts[-1] if amounts else None


def _weights(st: CourseState) -> list[tuple[datetime | None, float]]:
    """The accepted weights (kg) in clinical order; the baseline first (None: undated)."""
    p = st.course.baseline.patient
    out: list[tuple[datetime | None, float]] = [
        (None, to_internal(p.weight.value, p.weight.unit, "mass", field="patient.weight"))
    ]
    for e in st.events:
        if isinstance(e, Weight):
            out.append((e.at, to_internal(e.value, e.unit, "mass", field="weight")))
    return out


def _weight_at(weights: list[tuple[datetime | None, float]], at: datetime) -> float:
    kg = weights[0][1]
    for when, value in weights[1:]:
        if when is not None and when <= at:
            kg = value
    return kg

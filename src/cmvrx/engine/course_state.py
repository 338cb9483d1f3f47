"""The patient's state at ``as_of``, rebuilt from the baseline case and the course events.

Pure. Events dated after ``as_of`` are ignored. Events are put in clinical order by
``at`` with a deterministic tie-break on their content, so the order they arrived in
never changes the result. The latest value of each measurement replaces the baseline
one; the rebuilt ``Case`` then goes through the same intake, renal and situation code as
a plan (``engine.intake``, ``engine.renal``, ``engine.planner.situation``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from cmvrx.engine.intake import Facts, read_facts
from cmvrx.engine.planner import situation
from cmvrx.engine.predicates import Situation
from cmvrx.errors import InputError
from cmvrx.knowledge.bundle import Knowledge
from cmvrx.model.assessment import Finding
from cmvrx.model.course import (
    ClinicalStatus,
    CmvPcr,
    Course,
    DialysisChanged,
    DoseGiven,
    DoseHeld,
    DrugOrder,
    Event,
    Lab,
    PlanStarted,
    RegimenChanged,
    Weight,
)
from cmvrx.model.patient import (
    Case,
    Hiv,
    Measurement,
    OralRoute,
    Quantity,
    Renal,
    UrineDipstick,
    UrineProtein,
)

DAY = timedelta(days=1)
#: The Gregorian mean month: a unit definition (365.2425 / 12 days), not a clinical number.
DAYS_PER_MONTH = 30.436875
INDUCTION_PHASES = frozenset({"induction", "step_down"})
BLOOD_SPECIMENS = frozenset({"blood", "plasma", "whole_blood"})


@dataclass(frozen=True, slots=True)
class TherapyPeriod:
    """What was ordered from ``start`` until the next plan change (``end``, exclusive)."""

    start: datetime
    end: datetime | None
    phase: str
    orders: tuple[DrugOrder, ...]
    regimen_id: str | None

    @property
    def drugs(self) -> frozenset[str]:
        return frozenset(o.drug.value for o in self.orders)


@dataclass(frozen=True, slots=True)
class CourseState:
    """Everything known at ``as_of``: latest values (as a ``Situation``) and the history."""

    course: Course
    as_of: datetime
    events: tuple[Event, ...]
    late: int
    case: Case
    facts: Facts
    situation: Situation
    periods: tuple[TherapyPeriod, ...]
    pcrs: tuple[CmvPcr, ...]
    labs: Mapping[str, tuple[Lab, ...]]
    statuses: tuple[ClinicalStatus, ...]
    doses_given: tuple[DoseGiven, ...]
    doses_held: tuple[DoseHeld, ...]

    @property
    def knowledge(self) -> Knowledge:
        return self.situation.knowledge

    @property
    def current(self) -> TherapyPeriod | None:
        return self.periods[-1] if self.periods else None

    def days_since(self, t: datetime) -> float:
        return (self.as_of - t) / DAY


def ordered_events(course: Course) -> list[Event]:
    """The events in clinical order, independent of arrival order."""
    for i, event in enumerate(course.events):
        if event.at.tzinfo is None:
            raise InputError("timestamps must carry a time zone", field=f"events[{i}].at")
    return sorted(course.events, key=lambda e: (e.at, e.kind, e.model_dump_json()))


def build_state(course: Course, k: Knowledge, as_of: datetime) -> CourseState:
    """The patient's state at ``as_of`` (events after it are ignored)."""
    timeline = ordered_events(course)
    events = tuple(e for e in timeline if e.at <= as_of)
    labs = _labs_by_analyte(events)
    periods = therapy_periods(events)
    case = _case_at(course.baseline, events, labs, periods, as_of)
    facts = read_facts(case, k, as_of)
    current = periods[-1] if periods else None
    drugs = current.drugs if current is not None else frozenset()
    s = dataclasses.replace(
        situation(facts, k), regimen_drugs=drugs, regimen_chosen=bool(drugs)
    )
    return CourseState(
        course=course,
        as_of=as_of,
        events=events,
        late=len(timeline) - len(events),
        case=case,
        facts=facts,
        situation=s,
        periods=periods,
        pcrs=tuple(e for e in events if isinstance(e, CmvPcr) and e.specimen in BLOOD_SPECIMENS),
        labs=labs,
        statuses=tuple(e for e in events if isinstance(e, ClinicalStatus)),
        doses_given=tuple(e for e in events if isinstance(e, DoseGiven)),
        doses_held=tuple(e for e in events if isinstance(e, DoseHeld)),
    )


def therapy_periods(events: Iterable[Event]) -> tuple[TherapyPeriod, ...]:
    """The plan as it changed over time: one period per PlanStarted/RegimenChanged."""
    changes = [e for e in events if isinstance(e, PlanStarted | RegimenChanged)]
    periods: list[TherapyPeriod] = []
    regimen_id: str | None = None
    for i, change in enumerate(changes):
        if isinstance(change, PlanStarted):
            regimen_id = change.regimen_id
        end = changes[i + 1].at if i + 1 < len(changes) else None
        phase = change.phase.value if change.orders else "stopped"
        periods.append(TherapyPeriod(change.at, end, phase, tuple(change.orders), regimen_id))
    return tuple(periods)


def induction_run(periods: tuple[TherapyPeriod, ...], upto: int) -> tuple[TherapyPeriod, ...]:
    """The contiguous induction/step-down periods ending at index ``upto`` (inclusive)."""
    run: list[TherapyPeriod] = []
    for period in reversed(periods[: upto + 1]):
        if period.phase not in INDUCTION_PHASES:
            break
        run.insert(0, period)
    return tuple(run)


def induction_min_days(k: Knowledge, run: tuple[TherapyPeriod, ...]) -> tuple[int | None, str]:
    """Minimum induction days for the run: from its regimen id, else the regimens with the
    same drugs (the longest minimum, to be safe); (None, "") if nothing matches."""
    if not run:
        return None, ""
    regimen_id = run[0].regimen_id
    if regimen_id and regimen_id in k.regimens:
        return k.regimens[regimen_id].induction.min_days, regimen_id
    drugs = run[0].drugs
    matches = [
        r for r in k.regimens.values() if frozenset(c.drug for c in r.components) == drugs
    ]
    if not matches:
        return None, ""
    best = max(matches, key=lambda r: r.induction.min_days)
    return best.induction.min_days, best.id


def finding(
    k: Knowledge,
    rule_id: str,
    message: str,
    *,
    based_on: Iterable[str] = (),
    cite: Iterable[str] = (),
    drug: str | None = None,
) -> Finding:
    """A finding of course rule ``rule_id`` (severity, title, grade and sources from course.toml)."""
    rule = k.course_rule(rule_id)
    return Finding(
        rule_id=rule.id,
        kind=rule.kind,
        severity=rule.severity,
        title=rule.title,
        message=message,
        cite=tuple(dict.fromkeys((*rule.cite, *cite))),
        based_on=tuple(dict.fromkeys(based_on)),
        drug=drug,
        grade=rule.grade.value,
    )


def param_cite(k: Knowledge, *names: str) -> tuple[str, ...]:
    """The citations of the parameters a finding used."""
    return tuple(dict.fromkeys(c for n in names for c in k.param(n).cite))


# --- rebuilding the case ---------------------------------------------------------------


def _labs_by_analyte(events: Iterable[Event]) -> dict[str, tuple[Lab, ...]]:
    out: dict[str, list[Lab]] = {}
    for e in events:
        if isinstance(e, Lab) and (e.value is not None or e.dipstick is not None or e.suppressed is not None):
            out.setdefault(e.analyte.value, []).append(e)
    return {name: tuple(labs) for name, labs in out.items()}


def _latest_value(labs: Mapping[str, tuple[Lab, ...]], analyte: str) -> Lab | None:
    for lab in reversed(labs.get(analyte, ())):
        if lab.value is not None:
            return lab
    return None


def _measurement(
    lab: Lab | None, fallback: Measurement | None, as_of: datetime
) -> Measurement | None:
    if lab is not None:
        if lab.value is None:  # pragma: no cover - _latest_value only returns valued labs
            return None
        if not lab.unit:
            raise InputError(
                f"a {lab.analyte.value} result needs its unit",
                field=f"events[{lab.analyte.value} at {lab.at.isoformat()}].unit",
            )
        return Measurement(value=lab.value, unit=lab.unit, measured_at=lab.at)
    if fallback is not None and fallback.measured_at <= as_of:
        return fallback
    return None


def _case_at(
    base: Case,
    events: tuple[Event, ...],
    labs: Mapping[str, tuple[Lab, ...]],
    periods: tuple[TherapyPeriod, ...],
    as_of: datetime,
) -> Case:
    def m(analyte: str, fallback: Measurement | None) -> Measurement | None:
        return _measurement(_latest_value(labs, analyte), fallback, as_of)

    weights = [e for e in events if isinstance(e, Weight)]
    patient = base.patient
    if weights:
        w = weights[-1]
        patient = patient.model_copy(
            update={"weight": Quantity(value=w.value, unit=w.unit), "weight_measured_at": w.at}
        )
    dialysis = [e for e in events if isinstance(e, DialysisChanged)]
    r = base.renal
    renal = Renal(
        serum_creatinine=m("creatinine", r.serum_creatinine),
        baseline_serum_creatinine=r.baseline_serum_creatinine
        or _pre_treatment_creatinine(base, labs, periods, as_of),
        measured_creatinine_clearance=m(
            "measured_creatinine_clearance", r.measured_creatinine_clearance
        ),
        dialysis=dialysis[-1].dialysis if dialysis else r.dialysis,
        urine_protein=_urine_protein(labs, r.urine_protein, as_of),
    )
    counts, lytes = base.blood_counts, base.electrolytes
    return base.model_copy(
        update={
            "patient": patient,
            "renal": renal,
            "hiv": _hiv(base.hiv, labs, as_of),
            "blood_counts": counts.model_copy(
                update={
                    "anc": m("anc", counts.anc),
                    "platelets": m("platelets", counts.platelets),
                    "hemoglobin": m("hemoglobin", counts.hemoglobin),
                }
            ),
            "electrolytes": lytes.model_copy(
                update={
                    name: m(name, getattr(lytes, name))
                    for name in ("potassium", "magnesium", "calcium", "ionized_calcium", "phosphate")
                }
            ),
            "oral": _oral(base.oral, events),
        }
    )


def _pre_treatment_creatinine(
    base: Case,
    labs: Mapping[str, tuple[Lab, ...]],
    periods: tuple[TherapyPeriod, ...],
    as_of: datetime,
) -> Quantity | None:
    """Cidofovir's baseline: the last creatinine at or before cidofovir was first ordered."""
    start = next((p.start for p in periods if "cidofovir" in p.drugs), None)
    if start is None:
        return None
    before = [lab for lab in labs.get("creatinine", ()) if lab.at <= start and lab.value is not None]
    if before and before[-1].unit and before[-1].value is not None:
        return Quantity(value=before[-1].value, unit=before[-1].unit)
    scr = base.renal.serum_creatinine
    if scr is not None and scr.measured_at <= min(start, as_of):
        return Quantity(value=scr.value, unit=scr.unit)
    return None


def _urine_protein(
    labs: Mapping[str, tuple[Lab, ...]], fallback: UrineProtein | None, as_of: datetime
) -> UrineProtein | None:
    results = labs.get("urine_protein", ())
    if results:
        lab = results[-1]
        quantity = None
        if lab.value is not None:
            if not lab.unit:
                raise InputError(
                    "a urine protein value needs its unit",
                    field=f"events[urine_protein at {lab.at.isoformat()}].unit",
                )
            quantity = Quantity(value=lab.value, unit=lab.unit)
        if quantity is not None or lab.dipstick is not None:
            return UrineProtein(quantity=quantity, dipstick=lab.dipstick, measured_at=lab.at)
    if fallback is not None and fallback.measured_at <= as_of:
        return fallback
    return None


def _hiv(base: Hiv | None, labs: Mapping[str, tuple[Lab, ...]], as_of: datetime) -> Hiv | None:
    if base is None:
        return None
    cd4 = _measurement(_latest_value(labs, "cd4"), base.cd4, as_of)
    rna = labs.get("hiv_rna", ())
    update: dict[str, object] = {"cd4": cd4}
    if rna:
        update["hiv_rna_suppressed"] = rna[-1].suppressed
        update["hiv_rna"] = None
    elif base.hiv_rna is not None and base.hiv_rna.measured_at > as_of:
        update["hiv_rna"] = None
        update["hiv_rna_suppressed"] = None
    return base.model_copy(update=update)


def _oral(base: OralRoute | None, events: tuple[Event, ...]) -> OralRoute | None:
    take = base.can_take_oral if base else None
    absorb = base.can_absorb_oral if base else None
    for e in events:
        if isinstance(e, ClinicalStatus):
            take = e.can_take_oral if e.can_take_oral is not None else take
            absorb = e.can_absorb_oral if e.can_absorb_oral is not None else absorb
    if take is False or absorb is False:
        return OralRoute(can_take_oral=bool(take), can_absorb_oral=bool(absorb))
    if take is None or absorb is None:
        return None
    return OralRoute(can_take_oral=take, can_absorb_oral=absorb)


DIPSTICK_ORDER = tuple(g.value for g in UrineDipstick)


def dipstick_at_least(grade: str | None, threshold: str) -> bool:
    """Is dipstick ``grade`` at or above ``threshold`` (negative < trace < 1+ … < 4+)?"""
    if grade is None:
        return False
    return DIPSTICK_ORDER.index(grade) >= DIPSTICK_ORDER.index(threshold)

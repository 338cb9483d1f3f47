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

from cmvrx.engine.course.rebuild import case_at, labs_by_analyte
from cmvrx.engine.intake import Facts, read_facts
from cmvrx.engine.planner import situation
from cmvrx.engine.predicates import Situation, holds
from cmvrx.errors import InputError
from cmvrx.frozen import fast_init
from cmvrx.knowledge.bundle import Knowledge
from cmvrx.model.assessment import Finding
from cmvrx.model.course import (
    ClinicalStatus,
    CmvPcr,
    Course,
    DoseGiven,
    DoseHeld,
    DrugOrder,
    Event,
    Lab,
    PlanStarted,
    RegimenChanged,
)
from cmvrx.model.patient import (
    Case,
    UrineDipstick,
)

DAY = timedelta(days=1)
#: The Gregorian mean month: a unit definition (365.2425 / 12 days), not a clinical number.
DAYS_PER_MONTH = 30.436875
INDUCTION_PHASES = frozenset({"induction", "step_down"})
BLOOD_SPECIMENS = frozenset({"blood", "plasma", "whole_blood"})


@fast_init
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


@fast_init
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
    csf_pcrs: tuple[CmvPcr, ...] = ()

    @property
    def knowledge(self) -> Knowledge:
        return self.situation.knowledge

    @property
    def current(self) -> TherapyPeriod | None:
        return self.periods[-1] if self.periods else None

    def days_since(self, t: datetime) -> float:
        return (self.as_of - t) / DAY


def _creatinine_window_hours(s: Situation, current: TherapyPeriod | None) -> float | None:
    return _window_hours(s, current, "creatinine")


def _window_hours(s: Situation, current: TherapyPeriod | None, tracked: str) -> float | None:
    """The strictest cadence (hours) of the ``tracked`` results in the current phase."""
    if current is None or current.phase == "stopped":
        return None
    phase = "induction" if current.phase in INDUCTION_PHASES else "maintenance"
    gaps = [
        item.every_days * 24
        for item in s.knowledge.monitoring
        if tracked in item.tracks
        and item.every_days is not None
        and item.phase in ("all", phase)
        and holds(s, item.when)
    ]
    return min(gaps) if gaps else None


def ordered_events(course: Course) -> list[Event]:
    """The events in clinical order, independent of arrival order."""
    for i, event in enumerate(course.events):
        if event.at.tzinfo is None:
            raise InputError("timestamps must carry a time zone", field=f"events[{i}].at")
    events = course.events
    keys = [_time_and_kind(e) for e in events]
    order = sorted(range(len(events)), key=keys.__getitem__)
    out = [events[i] for i in order]
    # the content key only where time and kind tie: the same order as sorting every
    # event by the whole key (both sorts are stable), without a JSON dump per event
    i = 0
    while i < len(out):
        j = i + 1
        while j < len(out) and keys[order[j]] == keys[order[i]]:
            j += 1
        if j - i > 1:
            out[i:j] = sorted(out[i:j], key=_content)
        i = j
    return out


def _time_and_kind(e: Event) -> tuple[float, str]:
    """Time (a POSIX timestamp: aware datetimes compare slowly), then kind."""
    return (e.at.timestamp(), e.kind)


def _content(e: Event) -> str:
    """The tie-break on content: labs (most events) a cheap key, the rest their JSON."""
    if isinstance(e, Lab):
        return f"{e.analyte.value}|{e.value!r}|{e.unit}|{e.dipstick}|{e.suppressed}|{e.note}"
    return e.model_dump_json()


def _clinical_order(e: Event) -> tuple[float, str, str]:
    """Time, kind, then content: a total order that ignores arrival order."""
    return (*_time_and_kind(e), _content(e))


def build_state(
    course: Course, k: Knowledge, as_of: datetime, *, timeline: tuple[Event, ...] | None = None
) -> CourseState:
    """The patient's state at ``as_of`` (events after it are ignored); ``timeline`` is the
    course's events already in clinical order, when the caller has them."""
    timeline = timeline if timeline is not None else tuple(ordered_events(course))
    events = tuple(e for e in timeline if e.at <= as_of)
    labs = labs_by_analyte(events)
    periods = therapy_periods(events)
    case = case_at(course.baseline, events, labs, periods, as_of)
    facts = read_facts(case, k, as_of)
    current = periods[-1] if periods else None
    drugs = current.drugs if current is not None else frozenset()
    s = dataclasses.replace(situation(facts, k), regimen_drugs=drugs, regimen_chosen=bool(drugs))
    window = _creatinine_window_hours(s, current)
    cbc_window = _window_hours(s, current, "cbc")
    scr_limit = window if window and window > k.number("creatinine_max_age_hours") else None
    cbc_limit = (
        cbc_window if cbc_window and cbc_window > k.number("blood_count_max_age_hours") else None
    )
    if scr_limit is not None or cbc_limit is not None:
        # A result the monitoring cadence does not yet call overdue still verifies the
        # orders (and the step-down, by the same rule); otherwise "overdue" and "stale"
        # would disagree. The messages name the limit applied.
        facts = read_facts(
            case,
            k,
            as_of,
            creatinine_max_age_hours=scr_limit,
            blood_count_max_age_hours=cbc_limit,
        )
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
        csf_pcrs=tuple(e for e in events if isinstance(e, CmvPcr) and e.specimen == "csf"),
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
    matches = [r for r in k.regimens.values() if frozenset(c.drug for c in r.components) == drugs]
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


DIPSTICK_ORDER = tuple(g.value for g in UrineDipstick)


def dipstick_at_least(grade: str | None, threshold: str) -> bool:
    """Is dipstick ``grade`` at or above ``threshold`` (negative < trace < 1+ … < 4+)?"""
    if grade is None:
        return False
    return DIPSTICK_ORDER.index(grade) >= DIPSTICK_ORDER.index(threshold)

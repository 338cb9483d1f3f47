"""Which recorded events the assessment and the chart may use, and which are set aside.

Pure. Before a course is assessed or drawn at ``as_of`` its events (known at ``as_of``)
are reviewed:

* an event named by an ``entered_in_error`` event is ignored (it stays in the history);
* an event that fails the input rules a case obeys (``events.check_event``: unit,
  plausibility) is ignored and reported — one bad stored event never breaks a course;
* a weight, creatinine or blood count implausible against the patient's own last
  accepted value (delta limits in parameters.toml, NOT CONFIRMED) is **held**: not used
  for any dose until a ``measurement_confirmed`` event names it or a later measurement
  agrees with it (within the same limit); the orders it would change become unverifiable.

``seq`` is an event's position in recording order, from 1 (the store's sequence number).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from cmvrx.engine.body_size import check_body_size
from cmvrx.engine.course.events import check_event, measurement_value
from cmvrx.engine.course.state import ordered_events
from cmvrx.errors import CmvrxError, InputError, KnowledgeError
from cmvrx.frozen import fast_init
from cmvrx.knowledge.bundle import Knowledge
from cmvrx.model.assessment import OrderCheck, SetAside
from cmvrx.model.course import (
    Course,
    EnteredInError,
    Event,
    Lab,
    MeasurementConfirmed,
    Weight,
)
from cmvrx.model.patient import Case, Quantity
from cmvrx.units import to_internal

#: measurement -> (max-fold parameter, window parameter); the numbers are in parameters.toml.
DELTA_LIMITS: dict[str, tuple[str, str]] = {
    "weight": ("weight_delta_max_fold", "weight_delta_window_hours"),
    "creatinine": ("creatinine_delta_max_fold", "creatinine_delta_window_hours"),
    "anc": ("anc_delta_max_fold", "blood_count_delta_window_hours"),
    "platelets": ("platelets_delta_max_fold", "blood_count_delta_window_hours"),
    "hemoglobin": ("hemoglobin_delta_max_fold", "blood_count_delta_window_hours"),
}
#: Held measurements that make renally dosed orders unverifiable (weight: mg/kg and
#: Cockcroft–Gault; creatinine: the renal band).
DOSE_INPUTS = frozenset({"weight", "creatinine"})
_UNIT_KIND = {"weight": "mass", "creatinine": "creatinine"}


@fast_init
@dataclass(frozen=True, slots=True)
class Review:
    """The course with only usable events, what was set aside, and what is held."""

    course: Course
    set_aside: tuple[SetAside, ...]
    held: tuple[SetAside, ...]  # held and not superseded: each one blocks what uses it

    @property
    def blocking(self) -> frozenset[str]:
        """Measurements with a held value that doses depend on."""
        return frozenset(_measure_name(s) for s in self.held) & DOSE_INPUTS


def review_course(course: Course, k: Knowledge, as_of: datetime) -> Review:
    """Set aside what cannot be used at ``as_of``; the rest, in clinical order."""
    seq_of = {id(e): i + 1 for i, e in enumerate(course.events)}
    timeline = ordered_events(course)
    known = [e for e in timeline if e.at <= as_of]
    retracted = {e.ref_seq: e for e in known if isinstance(e, EnteredInError)}
    confirmed = {e.ref_seq for e in known if isinstance(e, MeasurementConfirmed)}
    aside: list[SetAside] = []
    candidates: list[Event] = []
    values: dict[int, float] = {}  # id(event) -> its value, internal unit (delta check)
    for e in known:
        seq = seq_of[id(e)]
        if isinstance(e, EnteredInError | MeasurementConfirmed):
            continue
        if seq in retracted:
            aside.append(_aside(e, seq, "entered_in_error", retracted[seq].reason))
            continue
        try:
            if isinstance(e, Weight | Lab) and e.value is not None:
                # what check_event checks of a valued weight or lab, the value kept
                values[id(e)] = measurement_value(e, k, field=f"seq {seq}")
            else:
                check_event(e, k, field=f"seq {seq}")
            if isinstance(e, Weight):
                _check_body_size(e, course.baseline, k)
        except InputError as exc:
            aside.append(_aside(e, seq, "invalid", str(exc), field=exc.field))
            continue
        candidates.append(e)
    held = _delta_check(candidates, course.baseline, k, confirmed, seq_of, values)
    aside.extend(held)
    held_ids = {s.seq for s in held}
    usable = {id(e) for e in candidates if seq_of[id(e)] not in held_ids}
    clean = [e for e in timeline if e.at > as_of or id(e) in usable]
    return Review(
        course=course.model_copy(update={"events": clean}),
        set_aside=tuple(sorted(aside, key=lambda s: s.seq)),
        held=tuple(s for s in held if s.status == "held"),
    )


def _check_body_size(e: Weight, baseline: Case, k: Knowledge) -> None:
    """A weight impossible for this patient's age and height (``body_size``: the rule a
    case obeys) is never used, confirmed or not: a confirmation cannot make it possible."""
    p = baseline.patient
    check_body_size(
        k,
        age_years=to_internal(p.age.value, p.age.unit, "age", field="baseline.patient.age"),
        weight_kg=to_internal(e.value, e.unit, "mass", field="weight"),
        height_cm=None
        if p.height is None
        else to_internal(p.height.value, p.height.unit, "length", field="baseline.patient.height"),
    )


def _aside(e: Event, seq: int, status: str, reason: str, field: str | None = None) -> SetAside:
    return SetAside(seq, e.kind, e.at, describe(e), status, reason, field)  # type: ignore[arg-type]


def describe(e: Event) -> str:
    """'weight 6.3 kg', 'creatinine 5 furlongs', 'dose_given ganciclovir 320 mg' …"""
    if isinstance(e, Weight):
        return f"weight {e.value:g} {e.unit}"
    if isinstance(e, Lab):
        value = f"{e.value:g} {e.unit or '(no unit)'}" if e.value is not None else ""
        result = value or str(e.dipstick or e.suppressed or "")
        return f"{e.analyte.value} {result}".strip()
    drug = getattr(e, "drug", None)
    dose = getattr(e, "dose_mg", None)
    if drug is not None and dose is not None:
        return f"{e.kind} {drug} {dose:g} mg"
    return e.kind


def _measure_name(s: SetAside) -> str:
    return "weight" if s.kind == "weight" else s.what.split(" ", 1)[0]


def _baseline(case: Case, name: str) -> tuple[float, datetime | None] | None:
    """The baseline case's value of a delta-checked measurement (internal unit) and time."""
    if name == "weight":
        q: Quantity | None = case.patient.weight
        at = case.patient.weight_measured_at
    else:
        m = (
            case.renal.serum_creatinine
            if name == "creatinine"
            else getattr(case.blood_counts, name, None)
        )
        if m is None:
            return None
        q, at = m, m.measured_at
    if q is None:
        return None
    kind = _UNIT_KIND.get(name, "hemoglobin" if name == "hemoglobin" else "cell_count")
    try:
        return to_internal(q.value, q.unit, kind, field=name), at
    except CmvrxError:
        return None  # the intake refuses the baseline itself, naming the field


def _series(events: Iterable[Event]) -> dict[str, list[Weight | Lab]]:
    """The weights and the valued labs of each delta-checked measurement, in order (one
    pass over the events)."""
    out: dict[str, list[Weight | Lab]] = {name: [] for name in DELTA_LIMITS}
    for e in events:
        if isinstance(e, Weight):
            out["weight"].append(e)
        elif isinstance(e, Lab) and e.value is not None:
            series = out.get(e.analyte.value)
            if series is not None and e.analyte.value != "weight":
                series.append(e)
    return out


def _delta_check(
    events: list[Event],
    case: Case,
    k: Knowledge,
    confirmed: set[int],
    seq_of: dict[int, int],
    values: dict[int, float] | None = None,
) -> list[SetAside]:
    out: list[SetAside] = []
    known = values or {}
    by_name = _series(events)
    for name, (fold_name, window_name) in DELTA_LIMITS.items():
        fold, window = _limits(k, fold_name, window_name)
        last = _baseline(case, name)
        pending: list[tuple[Weight | Lab, float, SetAside]] = []
        for e in by_name[name]:
            value = known[id(e)] if id(e) in known else measurement_value(e, k)
            seq = seq_of[id(e)]
            agreeing = [p for p in pending if _ratio(p[1], value) <= fold]
            recent = last is not None and (
                last[1] is None or (e.at - last[1]).total_seconds() <= window * 3600
            )
            if seq in confirmed or not recent or last is None or _ratio(last[0], value) <= fold:
                out.extend(replace(p[2], status="superseded") for p in pending)
                pending, last = [], (value, e.at)
            elif agreeing:
                # A re-measurement agreeing with a held value confirms both.
                rest = [p for p in pending if p not in agreeing]
                out.extend(replace(p[2], status="superseded") for p in rest)
                pending, last = [], (value, e.at)
            else:
                assert last is not None
                reason = (
                    f"×{_ratio(last[0], value):.2g} from {last[0]:g} "
                    f"{_internal_unit(name)}"
                    + (f" at {last[1]:%Y-%m-%d %H:%M}" if last[1] is not None else " (baseline)")
                    + f"; limit ×{fold:g} within {window:g} h ({fold_name}, NOT CONFIRMED)"
                )
                pending.append((e, value, _aside(e, seq, "held", reason)))
        out.extend(p[2] for p in pending)
    return out


def _internal_unit(name: str) -> str:
    return {"weight": "kg", "creatinine": "mg/dL", "hemoglobin": "g/dL"}.get(name, "cells/µL")


def _ratio(a: float, b: float) -> float:
    low, high = min(a, b), max(a, b)
    return float("inf") if low <= 0 else high / low


def _limits(k: Knowledge, fold_name: str, window_name: str) -> tuple[float, float]:
    fold, window = k.number(fold_name), k.number(window_name)
    if fold <= 1 or window <= 0:
        raise KnowledgeError(
            f"{fold_name} must be above 1 and {window_name} above 0 (got {fold:g}, {window:g})"
        )
    return fold, window


def hold_orders(
    checks: tuple[OrderCheck, ...], review: Review, k: Knowledge
) -> tuple[OrderCheck, ...]:
    """Orders a held weight/creatinine would re-check (keep, re-dose or stop) become
    unverifiable until the value is confirmed: each of those verdicts rests on it."""
    renally_dosed = k.vocabulary("renally_dosed")
    blocking = [s for s in review.held if _measure_name(s) in DOSE_INPUTS]
    if not blocking:
        return checks
    what = "; ".join(f"{s.what} (seq {s.seq})" for s in blocking)
    reason = f"confirm or re-measure the held {what}"
    return tuple(
        replace(c, verdict="unverifiable", recommended=None, change="", direction="", reason=reason)
        if c.ordered.drug in renally_dosed and c.verdict in ("ok", "redose", "stop")
        else c
        for c in checks
    )

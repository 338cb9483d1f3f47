"""A FHIR record's CMV antiviral therapy as course events (``plan_started``,
``regimen_changed``), so that the course engine can assess the course a record describes.

Mapping only, no clinical judgement: each CMV antiviral ``MedicationRequest`` (active,
on-hold, completed or stopped) is one therapy interval — from ``authoredOn`` (else
``dosageInstruction.timing.repeat.boundsPeriod.start``) to
``boundsPeriod.end`` (else ``dispenseRequest.validityPeriod.end``; an active order has
no end). At each moment the set of running orders changes, an event records the new set;
an empty set is ``stopped``. Therapy starts with induction (the guideline's order): the
first set is ``induction``; a later set is ``maintenance`` when the order check reads
every one of its orders as maintenance (``phase_of``, given by the caller), else
induction. The first event names its regimen when the caller knows it (``regimen_of``:
the regimen the guideline chooses for the patient, when the starting drugs belong to
it), so the course knows its minimum induction duration. A request whose dates or dose
cannot be read is reported as a problem and left out — never completed by guess.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cmvrx.errors import CmvrxError
from cmvrx.fhir.dosage import OrderReader
from cmvrx.fhir.inbound import InboundResult
from cmvrx.fhir.problems import Problem
from cmvrx.fhir.resources import Item
from cmvrx.fhir.values import instant, mapping
from cmvrx.knowledge.bundle import Knowledge
from cmvrx.model.course import EVENT_ADAPTER, Event
from cmvrx.model.patient import Case

RUNNING = frozenset({"active", "on-hold"})
ENDED = frozenset({"completed", "stopped"})

#: an order document → the phase the order check reads it as ("induction", "maintenance", …)
PhaseOf = Callable[[Mapping[str, Any]], str | None]
#: the drugs that start therapy → the regimen id they belong to (None: not known)
RegimenOf = Callable[[frozenset[str]], str | None]


@dataclass(frozen=True, slots=True)
class TherapyOrder:
    """One CMV antiviral request as a therapy interval."""

    ref: str
    doc: dict[str, Any]  # the order document (docs/order-check.md), with ``id``
    start: datetime
    end: datetime | None  # None: still running
    dose_mg: float
    interval: str
    route: str | None  # "IV" | "oral"


def therapy_orders(
    items: Sequence[Item],
    mapped: InboundResult,
    knowledge: Knowledge,
    as_of: datetime,
    problems: list[Problem],
) -> list[TherapyOrder]:
    """The record's CMV antiviral requests as intervals, oldest first."""
    drug_of = {d.resource: d.ingredient for d in mapped.drugs if d.role == "cmv_antiviral"}
    active = {str(doc.get("id")): doc for doc in mapped.active_orders}
    reader = knowledge.derived(("fhir", "orders"), OrderReader)
    weight = _weight_kg(mapped.case)
    out: list[TherapyOrder] = []
    for item in items:
        if item.type != "MedicationRequest" or item.ref not in drug_of:
            continue
        r = item.resource
        status = str(r.get("status", ""))
        if status not in RUNNING and status not in ENDED:
            continue
        if status in RUNNING:
            doc = active.get(str(r.get("id")))
        else:
            doc, _ = reader.order(r, drug_of[item.ref], item.ref, item.where, [])
        if doc is None:
            continue  # an unreadable running order is already a problem of the mapping
        order = _interval(item, doc, status, weight, as_of, problems)
        if order is not None:
            out.append(order)
    return sorted(out, key=lambda o: (o.start, o.ref))


def therapy_events(
    orders: Sequence[TherapyOrder], phase_of: PhaseOf, regimen_of: RegimenOf | None = None
) -> list[Event]:
    """``plan_started`` at the first running set, then ``regimen_changed`` at each change
    (the phase of each order is then ``current_phases(events)``)."""
    points = sorted({o.start for o in orders} | {o.end for o in orders if o.end is not None})
    events: list[Event] = []
    previous: tuple[str, ...] = ()
    for at in points:
        running = [o for o in orders if o.start <= at and (o.end is None or at < o.end)]
        refs = tuple(o.ref for o in running)
        if refs == previous:
            continue
        previous = refs
        data = _event(at, running, phase_of, first=not events)
        if data is not None and data["kind"] == "plan_started" and regimen_of is not None:
            data["regimen_id"] = regimen_of(frozenset(o.doc["drug"] for o in running))
        if data is not None:
            events.append(EVENT_ADAPTER.validate_python(data))
    return events


def _event(
    at: datetime, running: Sequence[TherapyOrder], phase_of: PhaseOf, *, first: bool
) -> dict[str, Any] | None:
    orders = [
        {"drug": o.doc["drug"], "dose_mg": o.dose_mg, "interval": o.interval, "route": o.route}
        for o in running
    ]
    if not running:
        return None if first else {"kind": "regimen_changed", "at": at, "phase": "stopped"}
    phase = "induction"
    if not first and {phase_of(o.doc) for o in running} == {"maintenance"}:
        phase = "maintenance"
    kind = "plan_started" if first else "regimen_changed"
    return {"kind": kind, "at": at, "phase": phase, "orders": orders}


def _interval(
    item: Item,
    doc: dict[str, Any],
    status: str,
    weight: float | None,
    as_of: datetime,
    problems: list[Problem],
) -> TherapyOrder | None:
    r = item.resource
    bounds = mapping(mapping(_first(r.get("dosageInstruction")).get("timing")).get("repeat"))
    period = mapping(bounds.get("boundsPeriod"))
    start = instant(r.get("authoredOn")) or instant(period.get("start"))
    end = instant(period.get("end")) or instant(
        mapping(mapping(r.get("dispenseRequest")).get("validityPeriod")).get("end")
    )

    def fail(fld: str, message: str) -> None:
        problems.append(Problem("missing_time", item.ref, fld, message, item.where))

    if start is None:
        fail("authoredOn", "no start date-time with a time zone: not placed in the course")
        return None
    if start > as_of:
        return None
    if status in RUNNING:
        end = None
    elif end is None:
        fail(
            "dosageInstruction.timing.repeat.boundsPeriod.end",
            f"{status} order without an end date-time: not placed in the course",
        )
        return None
    dose = _dose_mg(doc, weight)
    interval = _interval_text(doc)
    if dose is None or interval is None:
        return None
    route = {"iv": "IV", "oral": "oral"}.get(str(doc.get("route")))
    return TherapyOrder(item.ref, doc, start, end, dose, interval, route)


def _first(value: object) -> Mapping[str, Any]:
    if isinstance(value, list):
        return mapping(value[0]) if value else {}
    return mapping(value)


def _weight_kg(case: Case | None) -> float | None:
    if case is None:
        return None
    from cmvrx import units

    w = case.patient.weight
    try:
        return units.to_internal(float(w.value), w.unit, "mass", field="patient.weight")
    except CmvrxError:
        return None


def _dose_mg(doc: Mapping[str, Any], weight: float | None) -> float | None:
    mg = doc.get("amount_mg")
    if isinstance(mg, int | float):
        return float(mg)
    per_kg = doc.get("amount_mg_per_kg")
    if isinstance(per_kg, int | float) and weight is not None:
        return float(per_kg) * weight
    return None


def _interval_text(doc: Mapping[str, Any]) -> str | None:
    from cmvrx.api import parse_order

    try:
        return parse_order(doc).interval.text
    except CmvrxError:
        return None


def current_phases(events: Sequence[Event]) -> dict[str, str]:
    """drug → the dosing phase of the latest therapy event (``induction``/``maintenance``)."""
    for event in reversed(events):
        orders = getattr(event, "orders", None)
        phase = getattr(event, "phase", None)
        if orders is not None and phase is not None:
            dosing = "maintenance" if phase == "maintenance" else "induction"
            return {o.drug.value: dosing for o in orders}
    return {}

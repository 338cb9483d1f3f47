"""FHIR R4 in: Patient, Observation, Condition, Procedure (dialysis), MedicationRequest,
MedicationAdministration, MedicationStatement and AllergyIntolerance become a ``Case``,
course events and order documents — with every unusable value reported.

Entry points: ``read`` (a Bundle, a CDS Hooks prefetch dict, a resource or a list),
``read_ndjson`` (Bulk Data lines) and ``from_items``; ``group_by_patient`` splits a
multi-patient export. Nothing is defaulted: a missing required fact is a
``missing_fact`` problem and ``case`` is ``None`` (``case_document`` keeps what was
found, for a caller that can complete it from the clinician).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from cmvrx.fhir.casedoc import CaseAssembler, DrugUse
from cmvrx.fhir.conditions import ConditionFacts, ConditionReader
from cmvrx.fhir.dosage import OrderReader, dose_quantity, first_dosage
from cmvrx.fhir.drugs import DrugMatcher
from cmvrx.fhir.observations import ObservationReader, Reading, observation_time
from cmvrx.fhir.problems import Match, Problem
from cmvrx.fhir.resources import Item, collect, from_ndjson
from cmvrx.fhir.values import code_of, contained_code, instant, mapping, number
from cmvrx.knowledge.bundle import Knowledge
from cmvrx.knowledge.terminology import ObservationBinding, TerminologyFile
from cmvrx.model.course import EVENT_ADAPTER, Analyte, Event
from cmvrx.model.patient import Case, Dialysis

READ_TYPES = frozenset(
    {
        "Patient",
        "Observation",
        "Condition",
        "Procedure",
        "MedicationRequest",
        "MedicationAdministration",
        "MedicationStatement",
        "AllergyIntolerance",
        "Medication",
    }
)
_MED_TYPES = ("MedicationRequest", "MedicationAdministration", "MedicationStatement")
_ALLERGY = {
    "ganciclovir": "ganciclovir",
    "foscarnet": "foscarnet",
    "cidofovir": "cidofovir",
    "probenecid": "probenecid_or_sulfa_allergy",
    "sulfonamide": "probenecid_or_sulfa_allergy",
}
_LAB_ANALYTES = frozenset(a.value for a in Analyte)
_NEVER = datetime.min.replace(tzinfo=UTC)
#: an Observation's binding and ``observation_time``, read once (``newest_only``)
_Known = tuple[ObservationBinding, datetime | None]


def _newest_first(entry: tuple[Item, _Known]) -> datetime:
    """When an Observation was taken, for the newest-first order (never: the oldest)."""
    return entry[1][1] or _NEVER


@dataclass(frozen=True)
class InboundResult:
    """The case (or ``None`` with the reasons in ``problems``), events, orders and reports."""

    case: Case | None
    case_document: dict[str, Any]
    events: tuple[Event, ...]
    orders: tuple[dict[str, Any], ...]  # draft MedicationRequests of CMV antivirals
    active_orders: tuple[dict[str, Any], ...]  # active / on-hold ones
    problems: tuple[Problem, ...]
    matched: tuple[Match, ...]
    drugs: tuple[DrugUse, ...]
    skipped: dict[str, int]
    patient_id: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "case": self.case.model_dump(mode="json") if self.case else None,
            "case_document": self.case_document,
            "events": [EVENT_ADAPTER.dump_python(e, mode="json") for e in self.events],
            "orders": list(self.orders),
            "active_orders": list(self.active_orders),
            "problems": [p.to_dict() for p in self.problems],
            "matched": [m.to_dict() for m in self.matched],
            "drugs": [d.to_dict() for d in self.drugs],
            "skipped": dict(self.skipped),
            "patient_id": self.patient_id,
        }


def read(
    source: object,
    *,
    as_of: datetime,
    knowledge: Knowledge | None = None,
    case_id: str | None = None,
    dialysis: Dialysis | str | None = None,
    no_dialysis_unless_recorded: bool = False,
    events: bool = True,
    newest_only: bool = False,
) -> InboundResult:
    """Map a Bundle, a prefetch dict, a resource or a list of them (one patient).

    ``events=False`` skips building the course events (``events`` is then empty, and the
    problems a reading that is no valid course event would add are not looked for): for
    a caller that uses the case and the orders only. ``newest_only=True`` (with
    ``events=False``) reads the Observations of each analyte newest first and stops at
    the first valid one — the value the case takes; older ones are neither read nor
    reported, and the doses given are checked but not built as events. The case is the
    same; the problems and matches of Observations are not all there."""
    items, problems = collect(source)
    return from_items(
        items,
        as_of=as_of,
        knowledge=knowledge,
        problems=problems,
        case_id=case_id,
        dialysis=dialysis,
        no_dialysis_unless_recorded=no_dialysis_unless_recorded,
        events=events,
        newest_only=newest_only,
    )


def read_ndjson(
    files: Mapping[str, Iterable[str | bytes]],
    *,
    as_of: datetime,
    knowledge: Knowledge | None = None,
) -> list[InboundResult]:
    """Map NDJSON files ``{name: lines}`` (a Bulk Data export: any resource types, any
    number of patients): one result per patient, plus one for what names no patient."""
    items: list[Item] = []
    problems: list[Problem] = []
    for name, lines in files.items():
        got, bad = from_ndjson(lines, name)
        items += got
        problems += bad
    groups, orphans = group_by_patient(items)
    results = [from_items(g, as_of=as_of, knowledge=knowledge) for g in groups.values()]
    if orphans or problems:
        results.append(from_items(orphans, as_of=as_of, knowledge=knowledge, problems=problems))
    return results


def group_by_patient(items: Iterable[Item]) -> tuple[dict[str, list[Item]], list[Item]]:
    """Items by patient id (the Patient's own id, or its ``subject``/``patient`` reference);
    items that name no patient are returned apart."""
    groups: dict[str, list[Item]] = {}
    orphans: list[Item] = []
    for item in items:
        pid = _patient_of(item)
        if pid is None:
            orphans.append(item)
        else:
            groups.setdefault(pid, []).append(item)
    return groups, orphans


def _patient_of(item: Item) -> str | None:
    r = item.resource
    if item.type == "Patient":
        rid = r.get("id")
        return rid if isinstance(rid, str) and rid else None
    return subject_of(r)


def subject_of(resource: Mapping[str, Any]) -> str | None:
    """The patient id a resource other than a Patient names in ``subject``/``patient``
    (``Patient/<id>``, a full URL ending so, or ``urn:uuid:<id>``), or None."""
    for key in ("subject", "patient"):
        value = resource.get(key)
        if value is None:
            continue
        ref = value.get("reference") if type(value) is dict else mapping(value).get("reference")
        if isinstance(ref, str):
            tail = ref.rsplit("/", 2)
            if len(tail) >= 2 and tail[-2] == "Patient" and tail[-1]:
                return tail[-1]
            if ref.startswith("urn:uuid:"):
                return ref.removeprefix("urn:uuid:")
    return None


def from_items(
    items: Iterable[Item],
    *,
    as_of: datetime,
    knowledge: Knowledge | None = None,
    problems: list[Problem] | None = None,
    case_id: str | None = None,
    dialysis: Dialysis | str | None = None,
    no_dialysis_unless_recorded: bool = False,
    events: bool = True,
    newest_only: bool = False,
) -> InboundResult:
    """The core mapping of one patient's resources at ``as_of`` (timezone-aware);
    ``events`` and ``newest_only`` as in ``read``."""
    if newest_only and events:
        raise ValueError("newest_only needs events=False (the events are every reading)")
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    if knowledge is None:
        from cmvrx.api import load_knowledge

        knowledge = load_knowledge()
    m = _Mapper(knowledge, as_of, list(problems or ()), newest_only=newest_only)
    m.run(list(items))
    stated = Dialysis(dialysis) if dialysis is not None else None  # ValueError names it
    return m.result(case_id, stated, no_dialysis_unless_recorded, events=events)


@dataclass
class _Mapper:
    knowledge: Knowledge
    as_of: datetime
    problems: list[Problem]
    newest_only: bool = False
    matched: list[Match] = field(default_factory=list)
    readings: list[Reading] = field(default_factory=list)
    facts: ConditionFacts = field(default_factory=ConditionFacts)
    drugs: list[DrugUse] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    active_orders: list[dict[str, Any]] = field(default_factory=list)
    doses: list[Event] = field(default_factory=list)
    intolerance: dict[str, bool] = field(default_factory=dict)
    skipped: Counter[str] = field(default_factory=Counter)
    patients: list[Item] = field(default_factory=list)

    def __post_init__(self) -> None:
        # readers depend on the knowledge only: built once per knowledge (the audit maps
        # many patients with one knowledge)
        k = self.knowledge
        self.observations = k.derived(("fhir", "observations"), _observation_reader)
        self.conditions = k.derived(("fhir", "conditions"), _condition_reader)
        self.matcher = k.derived(("fhir", "drugs"), _drug_matcher)
        self.order_reader = k.derived(("fhir", "orders"), OrderReader)

    def run(self, items: list[Item]) -> None:
        self.medications = {i.ref: i.resource for i in items if i.type == "Medication"}
        self.patients = [i for i in items if i.type == "Patient"]
        pid = self.patients[0].resource.get("id") if len(self.patients) == 1 else None
        if len(self.patients) > 1:
            self._problem(
                "conflict",
                "",
                "Patient",
                f"{len(self.patients)} Patient resources: one patient at a time",
            )
        # newest_only: Observations by analyte, each with its binding and time (read once)
        deferred: dict[str, list[tuple[Item, _Known]]] = {}
        for item in items:
            kind = item.type
            if kind not in READ_TYPES:
                self.skipped[f"{kind or 'no resourceType'}: not read"] += 1
                continue
            other = _patient_of(item)
            if kind != "Patient" and pid and other and other != pid:
                self._problem(
                    "conflict",
                    item.ref,
                    "subject",
                    "belongs to another patient: not used",
                    item.where,
                )
                continue
            if self.newest_only and kind == "Observation":
                binding = self.observations.binding(item.resource)
                if binding is None:
                    self.skipped["Observation: no bound LOINC code"] += 1
                else:
                    known = (binding, observation_time(item.resource))
                    deferred.setdefault(binding.analyte, []).append((item, known))
                continue
            self._guarded(item)
        for group in deferred.values():  # newest first; the first valid one is the case's
            group.sort(key=_newest_first, reverse=True)  # stable: ties keep their order
            for item, known in group:
                if self._guarded(item, known):
                    break

    def _guarded(self, item: Item, known: _Known | None = None) -> bool:
        """``_one(item)``; a resource that cannot be read is a ``malformed`` problem.
        Whether it gave a reading. ``known``: an Observation's binding and time."""
        before = len(self.readings)
        try:
            self._one(item, known)
        except (ValueError, TypeError, AttributeError, KeyError, OverflowError) as exc:
            self._problem(
                "malformed",
                item.ref,
                "",
                f"could not be read: {type(exc).__name__}",
                item.where,
            )
        return len(self.readings) > before

    def _problem(self, kind: Any, ref: str, fld: str, message: str, where: str = "") -> None:
        self.problems.append(Problem(kind, ref, fld, message, where))

    def _one(self, item: Item, known: _Known | None = None) -> None:
        kind = item.type
        if kind == "Observation":
            reading = self.observations.read(item, self.as_of, self.problems, self.matched, known)
            if reading is not None:
                self.readings.append(reading)
            elif known is None and self.observations.binding(item.resource) is None:
                self.skipped["Observation: no bound LOINC code"] += 1
        elif kind in ("Condition", "Procedure"):
            if not self.conditions.read(item, self.facts, self.problems, self.matched):
                self.skipped[f"{kind}: no bound code"] += 1
        elif kind in _MED_TYPES:
            self._medication(item)
        elif kind == "AllergyIntolerance":
            self._allergy(item)

    def _concept(self, item: Item) -> object:
        r = item.resource
        if "medicationCodeableConcept" in r:
            return r["medicationCodeableConcept"]
        ref = mapping(r.get("medicationReference")).get("reference")
        if isinstance(ref, str):
            if ref.startswith("#"):
                found, code = contained_code(r, ref)
                if found:
                    return code
            elif ref in self.medications:
                return self.medications[ref].get("code")
            self._problem(
                "unresolved_reference",
                item.ref,
                "medicationReference",
                f"{ref} is not in the data sent",
                item.where,
            )
        return None

    def _medication(self, item: Item) -> None:
        concept = self._concept(item)
        match = self.matcher.match(concept, item.ref, item.where, self.problems, self.matched)
        if match is None:
            self.skipped[f"{item.type}: no bound drug"] += 1
            return
        status = str(item.resource.get("status", ""))
        ingredient = match.ingredient
        self.drugs.append(DrugUse(item.ref, ingredient.id, ingredient.role, status, match.route))
        if ingredient.role != "cmv_antiviral":
            return
        if status == "entered-in-error":
            self._problem(
                "entered_in_error", item.ref, "status", "entered in error: never used", item.where
            )
        elif item.type == "MedicationRequest" and status in ("draft", "active", "on-hold"):
            doc, how = self.order_reader.order(
                item.resource, ingredient.id, item.ref, item.where, self.problems
            )
            if doc is not None:
                self.matched.append(Match(item.ref, f"route {doc['route']}", how))
                (self.orders if status == "draft" else self.active_orders).append(doc)
        elif item.type == "MedicationAdministration" and status == "completed":
            self._dose_given(item, ingredient.id)

    def _dose_given(self, item: Item, drug: str) -> None:
        r = item.resource
        at = instant(r.get("effectiveDateTime") or mapping(r.get("effectivePeriod")).get("start"))
        q = dose_quantity(first_dosage(r, "dosage"))
        value, unit = number(q.get("value")), q.get("code") or q.get("unit")
        if at is None:
            self._problem(
                "missing_time",
                item.ref,
                "effectiveDateTime",
                "no date-time with a time zone",
                item.where,
            )
        elif at > self.as_of:
            self._problem(
                "future",
                item.ref,
                "effectiveDateTime",
                f"{at.isoformat()} is after as_of",
                item.where,
            )
        elif value is None or value <= 0 or unit != "mg":
            self._problem(
                "missing_value",
                item.ref,
                "dosage.dose",
                f"dose {value!r} {unit!r}: a given dose is read in mg only",
                item.where,
            )
        elif not self.newest_only:  # newest_only: no events, so no dose events built
            self.doses.append(
                EVENT_ADAPTER.validate_python(
                    {"kind": "dose_given", "at": at, "drug": drug, "dose_mg": value}
                )
            )

    def _allergy(self, item: Item) -> None:
        r = item.resource
        if code_of(r.get("verificationStatus")) in ("refuted", "entered-in-error"):
            return
        if code_of(r.get("clinicalStatus")) not in (None, "active"):
            return
        match = self.matcher.match(r.get("code"), item.ref, item.where, self.problems, self.matched)
        key = _ALLERGY.get(match.ingredient.id) if match else None
        if key is None:
            self.skipped["AllergyIntolerance: not one cmvrx reads"] += 1
            return
        self.intolerance[key] = True

    # ------------------------------------------------------------------ assembly
    def result(
        self, case_id: str | None, dialysis: Dialysis | None, assume_none: bool, *, events: bool
    ) -> InboundResult:
        patient = self.patients[0] if len(self.patients) == 1 else None
        pid = patient.resource.get("id") if patient else None
        assembler = CaseAssembler(
            self.knowledge,
            self.as_of,
            self.facts,
            self.drugs,
            self.intolerance,
            self.problems,
            self.matched,
        )
        doc, case = assembler.build(
            case_id or (pid if isinstance(pid, str) else None),
            patient,
            self.readings,
            dialysis,
            assume_none,
        )
        return InboundResult(
            case=case,
            case_document=doc,
            events=tuple(sorted((*self._events(), *self.doses), key=lambda e: e.at))
            if events
            else (),
            orders=tuple(self.orders),
            active_orders=tuple(self.active_orders),
            problems=tuple(self.problems),
            matched=tuple(self.matched),
            drugs=tuple(self.drugs),
            skipped=dict(self.skipped),
            patient_id=pid if isinstance(pid, str) else None,
        )

    def _events(self) -> list[Event]:
        events: list[Event] = []
        for r in self.readings:
            data = _event_data(r)
            if data is None:
                continue
            try:
                events.append(EVENT_ADAPTER.validate_python(data))
            except ValidationError as exc:
                self._problem(
                    "malformed",
                    r.ref,
                    "",
                    f"not a valid course event: {exc.errors()[0]['msg']}",
                    r.where,
                )
        return events


def _terminology(k: Knowledge) -> TerminologyFile:
    if k.terminology is None:  # pragma: no cover - the loader always sets it
        raise ValueError("this knowledge carries no terminology")
    return k.terminology


def _observation_reader(k: Knowledge) -> ObservationReader:
    return ObservationReader(k, _terminology(k))


def _condition_reader(k: Knowledge) -> ConditionReader:
    return ConditionReader(_terminology(k))


def _drug_matcher(k: Knowledge) -> DrugMatcher:
    return DrugMatcher(_terminology(k))


def _event_data(r: Reading) -> dict[str, Any] | None:
    if r.analyte == "cmv_dna":
        return {
            "kind": "cmv_pcr",
            "at": r.at,
            "result": r.pcr_result,
            "value": r.internal,
            "lower_limit": r.lower_limit,
            "specimen": r.specimen or "plasma",
        }
    if r.analyte == "hiv_rna":
        return {
            "kind": "lab",
            "at": r.at,
            "analyte": "hiv_rna",
            "value": r.value,
            "unit": r.unit,
            "suppressed": r.suppressed,
        }
    if r.analyte == "weight":
        return {"kind": "weight", "at": r.at, "value": r.value, "unit": r.unit}
    if r.analyte == "urine_protein_dipstick":
        return {"kind": "lab", "at": r.at, "analyte": "urine_protein", "dipstick": r.dipstick}
    if r.analyte in _LAB_ANALYTES:
        return {"kind": "lab", "at": r.at, "analyte": r.analyte, "value": r.value, "unit": r.unit}
    return None

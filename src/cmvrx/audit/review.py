"""One patient's FHIR record reviewed: every active CMV antiviral order through the one
order check, and the course the record describes through the course engine.

No clinical logic: ``cmvrx.fhir.inbound`` maps the record (case, events, active orders),
``cmvrx.fhir.course_record`` places the therapy orders on a timeline, ``check_order``
and ``assess_course`` judge, and this module reshapes what they said into findings named
by the audit's ``kind`` vocabulary (``audit.kinds``). A record that cannot make a case
gives ``insufficient_data`` naming what to record — never a dose.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from cmvrx.audit.columns import FINDING_COLUMNS, Row
from cmvrx.audit.kinds import BY_DIRECTION, INFO_KINDS, ORDER_KINDS, kind_of
from cmvrx.errors import CmvrxError
from cmvrx.fhir.problems import Problem
from cmvrx.fhir.resources import Item
from cmvrx.knowledge.bundle import Knowledge
from cmvrx.model.plan import DISCLAIMER

if TYPE_CHECKING:
    from cmvrx.fhir.inbound import InboundResult
    from cmvrx.model.assessment import CourseAssessment
    from cmvrx.model.course import Event
    from cmvrx.model.order_check import OrderCheck, OrderResult
    from cmvrx.model.patient import Case

DOSE_KINDS = frozenset({"dose_too_high", "dose_too_low", "wrong_interval"})
_FACTS: Mapping[str, tuple[str, ...]] = {
    "dose": (
        "patient.weight",
        "patient.age",
        "renal.serum_creatinine",
        "renal.measured_creatinine_clearance",
        "renal.dialysis",
    ),
    "counts": ("blood_counts.anc", "blood_counts.platelets", "blood_counts.hemoglobin"),
    "electrolytes": (
        "electrolytes.potassium",
        "electrolytes.magnesium",
        "electrolytes.calcium",
        "electrolytes.ionized_calcium",
        "electrolytes.phosphate",
    ),
    "hiv": ("hiv.cd4", "hiv.hiv_rna"),
}
_KIND_FACTS: Mapping[str, tuple[str, ...]] = {
    "dose_too_high": ("dose",),
    "dose_too_low": ("dose",),
    "wrong_interval": ("dose",),
    "not_recommended": ("dose",),
    "cytopenia_hold": ("counts",),
    "cytopenia_watch": ("counts",),
    "electrolytes_low": ("electrolytes",),
    "nephrotoxicity": ("dose",),
    "maintenance_stop_eligible": ("hiv",),
    "maintenance_restart": ("hiv",),
    "premature_stop": ("hiv",),
}


@dataclass(frozen=True, slots=True)
class AuditFinding:
    """One problem the engines found in one patient's record at ``as_of``."""

    patient_id: str
    order_id: str | None
    drug: str | None
    kind: str
    severity: str
    summary: str
    current_dose: Mapping[str, Any] | None
    corrected_dose: Mapping[str, Any] | None
    rule_id: str
    citations: tuple[str, ...]
    data_used: tuple[Mapping[str, Any], ...]
    as_of: datetime
    knowledge_version: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "patient_id": self.patient_id,
            "order_id": self.order_id,
            "drug": self.drug,
            "kind": self.kind,
            "severity": self.severity,
            "summary": self.summary,
            "current_dose": None if self.current_dose is None else dict(self.current_dose),
            "corrected_dose": None if self.corrected_dose is None else dict(self.corrected_dose),
            "rule_id": self.rule_id,
            "citations": list(self.citations),
            "data_used": [dict(d) for d in self.data_used],
            "as_of": _iso(self.as_of),
            "knowledge_version": self.knowledge_version,
        }

    def to_row(self) -> Row:
        """The flat row of ``FINDING_COLUMNS`` (strings or None)."""
        row: Row = {
            "patient_id": self.patient_id,
            "order_id": self.order_id,
            "drug": self.drug,
            "kind": self.kind,
            "severity": self.severity,
            "summary": self.summary,
            "current_dose": _json(self.current_dose),
            "corrected_dose": _json(self.corrected_dose),
            "rule_id": self.rule_id,
            "citations": ";".join(self.citations) or None,
            "data_used": json.dumps([dict(d) for d in self.data_used], ensure_ascii=False),
            "as_of": _iso(self.as_of),
            "knowledge_version": self.knowledge_version,
        }
        assert tuple(row) == FINDING_COLUMNS
        return row


Finding = AuditFinding


@dataclass(frozen=True, slots=True)
class RecordReview:
    """A patient's record reviewed at ``as_of``: the findings, and what the mapping could
    not use (``problems``) or did not read (``skipped``)."""

    patient_id: str | None
    findings: tuple[AuditFinding, ...]
    problems: tuple[Problem, ...]
    skipped: Mapping[str, int]
    on_cmv_antiviral: bool
    as_of: datetime
    knowledge_version: str
    disclaimer: str = DISCLAIMER

    def to_dict(self) -> dict[str, Any]:
        return {
            "patient_id": self.patient_id,
            "findings": [f.to_dict() for f in self.findings],
            "problems": [p.to_dict() for p in self.problems],
            "skipped": dict(self.skipped),
            "on_cmv_antiviral": self.on_cmv_antiviral,
            "as_of": _iso(self.as_of),
            "knowledge_version": self.knowledge_version,
            "disclaimer": self.disclaimer,
        }


def review_items(
    items: Sequence[Item],
    *,
    as_of: datetime,
    knowledge: Knowledge,
    problems: Sequence[Problem] = (),
    no_dialysis_unless_recorded: bool = False,
) -> RecordReview:
    """The review of one patient's resources (``Item``s, with where they came from)."""
    from cmvrx.fhir import inbound

    mapped = inbound.from_items(
        items,
        as_of=as_of,
        knowledge=knowledge,
        problems=list(problems),
        no_dialysis_unless_recorded=no_dialysis_unless_recorded,
    )
    return _Reviewer(mapped, list(items), knowledge, as_of).review()


@dataclass
class _Reviewer:
    mapped: InboundResult
    items: list[Item]
    k: Knowledge
    as_of: datetime
    out: list[AuditFinding] = field(default_factory=list)
    extra: list[Problem] = field(default_factory=list)

    @cached_property
    def pid(self) -> str:
        """The Patient's id; without a Patient resource, the one patient the record names."""
        if self.mapped.patient_id:
            return self.mapped.patient_id
        from cmvrx.fhir.inbound import group_by_patient

        groups, _ = group_by_patient(self.items)
        return next(iter(groups)) if len(groups) == 1 else ""

    def review(self) -> RecordReview:
        on_therapy = any(d.role == "cmv_antiviral" for d in self.mapped.drugs)
        if on_therapy:
            self._run()
        return RecordReview(
            self.pid or None,
            tuple(_dedupe(self.out)),
            (*self.mapped.problems, *self.extra),
            dict(self.mapped.skipped),
            on_therapy,
            self.as_of,
            self.k.version,
        )

    def _run(self) -> None:
        self._unreadable_orders()
        case = self.mapped.case
        if case is None:
            missing = [p for p in self.mapped.problems if p.kind == "missing_fact"]
            what = "; ".join(f"{p.field}: {p.message}" for p in missing) or "the case"
            for order in self.mapped.active_orders:
                drug = order["drug"]
                self._insufficient(order["id"], drug, f"{drug}: cannot be checked: record {what}")
            return
        events = self._therapy(case)
        check = self._check(case, events)
        if check is not None:
            self._order_findings(check, case)
        if events:
            assessment = self._assess(case, events)
            if assessment is not None:
                self._course_findings(assessment, case)

    # ---------------------------------------------------------------- orders
    def _unreadable_orders(self) -> None:
        running = {
            i.ref: i
            for i in self.items
            if i.type == "MedicationRequest" and i.resource.get("status") in ("active", "on-hold")
        }
        drugs = {d.resource: d.ingredient for d in self.mapped.drugs}
        for p in self.mapped.problems:
            item = running.get(p.resource)
            if p.kind != "order_incomplete" or item is None or drugs.get(p.resource) is None:
                continue
            oid = str(item.resource.get("id") or "")
            self._insufficient(
                oid or None,
                drugs[p.resource],
                f"the order could not be read ({p.field}: {p.message}): record it structured",
            )

    def _insufficient(self, order_id: str | None, drug: str | None, summary: str) -> None:
        self.out.append(
            AuditFinding(
                self.pid,
                order_id,
                drug,
                "insufficient_data",
                "warning",
                summary,
                None,
                None,
                "AUDIT-INSUFFICIENT-DATA",
                (),
                (),
                self.as_of,
                self.k.version,
            )
        )

    def _check(self, case: Case, events: Sequence[Event]) -> OrderCheck | None:
        """The active orders checked together, each in the phase its course is in."""
        import cmvrx
        from cmvrx.fhir.course_record import current_phases

        phases = current_phases(events)
        docs = [
            {**doc, "phase": phases[doc["drug"]]}
            if phases.get(doc["drug"]) in self._phases(doc["drug"])
            else dict(doc)
            for doc in self.mapped.active_orders
        ]
        if not docs:
            return None
        try:
            return cmvrx.check_order(case, docs, as_of=self.as_of, knowledge=self.k)
        except CmvrxError as exc:
            for doc in docs:
                self._insufficient(
                    doc["id"], doc["drug"], f"{doc['drug']}: cannot be checked: {exc}"
                )
            return None

    def _phases(self, drug: str) -> set[str]:
        """The phases the knowledge doses ``drug`` in (letermovir: prophylaxis only)."""
        known = self.k.drugs.get(drug)
        return {s.phase for s in known.schedule} if known else set()

    def _order_findings(self, check: OrderCheck, case: Case) -> None:
        results = {r.order_id: r for r in check.results}
        for f in check.findings:
            r = results.get(f.order_id)
            kind = kind_of(f.rule_id, r.verdict if r else None)
            if kind == BY_DIRECTION:
                kind = _direction(r)
            if kind is None or (f.severity == "info" and kind not in INFO_KINDS):
                continue
            dose = r is not None and kind in DOSE_KINDS
            self.out.append(
                AuditFinding(
                    self.pid,
                    f.order_id,
                    r.order.drug if r else None,
                    kind,
                    f.severity,
                    f.message,
                    r.order.to_dict() if r else None,
                    r.corrected.to_dict() if dose and r and r.corrected else None,
                    f.rule_id,
                    tuple(f.citations),
                    (*_items(f.data_used), *_facts(case, kind)),
                    self.as_of,
                    self.k.version,
                )
            )

    # ---------------------------------------------------------------- course
    def _therapy(self, case: Case) -> list[Event]:
        """The record's therapy as course events (empty: nothing to place on a timeline)."""
        from cmvrx.fhir.course_record import therapy_events, therapy_orders

        orders = therapy_orders(self.items, self.mapped, self.k, self.as_of, self.extra)
        return therapy_events(
            orders, lambda doc: self._phase_of(case, doc), lambda drugs: self._regimen(case, drugs)
        )

    def _regimen(self, case: Case, drugs: frozenset[str]) -> str | None:
        """The regimen the guideline chooses for this patient (the plan's), when the
        drugs that started therapy belong to it; else None (the course then takes the
        longest minimum of the regimens with those drugs)."""
        import cmvrx.api

        try:
            chosen = cmvrx.api.regimen_id(case, as_of=self.as_of, knowledge=self.k)
        except CmvrxError:
            return None
        regimen = self.k.regimens.get(chosen) if chosen else None
        if regimen is None or not drugs <= {c.drug for c in regimen.components}:
            return None
        return chosen

    def _assess(self, case: Case, events: Sequence[Event]) -> CourseAssessment | None:
        import cmvrx
        from cmvrx.model.course import Course

        try:
            course = Course(
                course_id=self.pid or "record",
                baseline=case,
                events=[*events, *self.mapped.events],
            )
            return cmvrx.assess_course(course, as_of=self.as_of, knowledge=self.k)
        except (CmvrxError, ValueError) as exc:
            self.extra.append(Problem("malformed", "", "course", f"course not assessed: {exc}"))
            return None

    def _phase_of(self, case: Case, doc: Mapping[str, Any]) -> str | None:
        """The phase the order check reads an order as (its dose fits that phase)."""
        import cmvrx

        try:
            result = cmvrx.check_order(case, dict(doc), as_of=self.as_of, knowledge=self.k)
        except CmvrxError:
            return None
        return result.results[0].assumed_phase if result.results else None

    def _course_findings(self, a: CourseAssessment, case: Case) -> None:
        active = {o["drug"]: o["id"] for o in self.mapped.active_orders}
        for f in a.findings:
            kind = kind_of(f.rule_id)
            if kind is None or kind == BY_DIRECTION:
                continue
            if f.severity == "info" and kind not in INFO_KINDS:
                continue
            order_id = active.get(f.drug) if f.drug and kind in ORDER_KINDS else None
            data = (*_facts(case, kind), *_tests(a, kind), *_response(a, kind))
            self.out.append(
                AuditFinding(
                    self.pid,
                    order_id,
                    f.drug,
                    kind,
                    f.severity,
                    f.message,
                    None,
                    None,
                    f.rule_id,
                    tuple(f.cite),
                    data,
                    self.as_of,
                    self.k.version,
                )
            )


def _direction(r: OrderResult | None) -> str:
    """dose_too_high / dose_too_low from the ordered vs the corrected daily amount."""
    if r is None or r.corrected is None:
        return "other"
    ordered, right = r.order.per_day_mg, r.corrected.per_day_mg
    if ordered is None or right is None:
        return "other"
    return "dose_too_high" if ordered > right else "dose_too_low"


def _dedupe(findings: Iterable[AuditFinding]) -> list[AuditFinding]:
    """One finding per (order, kind) — per test for ``test_overdue`` — the first kept."""
    seen: set[tuple[str | None, str, str]] = set()
    out = []
    for f in findings:
        key = (f.order_id, f.kind, f.summary if f.kind == "test_overdue" else "")
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def _items(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {"what": str(k), "value": _plain(v), "unit": None, "date": None}
        for k, v in data.items()
        if v not in (None, "", [], ())
    ]


def _plain(value: object) -> object:
    if isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value)


def _facts(case: Case, kind: str) -> list[dict[str, Any]]:
    out = []
    for group in _KIND_FACTS.get(kind, ()):
        for path in _FACTS[group]:
            value: Any = case
            for part in path.split("."):
                value = getattr(value, part, None)
            if value is None:
                continue
            if hasattr(value, "value"):
                when = getattr(value, "measured_at", None)
                out.append(
                    {
                        "what": path,
                        "value": value.value if not isinstance(value, str) else str(value),
                        "unit": getattr(value, "unit", None),
                        "date": _iso(when) if when else None,
                    }
                )
            else:
                out.append({"what": path, "value": str(value), "unit": None, "date": None})
    return out


def _tests(a: CourseAssessment, kind: str) -> list[dict[str, Any]]:
    if kind != "test_overdue":
        return []
    return [
        {
            "what": t.test,
            "value": t.status,
            "unit": None,
            "date": _iso(t.last_at) if t.last_at else None,
        }
        for t in a.tests
        if t.status in ("overdue", "missing")
    ]


def _response(a: CourseAssessment, kind: str) -> list[dict[str, Any]]:
    if kind != "refractory_no_genotype":
        return []
    return [
        {
            "what": f"CMV PCR ({label})",
            "value": p.value_iu_ml if p.value_iu_ml is not None else p.result,
            "unit": "IU/mL",
            "date": _iso(p.at),
        }
        for label, p in (("baseline", a.response.baseline), ("latest", a.response.latest))
        if p is not None
    ]


def _json(value: Mapping[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(dict(value), ensure_ascii=False, sort_keys=True)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")

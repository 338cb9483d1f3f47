"""The loaded, validated knowledge: one immutable object the engine reads from."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from cmvrx.errors import KnowledgeError
from cmvrx.knowledge.files import (
    CourseFile,
    CourseRule,
    MaintenanceFile,
    OrderRule,
    OrdersFile,
    VocabulariesFile,
)
from cmvrx.knowledge.schema import (
    Alert,
    Criterion,
    Drug,
    Monitoring,
    MutationRule,
    Parameter,
    Plausible,
    Refusal,
    Regimen,
    RegimenRule,
    Schedule,
    SchwartzK,
    Source,
)
from cmvrx.knowledge.terminology import TerminologyFile

T = TypeVar("T")
_NOT_BUILT = object()


_MEMOS: dict[int, dict[tuple[str, ...], Any]] = {}


def _memo_of(k: Knowledge) -> dict[tuple[str, ...], Any]:
    found = _MEMOS.get(id(k))
    if found is None:
        found = _MEMOS[id(k)] = {}
        weakref.finalize(k, _MEMOS.pop, id(k), None)  # before the id can be reused
    return found


@dataclass(frozen=True, slots=True, weakref_slot=True)
class Knowledge:
    """Everything cmvrx knows, stamped with its version and content hash."""

    version: str
    content_hash: str
    sources: Mapping[str, Source]
    parameters: Mapping[str, Parameter]
    schwartz_k: tuple[SchwartzK, ...]
    plausible: Mapping[str, Plausible]
    drugs: Mapping[str, Drug]
    regimens: Mapping[str, Regimen]
    rules: tuple[RegimenRule, ...]
    refusals: tuple[Refusal, ...]
    alerts: tuple[Alert, ...]
    monitoring: tuple[Monitoring, ...]
    resistance: tuple[MutationRule, ...]
    maintenance: MaintenanceFile
    overridden: tuple[str, ...] = ()
    schedules: Mapping[str, Schedule] = field(default_factory=dict)
    course: CourseFile | None = None
    numbers: Mapping[str, float] = field(default_factory=dict)  # numeric parameters, for speed
    orders: OrdersFile | None = None
    vocabularies: VocabulariesFile | None = None
    vocabulary_sets: Mapping[str, frozenset[str]] = field(default_factory=dict)  # for speed
    terminology: TerminologyFile | None = None  # FHIR code bindings (terminology.toml)

    @property
    def memo(self) -> dict[tuple[str, ...], Any]:
        """Values derived from this knowledge alone (schedule lookups, band texts, constant
        output items), computed on first use by the engine: a warm plan must not rebuild
        them per call. Keys are tuples of knowledge ids, never patient data. Kept beside
        the object (by identity), not in it: a Knowledge holds no mutable state and
        pickles; a copy (an unpickled one on a worker) builds its own on first use."""
        return _memo_of(self)

    def derived(self, key: tuple[str, ...], build: Callable[[Knowledge], T]) -> T:
        """``build(self)``, computed once per knowledge and kept under ``key``."""
        memo = _MEMOS.get(id(self)) or _memo_of(self)
        found: Any = memo.get(key, _NOT_BUILT)
        if found is _NOT_BUILT:  # None is a value: "not applicable" is worth keeping too
            found = memo[key] = build(self)
        return found  # type: ignore[no-any-return]

    def vocabulary(self, vocabulary_id: str) -> frozenset[str]:
        """The items of a vocabulary of vocabularies.toml, as a set."""
        found = self.vocabulary_sets.get(vocabulary_id)
        if found is None:
            raise KnowledgeError(f"vocabularies.toml: no vocabulary {vocabulary_id!r}")
        return found

    def instead(self, drug_id: str) -> str:
        """What to use instead of ``drug_id`` when its label row refuses it."""
        for item in self.vocabularies.instead if self.vocabularies else ():
            if item.drug == drug_id:
                return item.text
        return "specialist review"

    def param(self, name: str) -> Parameter:
        try:
            return self.parameters[name]
        except KeyError:
            raise KnowledgeError(f"parameters.toml: no parameter {name!r}") from None

    def number(self, name: str) -> float:
        cached = self.numbers.get(name)
        if cached is not None:
            return cached
        value = self.param(name).value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise KnowledgeError(f"parameters.toml: parameter {name!r} is not a number")
        return float(value)

    def numbers_of(self, key: tuple[str, ...]) -> tuple[float, ...]:
        """``number(name)`` of each name after ``key[0]`` (a "numbers" tag that keeps
        the key apart from the memo's other keys), looked up once per knowledge: a hot
        path reads several parameters with one call."""
        memo = _MEMOS.get(id(self)) or _memo_of(self)
        found: tuple[float, ...] | None = memo.get(key)
        if found is None:
            if key[0] != "numbers":
                raise KnowledgeError(f"numbers_of: the key must start with 'numbers': {key!r}")
            found = memo[key] = tuple([self.number(name) for name in key[1:]])
        return found

    def drug(self, drug_id: str) -> Drug:
        try:
            return self.drugs[drug_id]
        except KeyError:
            raise KnowledgeError(f"no drug {drug_id!r} in the knowledge") from None

    def schedule_for(self, drug_id: str, phase: str, column: str) -> Schedule:
        """The schedule of ``drug_id`` for ``phase``: ``column`` if it has one, else 'standard'."""
        key = ("schedule_for", drug_id, phase, column)
        memo = _MEMOS.get(id(self)) or _memo_of(self)
        found: Schedule | None = memo.get(key)
        if found is None:
            found = memo[key] = self._find_schedule(drug_id, phase, column)
        return found

    def _find_schedule(self, drug_id: str, phase: str, column: str) -> Schedule:
        candidates = [s for s in self.drug(drug_id).schedule if s.phase == phase]
        for wanted in (column, "standard"):
            for schedule in candidates:
                if schedule.column == wanted:
                    return schedule
        if len(candidates) >= 1 and column == "standard":
            return candidates[0]
        raise KnowledgeError(f"{drug_id}: no {phase} schedule (column {column!r})")

    def criteria(self, kind: str) -> tuple[Criterion, ...]:
        section: tuple[Criterion, ...] = getattr(self.maintenance, kind)
        return section

    def course_rule(self, rule_id: str) -> CourseRule:
        """A course-finding rule of course.toml by id."""
        if self.course is not None:
            for rule in self.course.rule:
                if rule.id == rule_id:
                    return rule
        raise KnowledgeError(f"course.toml: no rule {rule_id!r}")

    def order_rule(self, rule_id: str) -> OrderRule:
        """An order-check rule of orders.toml by id."""
        rules: dict[str, OrderRule] | None = self.memo.get(("order_rules",))
        if rules is None:
            rules = self.memo[("order_rules",)] = {
                r.id: r for r in (self.orders.rule if self.orders else ())
            }
        found = rules.get(rule_id)
        if found is None:
            raise KnowledgeError(f"orders.toml: no rule {rule_id!r}")
        return found

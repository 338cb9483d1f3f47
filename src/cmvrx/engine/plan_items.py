"""Plan items that depend on the knowledge alone, built once per ``Knowledge``.

Monitoring items, refusals, the criteria and alerts whose text names knowledge
parameters only, the NOT CONFIRMED entries and each rule's check are the same for every
patient: only *whether* they apply depends on the patient. Building them once (through
``Knowledge.derived``) keeps a warm plan from re-creating them on every call. The output
items are frozen, so sharing them between plans is safe.
"""

from __future__ import annotations

from dataclasses import dataclass

from cmvrx.engine.messages import parameter_context, placeholders, render
from cmvrx.engine.predicates import Predicate, rule_check
from cmvrx.frozen import fast_init
from cmvrx.knowledge.bundle import Knowledge
from cmvrx.knowledge.schema import Criterion, Grade, Regimen, RegimenRule
from cmvrx.model import plan as p


@fast_init
@dataclass(frozen=True, slots=True)
class AlertTemplate:
    """An alert rule ready to render: ``rank`` orders critical, warning, info; ``item``
    is the finished alert when the message names knowledge parameters only."""

    applies: Predicate
    rule_id: str
    severity: p.Severity
    message: str
    cite: tuple[str, ...]
    rank: int
    item: p.Alert | None


def monitoring(k: Knowledge) -> tuple[tuple[Predicate, p.MonitoringItem], ...]:
    """(does it apply, item) for each monitoring rule."""
    return k.derived(("monitoring",), _monitoring)


def _monitoring(k: Knowledge) -> tuple[tuple[Predicate, p.MonitoringItem], ...]:
    return tuple(
        (
            rule_check(m.when),
            p.MonitoringItem(
                m.id, m.test, m.phase, m.frequency, m.every_days, m.cite, m.grade.value
            ),
        )
        for m in k.monitoring
    )


def refusals(k: Knowledge) -> tuple[tuple[Predicate, p.Refused], ...]:
    """(does it apply, item) for each refusal rule."""
    return k.derived(("refusals",), _refusals)


def _refusals(k: Knowledge) -> tuple[tuple[Predicate, p.Refused], ...]:
    return tuple(
        (rule_check(r.when, r.unless), p.Refused(r.drug, r.id, r.reason, r.instead, r.cite))
        for r in k.refusals
    )


def criteria(k: Knowledge, kind: str) -> tuple[tuple[Criterion, str, p.Criterion | None], ...]:
    """(definition, grade text, the finished item when its text names knowledge
    parameters only, which is the same for every patient)."""
    return k.derived(("criteria", kind), lambda k: _criteria(k, kind))


def rule_checks(k: Knowledge) -> tuple[tuple[Predicate, RegimenRule], ...]:
    """(does it hold, rule) for each regimen rule, in knowledge order."""
    return k.derived(
        ("rule_checks",), lambda k: tuple((rule_check(r.when, r.unless), r) for r in k.rules)
    )


def options(k: Knowledge) -> tuple[tuple[str, Predicate], ...]:
    """(drug, is it offered) for each maintenance option."""
    return k.derived(
        ("maintenance_options",),
        lambda k: tuple((o.drug, rule_check((), o.unless)) for o in k.maintenance.option),
    )


def gated_criteria(
    k: Knowledge, kind: str
) -> tuple[tuple[Predicate | None, Criterion, str, p.Criterion | None], ...]:
    """``criteria`` with each one's check (None: always shown)."""
    return k.derived(
        ("gated_criteria", kind),
        lambda k: tuple(
            (rule_check(c.when, c.unless) if c.when or c.unless else None, c, grade, item)
            for c, grade, item in criteria(k, kind)
        ),
    )


CriteriaSection = tuple[p.Criterion, ...] | None
GatedCriteria = tuple[tuple[Predicate | None, Criterion, str, p.Criterion | None], ...]
MAINTENANCE_KINDS = ("end_of_induction", "stop", "restart", "lifelong")


def maintenance_criteria(k: Knowledge) -> tuple[tuple[CriteriaSection, GatedCriteria], ...]:
    """(``constant_criteria``, ``gated_criteria``) of each maintenance section in plan
    order: one lookup per plan instead of eight."""
    return k.derived(
        ("maintenance_criteria",),
        lambda k: tuple(
            (constant_criteria(k, kind), gated_criteria(k, kind)) for kind in MAINTENANCE_KINDS
        ),
    )


def constant_criteria(k: Knowledge, kind: str) -> tuple[p.Criterion, ...] | None:
    """All the criteria of ``kind``, when none of them needs the patient's values."""
    return k.derived(("constant_criteria", kind), lambda k: _constant_criteria(k, kind))


def _constant_criteria(k: Knowledge, kind: str) -> tuple[p.Criterion, ...] | None:
    found = criteria(k, kind)
    if any(c.when or c.unless for c, _, _ in found):
        return None  # whether they apply depends on the patient
    items = tuple(item for _, _, item in found if item is not None)
    return items if len(items) == len(found) else None


def _criteria(k: Knowledge, kind: str) -> tuple[tuple[Criterion, str, p.Criterion | None], ...]:
    known = parameter_context(k)
    out = []
    for c in k.criteria(kind):
        constant = placeholders(c.text) <= known.keys()
        text = render(c.text, known) if constant else ""
        item = p.Criterion(c.id, text, c.grade.value, c.cite) if constant else None
        out.append((c, c.grade.value, item))
    return tuple(out)


def alerts(k: Knowledge) -> tuple[AlertTemplate, ...]:
    """The alert rules by severity (critical, warning, info), in knowledge order within
    a severity: the order a plan lists its alerts in, so no plan has to sort them."""
    return k.derived(("alerts",), _alerts)


def _alerts(k: Knowledge) -> tuple[AlertTemplate, ...]:
    rank = {"critical": 0, "warning": 1, "info": 2}
    known = parameter_context(k)
    out = []
    for a in k.alerts:
        constant = placeholders(a.message) <= known.keys()
        item = p.Alert(a.id, a.severity, render(a.message, known), a.cite) if constant else None
        out.append(
            AlertTemplate(
                rule_check(a.when, a.unless),
                a.id,
                a.severity,
                a.message,
                a.cite,
                rank[a.severity],
                item,
            )
        )
    out.sort(key=lambda a: a.rank)  # stable
    return tuple(out)


def parameter_entries(k: Knowledge) -> dict[str, p.NotConfirmed]:
    """The NOT CONFIRMED entry of each parameter graded NOT CONFIRMED."""
    return k.derived(("parameter_entries",), _parameter_entries)


def _parameter_entries(k: Knowledge) -> dict[str, p.NotConfirmed]:
    return {
        name: p.NotConfirmed(name, f"{param.value} {param.unit}", param.description)
        for name, param in k.parameters.items()
        if param.grade is Grade.NOT_CONFIRMED
    }


def rounding_entries(k: Knowledge) -> dict[str, p.NotConfirmed]:
    """The entry for ``<drug>.rounding`` of each drug with a rounding step."""
    return k.derived(("rounding_entries",), _rounding_entries)


def _rounding_entries(k: Knowledge) -> dict[str, p.NotConfirmed]:
    return {
        f"{drug_id}.rounding": p.NotConfirmed(
            f"{drug_id}.rounding", f"{drug.rounding.step_mg:g} mg", drug.rounding.note
        )
        for drug_id, drug in k.drugs.items()
        if drug.rounding is not None
    }


def regimen_entries(k: Knowledge, regimen_id: str) -> tuple[p.NotConfirmed, ...]:
    """The NOT CONFIRMED durations of a regimen (induction, then step-down)."""
    return k.derived(("regimen_entries", regimen_id), lambda k: _regimen_entries(k, regimen_id))


def _regimen_entries(k: Knowledge, regimen_id: str) -> tuple[p.NotConfirmed, ...]:
    regimen = k.regimens[regimen_id]
    parts = [(f"{regimen.id}.induction", regimen.induction.grade, regimen.induction.text)]
    if regimen.step_down:
        parts.append(
            (
                f"{regimen.id}.step_down",
                regimen.step_down.grade,
                f"step down after {regimen.step_down.after_improvement_days_min}–"
                f"{regimen.step_down.after_improvement_days_max} days of improvement",
            )
        )
    return tuple(
        p.NotConfirmed(part, text, "duration from the seed guideline")
        for part, grade, text in parts
        if grade is Grade.NOT_CONFIRMED
    )


def regimen_of(
    k: Knowledge, rule: RegimenRule
) -> tuple[Regimen | None, frozenset[str], tuple[str, ...]]:
    """The rule's regimen, its drugs, and the rule's then the regimen's cites."""
    return k.derived(("regimen_of", rule.id), lambda k: _regimen_of(k, rule))


def _regimen_of(
    k: Knowledge, rule: RegimenRule
) -> tuple[Regimen | None, frozenset[str], tuple[str, ...]]:
    regimen = k.regimens.get(rule.regimen) if rule.regimen else None
    drugs = frozenset(c.drug for c in regimen.components) if regimen else frozenset()
    cite = tuple(dict.fromkeys((*rule.cite, *(regimen.cite if regimen else ()))))
    return regimen, drugs, cite


def source_titles(k: Knowledge) -> dict[str, str]:
    """Each source id's title."""
    return k.derived(("source_titles",), lambda k: {i: src.title for i, src in k.sources.items()})

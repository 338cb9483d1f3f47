"""What known resistance mutations imply, from the knowledge's mutation rules."""

from __future__ import annotations

from collections.abc import Sequence

from cmvrx.knowledge.bundle import Knowledge
from cmvrx.knowledge.schema import MutationRule
from cmvrx.model.patient import Mutation


def rule_for(mutation: Mutation, k: Knowledge) -> MutationRule | None:
    """The first rule for the mutation's gene that names it (or any mutation, '*')."""
    name = mutation.mutation.upper()
    for rule in k.resistance:
        if rule.gene == mutation.gene.value and (name in rule.mutations or "*" in rule.mutations):
            return rule
    return None


def drugs_affected(mutation: Mutation, k: Knowledge) -> frozenset[str]:
    """Drugs this mutation makes unusable: the rule's list plus the report's own."""
    rule = rule_for(mutation, k)
    from_rule = frozenset(rule.resistant_to) if rule else frozenset()
    return from_rule | frozenset(d.value for d in mutation.resistant_to)


def resistant_drugs(mutations: Sequence[Mutation], k: Knowledge) -> frozenset[str]:
    out: frozenset[str] = frozenset()
    for m in mutations:
        out |= drugs_affected(m, k)
    return out


def describe(mutation: Mutation, k: Knowledge, genotype: Sequence[Mutation] = ()) -> str:
    """What the mutation implies, read against the whole ``genotype`` it was found in: a
    drug the mutation alone leaves active is called active only when no other mutation of
    the genotype compromises it."""
    rule = rule_for(mutation, k)
    drugs = ", ".join(sorted(drugs_affected(mutation, k))) or "none named by the report"
    implication = rule.implication if rule else "no rule in the knowledge: specialist review"
    if rule is not None and rule.remains_active:
        others = resistant_drugs([m for m in genotype if m is not mutation], k)
        active = [d for d in rule.remains_active if d not in others]
        lost = [d for d in rule.remains_active if d in others]
        if active:
            implication += f"; {' and '.join(active)} remain active on this genotype"
        if lost:
            implication += f"; {' and '.join(lost)} compromised by another mutation of the genotype"
    return f"{mutation.gene.value} {mutation.mutation} → resistant to {drugs} ({implication})"

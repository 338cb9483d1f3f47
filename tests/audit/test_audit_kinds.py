"""The kind table covers every rule the engines can raise, and names only known kinds."""

from __future__ import annotations

from cmvrx.api import load_knowledge
from cmvrx.audit.kinds import BY_DIRECTION, KINDS, RULE_KINDS, kind_of


def test_every_engine_rule_is_in_the_table() -> None:
    k = load_knowledge()
    assert k.orders is not None
    ids = {r.id for r in k.orders.rule} | {c.id for c in k.orders.combination}
    ids |= {u.id for u in k.orders.unusable} | {r.id for r in k.refusals}
    assert k.course is not None
    ids |= {r.id for r in k.course.rule}
    assert ids - set(RULE_KINDS) == set()


def test_kinds_are_known() -> None:
    assert set(RULE_KINDS.values()) - {None, BY_DIRECTION} <= set(KINDS)
    assert len(set(KINDS)) == len(KINDS)
    assert kind_of("ganciclovir.induction#blood-counts", "not_recommended") == "cytopenia_hold"
    assert kind_of("ganciclovir.induction#blood-counts", "insufficient_data") == "insufficient_data"
    assert kind_of("SOMETHING-NEW", "not_recommended") == "not_recommended"
    assert kind_of("SOMETHING-NEW") == "other"

"""cmvrx: clinical decision support for severe cytomegalovirus (CMV) disease.

Decision support, not a prescriber. The public API is the façade in ``cmvrx.api``,
re-exported here; ``import cmvrx`` stays light (no CLI, database or plotting stack).

    >>> import cmvrx
    >>> plan = cmvrx.plan(case, as_of=datetime(2026, 11, 24, 8, tzinfo=UTC))  # doctest: +SKIP
"""

from __future__ import annotations

from cmvrx import _startup  # first: the garbage collector paused while these imports run

try:
    from cmvrx._version import __version__
    from cmvrx.api import (
        assess_course,
        chart_course,
        check_order,
        dose,
        knowledge_summary,
        load_case,
        load_course,
        load_knowledge,
        parse_order,
        plan,
        plan_schema,
        read_orders,
    )
    from cmvrx.errors import (
        CmvrxError,
        ContradictoryInputError,
        ImplausibleValueError,
        InputError,
        InsufficientDataError,
        KnowledgeError,
        NotRecommendedError,
        StorageError,
        UnitError,
    )
    from cmvrx.model.dosage import Dosage, Interval
    from cmvrx.model.order_check import OrderCheck
    from cmvrx.model.patient import Case
    from cmvrx.model.plan import DISCLAIMER, DrugDose, Plan
finally:  # also when an import fails: the collector is never left paused
    _startup.resume()

__all__ = [
    "DISCLAIMER",
    "Case",
    "CmvrxError",
    "ContradictoryInputError",
    "Dosage",
    "DrugDose",
    "ImplausibleValueError",
    "InputError",
    "InsufficientDataError",
    "Interval",
    "KnowledgeError",
    "NotRecommendedError",
    "OrderCheck",
    "Plan",
    "StorageError",
    "UnitError",
    "__version__",
    "assess_course",
    "chart_course",
    "check_order",
    "dose",
    "knowledge_summary",
    "load_case",
    "load_course",
    "load_knowledge",
    "parse_order",
    "plan",
    "plan_schema",
    "read_orders",
]

"""The result of checking proposed orders (``cmvrx.check_order``): a verdict per order and
for the set, the findings with their rule, sources and the data used, and the corrected
order for ``adjust``. ``OrderCheck.to_dict()`` is the JSON contract of docs/order-check.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from cmvrx.frozen import fast_init
from cmvrx.model.dosage import Dosage
from cmvrx.model.plan import DISCLAIMER

Verdict = Literal["ok", "adjust", "not_recommended", "insufficient_data"]
FindingSeverity = Literal["info", "warning", "critical"]

#: Worst last: the set's verdict is the worst of its orders'.
VERDICT_RANK: Mapping[str, int] = {
    "ok": 0,
    "adjust": 1,
    "insufficient_data": 2,
    "not_recommended": 3,
}


@fast_init
@dataclass(frozen=True, slots=True)
class OrderFinding:
    severity: FindingSeverity
    rule_id: str
    message: str
    citations: tuple[str, ...]
    data_used: Mapping[str, Any]
    order_id: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "rule_id": self.rule_id,
            "message": self.message,
            "citations": list(self.citations),
            "data_used": dict(self.data_used),
            "order_id": self.order_id,
        }


@fast_init
@dataclass(frozen=True, slots=True)
class OrderResult:
    """One order's judgement."""

    order_id: str | None
    order: Dosage
    verdict: Verdict
    findings: tuple[OrderFinding, ...]
    corrected: Dosage | None
    assumed_phase: str | None
    assumed_column: str | None
    label_dose: str = ""  # the label dose it was compared with, as text

    def to_dict(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "order": self.order.to_dict(),
            "verdict": self.verdict,
            "findings": [f.to_dict() for f in self.findings],
            "corrected": None if self.corrected is None else self.corrected.to_dict(),
            "assumed_phase": self.assumed_phase,
            "assumed_column": self.assumed_column,
            "label_dose": self.label_dose,
        }


@fast_init
@dataclass(frozen=True, slots=True)
class OrderCheck:
    """Proposed orders checked together for one patient at ``as_of``."""

    verdict: Verdict
    results: tuple[OrderResult, ...]
    findings: tuple[OrderFinding, ...]  # every order's findings, then the set's own
    add: tuple[Dosage, ...]  # drugs the set lacks (a CNS combination's partner)
    as_of: datetime
    cmvrx_version: str
    knowledge_version: str
    knowledge_hash: str
    disclaimer: str = DISCLAIMER

    @property
    def corrected(self) -> Dosage | None:
        """The first adjusted order's corrected dosage (when the set's verdict is adjust)."""
        if self.verdict != "adjust":
            return None
        for r in self.results:
            if r.verdict == "adjust" and r.corrected is not None:
                return r.corrected
        return None

    def to_dict(self) -> dict[str, Any]:
        corrected = self.corrected
        return {
            "verdict": self.verdict,
            "corrected": None if corrected is None else corrected.to_dict(),
            "findings": [f.to_dict() for f in self.findings],
            "results": [r.to_dict() for r in self.results],
            "add": [d.to_dict() for d in self.add],
            "as_of": self.as_of.isoformat(),
            "cmvrx_version": self.cmvrx_version,
            "knowledge_version": self.knowledge_version,
            "knowledge_hash": self.knowledge_hash,
            "disclaimer": self.disclaimer,
        }

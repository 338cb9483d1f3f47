"""Conditions (and dialysis Procedures) by SNOMED CT and ICD-10(-CM): disease sites,
HIV, transplant, dialysis, pregnancy. Only active, confirmed Conditions count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cmvrx.fhir.problems import Match, Problem
from cmvrx.fhir.resources import Item
from cmvrx.fhir.values import code_of, codings, instant
from cmvrx.knowledge.terminology import SYSTEM_URI, ConditionBinding, TerminologyFile

ACTIVE = frozenset({"active", "recurrence", "relapse"})
_SYSTEMS = {
    SYSTEM_URI["snomed"]: "snomed",
    SYSTEM_URI["icd10cm"]: "icd10cm",
    SYSTEM_URI["icd10"]: "icd10cm",  # WHO ICD-10 shares these codes
}


@dataclass
class ConditionFacts:
    """What the active, confirmed Conditions say."""

    sites: set[str] = field(default_factory=set)
    cmv_without_site: list[str] = field(default_factory=list)
    hiv: bool = False
    hsct: bool = False
    organs: set[str] = field(default_factory=set)
    dialysis_dependence: list[str] = field(default_factory=list)
    hemodialysis: list[str] = field(default_factory=list)
    dialysis_procedures: list[str] = field(default_factory=list)
    pregnant: bool = False


class ConditionReader:
    def __init__(self, terminology: TerminologyFile) -> None:
        self.by_code: dict[tuple[str, str], ConditionBinding] = {
            (c.system, c.code): c for c in terminology.condition
        }

    def binding(self, resource: Mapping[str, Any]) -> ConditionBinding | None:
        for system, code, _ in codings(resource.get("code")):
            short = _SYSTEMS.get(system)
            if short and (short, code) in self.by_code:
                return self.by_code[(short, code)]
        return None

    def read(
        self, item: Item, facts: ConditionFacts, problems: list[Problem], matched: list[Match]
    ) -> bool:
        """Fold one Condition or Procedure into ``facts``; ``False`` if its code is not bound."""
        r = item.resource
        b = self.binding(r)
        if b is None or (item.type == "Procedure" and b.resource != "Procedure"):
            return False
        matched.append(Match(item.ref, b.concept, f"{b.system}:{b.code} ({b.confidence})"))
        if item.type == "Procedure":
            if r.get("status") in ("completed", "in-progress"):
                when = r.get("performedDateTime") or (r.get("performedPeriod") or {}).get("start")
                stamp = instant(when)
                facts.dialysis_procedures.append(stamp.isoformat() if stamp else item.ref)
            return True
        clinical = code_of(r.get("clinicalStatus"))
        verification = code_of(r.get("verificationStatus"))
        if verification == "entered-in-error":
            problems.append(
                Problem(
                    "entered_in_error",
                    item.ref,
                    "verificationStatus",
                    "entered in error: never used",
                    item.where,
                )
            )
            return True
        if clinical not in ACTIVE or verification != "confirmed":
            problems.append(
                Problem(
                    "not_active_confirmed",
                    item.ref,
                    "clinicalStatus",
                    f"{b.display}: clinicalStatus {clinical!r}, verificationStatus {verification!r}; only active, confirmed Conditions count",
                    item.where,
                )
            )
            return True
        self._fold(b, item, facts, problems)
        return True

    @staticmethod
    def _fold(
        b: ConditionBinding, item: Item, facts: ConditionFacts, problems: list[Problem]
    ) -> None:
        concept = b.concept
        if concept.startswith("site."):
            facts.sites.add(concept.removeprefix("site."))
        elif concept in ("cmv_other", "cmv_unspecified"):
            facts.cmv_without_site.append(item.ref)
            problems.append(
                Problem(
                    "site_unspecified",
                    item.ref,
                    "code",
                    f"{b.system} {b.code} ({b.display}) names no disease site the case format knows: state the site(s)",
                    item.where,
                )
            )
        elif concept == "not_treatment_target":
            problems.append(
                Problem(
                    "not_used",
                    item.ref,
                    "code",
                    f"{b.display}: not end-organ CMV disease",
                    item.where,
                )
            )
        elif concept == "hiv":
            facts.hiv = True
        elif concept == "hsct":
            facts.hsct = True
        elif concept.startswith("sot."):
            facts.organs.add(concept.removeprefix("sot."))
        elif concept == "dialysis_dependence":
            facts.dialysis_dependence.append(item.ref)
        elif concept == "hemodialysis":
            facts.hemodialysis.append(item.ref)
        elif concept == "pregnancy":
            facts.pregnant = True

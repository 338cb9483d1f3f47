"""The codes a synthetic export writes, taken from the knowledge's terminology bindings
(terminology.toml, from shared/terminology.md) — never typed here. UNCONFIRMED codes are
written only where the mapping needs text to corroborate them (drug names, the oral
route), exactly as an EHR would send both.
"""

from __future__ import annotations

from dataclasses import dataclass

from cmvrx.knowledge.bundle import Knowledge
from cmvrx.knowledge.terminology import SYSTEM_URI, TerminologyFile


@dataclass(frozen=True, slots=True)
class Coding:
    system: str
    code: str
    display: str


class Codes:
    """Look-ups by meaning: an analyte's LOINC code and unit, a concept's condition code,
    an ingredient's drug code, a route's SNOMED code."""

    def __init__(self, knowledge: Knowledge) -> None:
        t = knowledge.terminology
        if t is None:  # pragma: no cover - the loader always sets it
            raise ValueError("this knowledge carries no terminology")
        self.t: TerminologyFile = t

    def observation(self, analyte: str, specimen: str | None = None) -> tuple[Coding, str]:
        """The first confirmed LOINC code bound to ``analyte`` (and specimen) and its first
        listed unit."""
        for o in self.t.observation:
            if o.analyte != analyte or o.confidence == "UNCONFIRMED" or not o.used:
                continue
            if specimen is not None and o.specimen != specimen:
                continue
            unit = o.units[0] if o.units else ""
            return Coding(SYSTEM_URI["loinc"], o.code, o.display), unit
        raise KeyError(f"no confirmed LOINC code for {analyte!r}")

    def observation_code(self, code: str) -> tuple[Coding, str]:
        """A bound LOINC code by its code (e.g. a second creatinine code for variety)."""
        for o in self.t.observation:
            if o.code == code:
                return Coding(SYSTEM_URI["loinc"], o.code, o.display), o.units[0]
        raise KeyError(code)

    def condition(
        self, concept: str, system: str = "snomed", resource: str = "Condition"
    ) -> Coding:
        """A confirmed condition code for ``concept`` in ``system`` (snomed or icd10cm)."""
        for c in self.t.condition:
            if (
                c.concept == concept
                and c.system == system
                and c.resource == resource
                and c.confidence != "UNCONFIRMED"
            ):
                return Coding(SYSTEM_URI[c.system], c.code, c.display)
        raise KeyError(f"no {system} code for {concept!r}")

    def has_condition(self, concept: str, system: str = "snomed") -> bool:
        try:
            self.condition(concept, system)
        except KeyError:
            return False
        return True

    def drug(self, ingredient: str) -> tuple[Coding, str]:
        """The drug's best code (a confirmed RxNorm, else ATC, else the UNCONFIRMED one)
        and the name written in ``text`` (which corroborates an UNCONFIRMED code)."""
        rank = {"high": 0, "medium": 1, "UNCONFIRMED": 2}
        bindings = sorted(
            (m for m in self.t.medication if m.ingredient == ingredient),
            key=lambda m: (rank[m.confidence], m.system != "rxnorm"),
        )
        if not bindings:
            raise KeyError(f"no code for {ingredient!r}")
        best = bindings[0]
        name = next(i.names[0] for i in self.t.ingredient if i.id == ingredient)
        return Coding(SYSTEM_URI[best.system], best.code, name), name

    def route(self, route_id: str) -> tuple[Coding, str]:
        """The SNOMED route code and a word the mapping reads in ``route.text``."""
        for r in self.t.route:
            if r.id == route_id:
                return Coding(SYSTEM_URI["snomed"], r.code, r.display), r.words[0]
        raise KeyError(route_id)

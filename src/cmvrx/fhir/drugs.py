"""Recognise a drug: RxNorm (ingredient or clinical drug), then ATC, then the ingredient
name in ``text``/``display`` as the last resort. Says which route matched.

A code graded UNCONFIRMED in terminology.toml identifies a drug only when the text or
another code names the same ingredient; alone it is reported (``unconfirmed_code``).
Codes and text that name different ingredients are a ``conflict``: no match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cmvrx.fhir.problems import Match, Problem
from cmvrx.fhir.values import codings, texts
from cmvrx.knowledge.terminology import (
    SYSTEM_URI,
    Ingredient,
    MedicationBinding,
    TerminologyFile,
)

_SYSTEMS = {SYSTEM_URI["rxnorm"]: "rxnorm", SYSTEM_URI["atc"]: "atc"}
_TEXTS_KEPT = 4096  # distinct medication texts remembered per matcher


@dataclass(frozen=True, slots=True)
class DrugMatch:
    ingredient: Ingredient
    route: str


class DrugMatcher:
    """Matches CodeableConcepts against the bound ingredients of one terminology."""

    def __init__(self, terminology: TerminologyFile) -> None:
        self.ingredients = {i.id: i for i in terminology.ingredient}
        self.codes: dict[tuple[str, str], MedicationBinding] = {
            (m.system, m.code): m for m in terminology.medication
        }
        self.names = [
            (re.compile(rf"(?<![a-z]){re.escape(name)}(?![a-z])"), name, i)
            for i in terminology.ingredient
            for name in i.names
        ]
        self._texts: dict[str, tuple[tuple[str, str], ...]] = {}

    def _named_in(self, text: str) -> tuple[tuple[str, str], ...]:
        """(ingredient id, route) of every ingredient name in ``text``, in the order of
        ``names``. A text is searched once per matcher (an audit sees the same few
        medication texts on every patient); the memory is bounded."""
        found = self._texts.get(text)
        if found is None:
            low = text.lower()
            found = tuple(
                (known.id, f"text:{name!r}")
                for pattern, name, known in self.names
                if pattern.search(low)
            )
            if len(self._texts) >= _TEXTS_KEPT:
                self._texts.clear()
            self._texts[text] = found
        return found

    def match(
        self, concept: object, ref: str, where: str, problems: list[Problem], matched: list[Match]
    ) -> DrugMatch | None:
        """The ingredient ``concept`` names, or ``None`` (unrelated drug, or a reported problem)."""
        confirmed: dict[str, str] = {}
        unconfirmed: dict[str, str] = {}
        for system, code, _ in codings(concept):
            short = _SYSTEMS.get(system)
            binding = self.codes.get((short, code)) if short else None
            if binding is None:
                continue
            route = f"{short}:{code} ({binding.confidence})"
            target = unconfirmed if binding.confidence == "UNCONFIRMED" else confirmed
            target.setdefault(binding.ingredient, route)
        by_text: dict[str, str] = {}
        for text in texts(concept):
            for ingredient, route in self._named_in(text):
                by_text.setdefault(ingredient, route)

        def report(kind: str, message: str) -> None:
            problems.append(Problem(kind, ref, "medication", message, where))  # type: ignore[arg-type]

        named = set(confirmed) | set(by_text)
        if len(named) > 1 and set(confirmed) != named:
            report(
                "conflict",
                f"codes and text name different drugs ({', '.join(sorted(named))}): not used",
            )
            return None
        if confirmed:
            if len(confirmed) > 1:
                report(
                    "conflict",
                    f"codes name several drugs ({', '.join(sorted(confirmed))}): not used",
                )
                return None
            ((ingredient, route),) = confirmed.items()
        elif by_text:
            ((ingredient, route),) = by_text.items()
            if ingredient in unconfirmed:
                route = f"{unconfirmed[ingredient]}, corroborated by {route}"
        elif unconfirmed:
            for ingredient, route in unconfirmed.items():
                report(
                    "unconfirmed_code",
                    f"{route} is an UNCONFIRMED code for {ingredient} and nothing else names the drug: not used",
                )
            return None
        else:
            return None
        matched.append(Match(ref, ingredient, route))
        return DrugMatch(self.ingredients[ingredient], route)

"""Code bindings for FHIR (terminology.toml): shapes and the strict checks the loader runs.

Refused with ``KnowledgeError``: an unknown key, a duplicate binding (same system and
code twice), a LOINC code whose mod-10 check digit is wrong, a unit that ``units.py``
cannot convert for the binding's quantity kind, a drug code for an unknown ingredient,
and a citation found neither in the file's own ``[[source]]`` register nor in
citations.toml.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Literal

from pydantic import Field

from cmvrx import units
from cmvrx.errors import KnowledgeError
from cmvrx.knowledge.schema import Cite, StrictModel
from cmvrx.model.patient import DiseaseSite

Confidence = Literal["high", "medium", "UNCONFIRMED"]
SYSTEM_URI = {
    "loinc": "http://loinc.org",
    "snomed": "http://snomed.info/sct",
    "icd10cm": "http://hl7.org/fhir/sid/icd-10-cm",
    "icd10": "http://hl7.org/fhir/sid/icd-10",
    "rxnorm": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "atc": "http://www.whocc.no/atc",
    "ucum": "http://unitsofmeasure.org",
}
NO_CONVERSION = ("none", "ordinal")


class TermSource(StrictModel):
    id: str
    title: str
    url: str | None = None
    note: str | None = None


class ObservationBinding(StrictModel):
    """A LOINC code, what cmvrx reads it as, and the units that fit it."""

    code: str
    display: str
    analyte: str
    quantity: str
    units: tuple[str, ...]
    specimen: Literal["plasma", "csf", "whole_blood"] | None = None
    confidence: Confidence
    cite: Cite
    note: str | None = None

    @property
    def used(self) -> bool:
        return self.quantity != "none"


class ConditionBinding(StrictModel):
    """An ICD-10(-CM) or SNOMED CT code and the concept it stands for."""

    system: Literal["icd10cm", "snomed"]
    code: str
    resource: Literal["Condition", "Procedure"] = "Condition"
    display: str
    concept: str
    confidence: Confidence
    cite: Cite
    note: str | None = None


class Ingredient(StrictModel):
    """A drug ingredient cmvrx cares about, with the names matched as the last resort."""

    id: str
    role: Literal["cmv_antiviral", "immunosuppressant", "inducer", "antiretroviral", "other"]
    names: tuple[str, ...] = Field(min_length=1)
    cite: Cite


class MedicationBinding(StrictModel):
    """An RxNorm (ingredient or clinical drug) or ATC code for one ingredient."""

    ingredient: str
    system: Literal["rxnorm", "atc"]
    code: str
    tty: Literal["IN", "SCD", "SBD"] | None = None
    display: str | None = None
    confidence: Confidence
    cite: Cite


class RouteBinding(StrictModel):
    id: Literal["iv", "oral"]
    code: str
    display: str
    words: tuple[str, ...]
    confidence: Confidence
    cite: Cite


class TerminologyFile(StrictModel):
    source: tuple[TermSource, ...]
    observation: tuple[ObservationBinding, ...]
    condition: tuple[ConditionBinding, ...]
    ingredient: tuple[Ingredient, ...]
    medication: tuple[MedicationBinding, ...]
    route: tuple[RouteBinding, ...]


_SITES = [s.value for s in DiseaseSite]  # the case model's sites, one list
_CONCEPTS = {
    *(f"site.{s}" for s in _SITES),
    *(
        f"sot.{o}"
        for o in [
            "kidney",
            "heart",
            "lung",
            "heart_lung",
            "liver",
            "intestine",
            "pancreas",
            "organ",
        ]
    ),
    "cmv_unspecified",
    "cmv_other",
    "not_treatment_target",
    "hiv",
    "hsct",
    "dialysis_dependence",
    "hemodialysis",
    "pregnancy",
}


def loinc_check_digit_ok(code: str) -> bool:
    """LOINC's mod-10 check: ``2160-0`` yes, ``48643-3`` no."""
    base, dash, check = code.partition("-")
    if not dash or not base.isdigit() or not check.isdigit() or len(check) != 1:
        return False
    total = 0
    for i, ch in enumerate(reversed(base)):
        d = int(ch) * 2 if i % 2 == 0 else int(ch)
        total += d // 10 + d % 10
    return (10 - total % 10) % 10 == int(check)


def check_terminology(t: TerminologyFile, citations: Collection[str]) -> None:
    """Run every cross-check; raise ``KnowledgeError`` naming the first fault."""
    known = {s.id for s in t.source} | set(citations)
    _unique("source", (s.id for s in t.source))
    _unique("observation", (o.code for o in t.observation))
    _unique("condition", (f"{c.system}|{c.code}" for c in t.condition))
    _unique("ingredient", (i.id for i in t.ingredient))
    _unique("medication", (f"{m.system}|{m.code}" for m in t.medication))
    _unique("route", (r.id for r in t.route))
    for o in t.observation:
        _check_observation(o)
    for c in t.condition:
        if c.concept not in _CONCEPTS:
            raise KnowledgeError(
                f"terminology.toml: condition {c.code}: unknown concept {c.concept!r}"
            )
    ingredients = {i.id for i in t.ingredient}
    for m in t.medication:
        if m.ingredient not in ingredients:
            raise KnowledgeError(
                f"terminology.toml: medication {m.code}: unknown ingredient {m.ingredient!r}"
            )
    rows: list[tuple[str, tuple[str, ...]]] = [
        *((f"observation {o.code}", o.cite) for o in t.observation),
        *((f"condition {c.code}", c.cite) for c in t.condition),
        *((f"ingredient {i.id}", i.cite) for i in t.ingredient),
        *((f"medication {m.code}", m.cite) for m in t.medication),
        *((f"route {r.id}", r.cite) for r in t.route),
    ]
    for where, cites in rows:
        for cid in cites:
            if cid not in known:
                raise KnowledgeError(f"terminology.toml: {where}: citation {cid!r} is not known")


def _unique(what: str, keys: Iterable[str]) -> None:
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            raise KnowledgeError(f"terminology.toml: duplicate {what} {key!r}")
        seen.add(key)


def _check_observation(o: ObservationBinding) -> None:
    if not loinc_check_digit_ok(o.code):
        raise KnowledgeError(f"terminology.toml: observation {o.code}: bad LOINC check digit")
    if o.quantity in NO_CONVERSION:
        return
    try:
        accepted = units.observation_units(o.quantity)
    except KeyError:
        raise KnowledgeError(
            f"terminology.toml: observation {o.code}: unknown quantity kind {o.quantity!r}"
        ) from None
    if not o.units:
        raise KnowledgeError(f"terminology.toml: observation {o.code}: no units")
    for unit in o.units:
        if unit not in accepted:
            raise KnowledgeError(
                f"terminology.toml: observation {o.code}: unit {unit!r} is not convertible "
                f"as {o.quantity} in units.py"
            )

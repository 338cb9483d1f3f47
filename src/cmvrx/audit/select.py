"""Which resources and lines the audit needs: the patient a resource belongs to, whether
it is a CMV antiviral order, and a cheap text test on raw NDJSON lines (no JSON parse)
that every CMV antiviral medication line passes (a superset: the parse decides).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from cmvrx.fhir.drugs import DrugMatcher
from cmvrx.fhir.resources import Item
from cmvrx.fhir.values import contained_code
from cmvrx.knowledge.bundle import Knowledge

MED_TYPES = frozenset({"MedicationRequest", "MedicationAdministration", "MedicationStatement"})


def patient_of(resource: Mapping[str, Any]) -> str | None:
    """The Patient's own id, or the id its ``subject``/``patient`` reference names."""
    from cmvrx.fhir.inbound import _patient_of

    return _patient_of(Item(dict(resource)))


def _matcher(k: Knowledge) -> DrugMatcher:
    assert k.terminology is not None
    return DrugMatcher(k.terminology)


def is_cmv_antiviral_order(resource: Mapping[str, Any], k: Knowledge) -> bool:
    """A MedicationRequest/Administration/Statement of a CMV antiviral (by the FHIR
    layer's drug matching; a contained Medication is read, a reference to another
    resource is not followed here: ``medication_reference``)."""
    if resource.get("resourceType") not in MED_TYPES:
        return False
    concept = _concept(resource)
    return concept is not None and is_cmv_antiviral(concept, k)


def is_cmv_antiviral(concept: object, k: Knowledge) -> bool:
    """Does this CodeableConcept name a CMV antiviral?"""
    match = k.derived(("fhir", "drugs"), _matcher).match(concept, "", "", [], [])
    return match is not None and match.ingredient.role == "cmv_antiviral"


def medication_reference(resource: Mapping[str, Any]) -> str | None:
    """The ``medicationReference`` of a medication resource, when it points outside it."""
    ref = resource.get("medicationReference")
    value = ref.get("reference") if isinstance(ref, Mapping) else None
    return value if isinstance(value, str) and not value.startswith("#") else None


def _concept(resource: Mapping[str, Any]) -> object:
    if "medicationCodeableConcept" in resource:
        return resource["medicationCodeableConcept"]
    ref = resource.get("medicationReference")
    value = ref.get("reference") if isinstance(ref, Mapping) else None
    if isinstance(value, str) and value.startswith("#"):
        return contained_code(resource, value)[1]
    return None


def needles(k: Knowledge) -> tuple[str, ...]:
    """Lower-case strings one of which every CMV antiviral medication line contains:
    the ingredient names and the quoted RxNorm/ATC codes of terminology.toml."""
    t = k.terminology
    assert t is not None
    antivirals = {i.id for i in t.ingredient if i.role == "cmv_antiviral"}
    names = {n.lower() for i in t.ingredient if i.id in antivirals for n in i.names}
    codes = {f'"{m.code.lower()}"' for m in t.medication if m.ingredient in antivirals}
    return tuple(sorted(names | codes))


def line_pattern(k: Knowledge) -> re.Pattern[str]:
    """A case-insensitive regex for ``needles`` (for engines that filter lines by regex)."""
    return re.compile("|".join(re.escape(n) for n in needles(k)), re.IGNORECASE)


def may_be_cmv_antiviral(line: str, k: Knowledge) -> bool:
    """Cheap: could this raw NDJSON line be a CMV antiviral medication resource (or one
    that points to a Medication resource, resolved after the parse)?

    An ASCII line is lower-cased and searched for each needle (what the case-insensitive
    ``line_pattern`` finds in it, several times faster); any other line goes through
    ``line_pattern`` (Unicode case folding)."""
    if "Medication" not in line:
        return False
    if "medicationReference" in line:
        return True
    if line.isascii():
        low = line.lower()
        return any(n in low for n in k.derived(("audit", "needles"), needles))
    return k.derived(("audit", "line_pattern"), line_pattern).search(line) is not None

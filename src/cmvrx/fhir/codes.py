"""The codes cmvrx binds (terminology.toml), for prefetch templates and queries.

``observation_codes()`` etc. return ``(system URI, code)`` pairs; ``*_token()`` the
comma-joined FHIR search token (``system|code,system|code``) a template filters by.
UNCONFIRMED codes are included in the lists (an EHR that sends them lets cmvrx report
them), never emitted as facts.
"""

from __future__ import annotations

from functools import cache

from cmvrx.knowledge.bundle import Knowledge
from cmvrx.knowledge.terminology import SYSTEM_URI, TerminologyFile


@cache
def _default() -> TerminologyFile:
    from cmvrx.knowledge.loader import load

    return terminology(load())


def terminology(knowledge: Knowledge | None = None) -> TerminologyFile:
    """The bound terminology of ``knowledge`` (the bundled knowledge when None)."""
    if knowledge is None:
        return _default()
    if knowledge.terminology is None:  # pragma: no cover - the loader always sets it
        raise ValueError("this knowledge carries no terminology")
    return knowledge.terminology


def observation_codes(
    knowledge: Knowledge | None = None, analytes: tuple[str, ...] | None = None
) -> list[tuple[str, str]]:
    """LOINC codes bound to an analyte (all, or those of ``analytes``)."""
    t = terminology(knowledge)
    return [
        (SYSTEM_URI["loinc"], o.code)
        for o in t.observation
        if analytes is None or o.analyte in analytes
    ]


def condition_codes(
    knowledge: Knowledge | None = None, resource: str = "Condition"
) -> list[tuple[str, str]]:
    """SNOMED CT and ICD-10-CM codes bound to a concept, for Conditions (or Procedures)."""
    return [
        (SYSTEM_URI[c.system], c.code)
        for c in terminology(knowledge).condition
        if c.resource == resource
    ]


def medication_codes(
    knowledge: Knowledge | None = None, roles: tuple[str, ...] | None = None
) -> list[tuple[str, str]]:
    """RxNorm and ATC codes of the bound ingredients (all, or those with ``roles``)."""
    t = terminology(knowledge)
    keep = {i.id for i in t.ingredient if roles is None or i.role in roles}
    return [(SYSTEM_URI[m.system], m.code) for m in t.medication if m.ingredient in keep]


def search_token(pairs: list[tuple[str, str]]) -> str:
    """``system|code,system|code`` for a FHIR ``code=`` search parameter."""
    return ",".join(f"{system}|{code}" for system, code in pairs)


def prefetch_templates(knowledge: Knowledge | None = None) -> dict[str, str]:
    """CDS Hooks prefetch templates (FHIR searches relative to ``fhirServer``) for what
    the inbound mapping reads. Searches filtered by code list every bound code, so an
    EHR that honours the filter sends all that is needed (e.g. all creatinine codes).
    Medication searches filter by status, not code: text is the last-resort match.
    The keys are the CDS Hooks discovery contract (docs/service.md): never rename them."""
    patient = "{{context.patientId}}"
    procedures = condition_codes(knowledge, "Procedure")
    return {
        "patient": f"Patient/{patient}",
        "observations": f"Observation?patient={patient}&code={search_token(observation_codes(knowledge))}",
        "conditions": f"Condition?patient={patient}&code={search_token(condition_codes(knowledge))}",
        "procedures": f"Procedure?patient={patient}&code={search_token(procedures)}",
        "medications": f"MedicationRequest?patient={patient}&status=active,on-hold,draft",
        "medicationAdministrations": f"MedicationAdministration?patient={patient}",
        "medicationStatements": f"MedicationStatement?patient={patient}&status=active,intended",
        "allergies": f"AllergyIntolerance?patient={patient}",
    }

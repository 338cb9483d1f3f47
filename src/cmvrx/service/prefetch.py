"""Prefetch templates for the CDS services, built from the code lists the service binds.

``code_lists()`` is the ONE place the codes come from. For now it is a stub holding the
verified LOINC codes of ``../shared/terminology.md``; after the FHIR mapping lands it
returns the bindings of ``cmvrx.fhir.codes`` (knowledge data with sources), so a
template filtered by code always lists every code the inbound mapping understands
(e.g. both creatinine codes), and an EHR that honours the filter sends all that is needed.
"""

from __future__ import annotations

LOINC = "http://loinc.org"


def code_lists() -> dict[str, tuple[tuple[str, str], ...]]:
    """``{"observations": ((system, code), …)}`` — STUB until ``cmvrx.fhir.codes`` exists."""
    observation_codes = (
        "2160-0", "14682-9", "38483-4", "2164-2",  # creatinine, measured clearance
        "29463-7", "8302-2",  # weight, height
        "751-8", "26499-4", "777-3", "26515-7", "718-7",  # ANC, platelets, hemoglobin
        "2823-3", "6298-4", "19123-9", "17861-6", "49765-1", "2777-1",  # electrolytes
        "5804-0", "2890-2",  # urine protein
        "24467-3", "20447-9",  # CD4, HIV-1 RNA
        "72493-0", "72494-8", "30247-1",  # CMV DNA in plasma
    )  # fmt: skip
    return {"observations": tuple((LOINC, code) for code in observation_codes)}


def _token_list(codes: tuple[tuple[str, str], ...]) -> str:
    return ",".join(f"{system}|{code}" for system, code in codes)


def templates() -> dict[str, str]:
    """The prefetch templates every cmvrx service asks for (same set for each hook)."""
    lists = code_lists()
    patient = "{{context.patientId}}"
    return {
        "patient": f"Patient/{patient}",
        "observations": f"Observation?patient={patient}&code={_token_list(lists['observations'])}",
        "conditions": f"Condition?patient={patient}&clinical-status=active",
        "medications": f"MedicationRequest?patient={patient}&status=active",
    }

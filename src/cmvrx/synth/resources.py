"""FHIR R4 resources of a synthetic export, as plain dicts (one Bulk Data line each).

Shapes are the ones ``cmvrx.fhir`` reads (docs: fhir/inbound.py): LOINC-coded
Observations with UCUM quantities, active confirmed Conditions, dialysis Procedures,
MedicationRequests with one structured ``dosageInstruction`` and completed
MedicationAdministrations. Times are ISO 8601 UTC with a ``Z``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cmvrx.knowledge.terminology import SYSTEM_URI
from cmvrx.synth.codes import Coding

Resource = dict[str, Any]
_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


def stamp(at: datetime) -> str:
    """``2026-12-01T06:00:00Z``."""
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _concept(c: Coding, text: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"coding": [{"system": c.system, "code": c.code, "display": c.display}]}
    if text:
        out["text"] = text
    return out


def _subject(pid: str) -> dict[str, str]:
    return {"reference": f"Patient/{pid}"}


def _quantity(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": SYSTEM_URI["ucum"], "code": unit}


def patient(pid: str, gender: str, birth: str) -> Resource:
    return {"resourceType": "Patient", "id": pid, "gender": gender, "birthDate": birth}


def observation(
    rid: str, pid: str, code: Coding, at: datetime, value: float, unit: str, category: str
) -> Resource:
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "category": [{"coding": [{"system": _CATEGORY, "code": category}]}],
        "code": _concept(code),
        "subject": _subject(pid),
        "effectiveDateTime": stamp(at),
        "valueQuantity": _quantity(value, unit),
    }


def cmv_pcr(
    rid: str, pid: str, code: Coding, unit: str, at: datetime, value: float | None, lower: float
) -> Resource:
    """A CMV DNA load: a quantity, or "Not detected" (``value`` None); the assay's limit
    as ``referenceRange.low``."""
    r = observation(rid, pid, code, at, 0.0, unit, "laboratory")
    if value is None:
        del r["valueQuantity"]
        r["valueCodeableConcept"] = {"text": "Not detected"}
    else:
        r["valueQuantity"] = _quantity(value, unit)
    r["referenceRange"] = [{"low": _quantity(lower, unit)}]
    return r


def condition(rid: str, pid: str, code: Coding, onset: datetime) -> Resource:
    return {
        "resourceType": "Condition",
        "id": rid,
        "clinicalStatus": {"coding": [{"system": _CLINICAL, "code": "active"}]},
        "verificationStatus": {"coding": [{"system": _VERIFICATION, "code": "confirmed"}]},
        "code": _concept(code),
        "subject": _subject(pid),
        "onsetDateTime": stamp(onset),
    }


def procedure(rid: str, pid: str, code: Coding, at: datetime) -> Resource:
    return {
        "resourceType": "Procedure",
        "id": rid,
        "status": "completed",
        "code": _concept(code),
        "subject": _subject(pid),
        "performedDateTime": stamp(at),
    }


def medication_request(
    rid: str,
    pid: str,
    drug: tuple[Coding, str],
    route: tuple[Coding, str],
    dose: tuple[float, str],
    timing: dict[str, Any],
    authored: datetime,
    status: str = "active",
    end: datetime | None = None,
) -> Resource:
    """An order: ``dose`` (value, "mg" or "mg/kg"); ``timing`` a ``Timing`` (repeat or code)."""
    bounds: dict[str, str] = {"start": stamp(authored)}
    if end is not None:
        bounds["end"] = stamp(end)
    timing = {**timing, "repeat": {**timing.get("repeat", {}), "boundsPeriod": bounds}}
    return {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": status,
        "intent": "order",
        "medicationCodeableConcept": _concept(drug[0], drug[1]),
        "subject": _subject(pid),
        "authoredOn": stamp(authored),
        "dosageInstruction": [
            {
                "timing": timing,
                "route": _concept(route[0], route[1]),
                "doseAndRate": [{"doseQuantity": _quantity(dose[0], dose[1])}],
            }
        ],
    }


def administration(
    rid: str, pid: str, request: str, drug: tuple[Coding, str], at: datetime, mg: float
) -> Resource:
    return {
        "resourceType": "MedicationAdministration",
        "id": rid,
        "status": "completed",
        "medicationCodeableConcept": _concept(drug[0], drug[1]),
        "subject": _subject(pid),
        "request": {"reference": f"MedicationRequest/{request}"},
        "effectiveDateTime": stamp(at),
        "dosage": {"dose": _quantity(mg, "mg")},
    }

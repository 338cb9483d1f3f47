"""One FHIR MedicationRequest as a structured ``Dosage``: the hook ``cmvrx.api``
uses for a FHIR order (``api.FHIR_ORDER_MODULE``; ``cmvrx check-order --order``,
``POST /api/v1/check-order``).

The same readers as the inbound mapping (``drugs.DrugMatcher``, ``dosage.OrderReader``):
the drug by RxNorm, ATC or ingredient name (a contained ``Medication`` is followed), the
three dose shapes, both ways of writing q12h. Anything that cannot be read — not a CMV
antiviral, no structured dose, no route where the drug has several — is an
``InputError`` naming the field; nothing is completed by guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cmvrx.errors import InputError
from cmvrx.fhir.problems import Problem
from cmvrx.fhir.values import contained_code

if TYPE_CHECKING:
    from cmvrx.knowledge.bundle import Knowledge
    from cmvrx.model.dosage import Dosage


def dosage_from_medication_request(
    resource: Mapping[str, object], knowledge: Knowledge | None = None
) -> Dosage:
    """The order ``resource`` states, as a ``Dosage`` (``InputError`` naming the field)."""
    from cmvrx import api
    from cmvrx.fhir.dosage import OrderReader
    from cmvrx.fhir.inbound import _drug_matcher

    if resource.get("resourceType") != "MedicationRequest":
        raise InputError("must be a FHIR MedicationRequest", field="resourceType")
    k = knowledge or api.load_knowledge()
    rid = resource.get("id")
    ref = f"MedicationRequest/{rid}" if isinstance(rid, str) and rid else "MedicationRequest"
    problems: list[Problem] = []
    match = k.derived(("fhir", "drugs"), _drug_matcher).match(
        _concept(resource), ref, "", problems, []
    )
    if match is None:
        raise InputError(_first(problems, "not a CMV antiviral cmvrx knows"), field="medication")
    if match.ingredient.role != "cmv_antiviral":
        raise InputError(
            f"{match.ingredient.id} is not a CMV antiviral cmvrx checks", field="medication"
        )
    # the reader needs an id (to update a draft); a bare order checked here may lack one
    readable: dict[str, Any] = {**resource, "id": rid if isinstance(rid, str) and rid else "-"}
    doc, _how = k.derived(("fhir", "orders"), OrderReader).order(
        readable, match.ingredient.id, ref, "", problems
    )
    if doc is None:
        bad = next(p for p in problems if p.kind == "order_incomplete")
        raise InputError(f"MedicationRequest: {bad.message}", field=bad.field)
    if doc["id"] == "-":
        del doc["id"]
    return api.parse_order(doc)


def _concept(resource: Mapping[str, object]) -> object:
    if "medicationCodeableConcept" in resource:
        return resource["medicationCodeableConcept"]
    reference = resource.get("medicationReference")
    ref = reference.get("reference") if isinstance(reference, Mapping) else None
    if isinstance(ref, str) and ref.startswith("#"):
        found, code = contained_code(resource, ref)
        if found:
            return code
    raise InputError(
        "MedicationRequest: give medicationCodeableConcept (or a contained Medication)",
        field="medicationCodeableConcept",
    )


def _first(problems: list[Problem], default: str) -> str:
    return f"MedicationRequest: {problems[0].message if problems else default}"

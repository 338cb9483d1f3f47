"""``POST /api/v1/check-order``: is this order right for this patient today?

The patient comes as a case document (docs/case-format.md) or as a FHIR record (a
Bundle or a list of resources, read by ``cmvrx.fhir.inbound``); each order as an order
document (docs/order-check.md) or a FHIR MedicationRequest (``cmvrx.fhir.
medication_request``). ``cmvrx.api.check_order`` judges them together. No clinical logic
here; bad input is a 422 problem naming the field — never a 5xx, never a dose.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from cmvrx import api
from cmvrx.errors import InputError
from cmvrx.service.auth import authenticate
from cmvrx.service.rest import _ERRORS

router = APIRouter(
    prefix="/api/v1", tags=["REST API"], responses=_ERRORS, dependencies=[Depends(authenticate)]
)
MAX_ORDERS = 20


class CheckOrderRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case: dict[str, Any] | None = Field(
        default=None, description="A case document (GET /api/v1/schema); or give `record`."
    )
    record: dict[str, Any] | list[dict[str, Any]] | None = Field(
        default=None,
        description="The patient's FHIR R4 record: a Bundle or a list of resources"
        " (Patient, Observation, Condition, Procedure, Medication*, AllergyIntolerance).",
    )
    orders: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=MAX_ORDERS,
        description="Order documents (docs/order-check.md) or FHIR MedicationRequests,"
        " checked together.",
    )
    as_of: AwareDatetime | None = Field(default=None, description="Time of the check.")
    no_dialysis_unless_recorded: bool = Field(
        default=False,
        description="With `record`: read a record with no dialysis recorded as no dialysis"
        " (default: a missing dialysis status is reported).",
    )


@router.post("/check-order", summary="Check proposed orders for one patient")
def post_check_order(body: CheckOrderRequest, request: Request) -> dict[str, Any]:
    when = body.as_of or datetime.fromtimestamp(request.app.state.settings.clock(), UTC)
    if (body.case is None) == (body.record is None):
        raise InputError(
            "give exactly one of case (a case document) or record (FHIR)", field="case"
        )
    problems: list[dict[str, str]] = []
    subject: Any = body.case
    if body.record is not None:
        from cmvrx.fhir import inbound

        mapped = inbound.read(
            body.record, as_of=when, no_dialysis_unless_recorded=body.no_dialysis_unless_recorded
        )
        problems = [p.to_dict() for p in mapped.problems]
        if mapped.case is None:
            missing = "; ".join(
                f"{p.resource or 'record'} {p.field}: {p.message}".strip()
                for p in mapped.problems[:8]
            )
            raise InputError(f"the record does not make a case: {missing}", field="record")
        subject = mapped.case
    orders: list[Any] = []
    for i, order in enumerate(body.orders):
        try:
            orders.append(api.read_order(order))
        except InputError as exc:
            where = f"orders[{i}]" + (f".{exc.field}" if exc.field else "")
            raise InputError(str(exc), field=where) from None
    document = api.check_order(subject, orders, as_of=when).to_dict()
    if body.record is not None:
        document["record_problems"] = problems
    return document

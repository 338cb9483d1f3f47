"""CDS Hooks routes: discovery, the hook calls, feedback (all behind the JWT check).

Order of checks on a hook call: the token (401), the service id (404), the body and the
hook's context (400, an OperationOutcome naming the field), then the data: a prefetch
key the service asked for that is absent (or an OperationOutcome) is fetched from
``fhirServer`` with ``fhirAuthorization``; with no ``fhirServer``, or when it cannot
give the data, the call answers 412 (spec §"Providing FHIR Resources"; ``data``). Then
the hook's handler.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from cmvrx.service import prefetch
from cmvrx.service.auth import authenticate
from cmvrx.service.cdshooks.data import DataMissingError, complete
from cmvrx.service.cdshooks.discovery import BY_ID, discovery
from cmvrx.service.cdshooks.handlers import HookCall
from cmvrx.service.cdshooks.models import CdsResponse, FeedbackRequest, HookRequest, wire
from cmvrx.service.problems import FHIR_JSON, operation_outcome, validation_field
from cmvrx.service.responses import CardsResponse
from cmvrx.service.security import VerifiedCall
from cmvrx.service.settings import Settings
from cmvrx.store.port import FeedbackRecord

_OUTCOME = {"description": "An OperationOutcome naming the problem", "content": {FHIR_JSON: {}}}
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _OUTCOME,
    401: {"description": "No valid JWT from a trusted client (no detail given)"},
    404: _OUTCOME,
}

router = APIRouter(
    prefix="/cds-services",
    tags=["CDS Hooks"],
    responses=_ERRORS,
    dependencies=[Depends(authenticate)],
)
Caller = Annotated[VerifiedCall, Depends(authenticate)]
JsonBody = Annotated[dict[str, Any], Body()]


@router.get("", summary="Discovery: the CDS services offered")
async def get_discovery() -> Response:
    return Response(_discovery_json(), media_type="application/json")


@lru_cache(maxsize=1)
def _discovery_json() -> bytes:
    return json.dumps(wire(discovery()), ensure_ascii=False).encode()


@router.post(
    "/{service_id}",
    summary="Call a CDS service (patient-view, order-select, order-sign)",
    responses={412: _OUTCOME},
)
def call_service(service_id: str, body: JsonBody, request: Request, caller: Caller) -> JSONResponse:
    return answer_hook(service_id, body, request.app.state.settings, caller)


def answer_hook(
    service_id: str, body: dict[str, Any], settings: Any, caller: VerifiedCall
) -> JSONResponse:
    """The answer to one authenticated hook call with a JSON-object body (the route above
    and the hook fast lane, ``cdshooks.fastlane``, both answer through here); ``caller``
    names the client, whose registered FHIR servers bound the ``fhirServer`` called."""
    spec = BY_ID.get(service_id)
    if spec is None:
        return operation_outcome(404, "no such CDS service", field="id")
    try:
        hook_request = HookRequest.model_validate(body)
        context = spec.context.model_validate(hook_request.context)
    except ValidationError as exc:
        field, message = validation_field(exc.errors())
        return operation_outcome(400, message, field=field)
    if hook_request.hook != spec.hook:
        return operation_outcome(400, f"this service answers the {spec.hook} hook", field="hook")
    auth = hook_request.fhirAuthorization
    try:
        data = complete(
            templates(),
            hook_request.prefetch or {},
            context=hook_request.context,
            fhir_server=hook_request.fhirServer,
            access_token=auth.access_token if auth else None,
            transport=settings.fhir_transport,
            listed_servers=_listed_servers(settings, caller),
        )
    except DataMissingError as exc:
        return operation_outcome(412, str(exc), field="prefetch")
    call = HookCall(
        service_id=spec.id,
        request=hook_request,
        context=context,
        as_of=datetime.fromtimestamp(settings.clock(), UTC),
        prefetch=data,
        no_dialysis_unless_recorded=settings.no_dialysis_unless_recorded,
    )
    return CardsResponse(wire(CdsResponse(cards=spec.handler(call))))


def _listed_servers(settings: Settings, caller: VerifiedCall) -> tuple[str, ...]:
    """The FHIR servers the calling client registered (none: any https server)."""
    client = settings.clients.get(caller.iss) if settings.clients is not None else None
    return client.fhir_servers if client is not None else ()


@lru_cache(maxsize=1)
def templates() -> dict[str, str]:
    """The prefetch templates of every service (built once)."""
    return prefetch.templates()


@router.post("/{service_id}/feedback", summary="Feedback: what the clinician did with a card")
def post_feedback(service_id: str, body: JsonBody, request: Request, caller: Caller) -> Response:
    if service_id not in BY_ID:
        return operation_outcome(404, "no such CDS service", field="id")
    try:
        feedback = FeedbackRequest.model_validate(body)
    except ValidationError as exc:
        field, message = validation_field(exc.errors())
        return operation_outcome(400, message, field=field)
    request.app.state.store.record_feedback(
        [_record(service_id, item, caller) for item in feedback.feedback]
    )
    return Response(status_code=200)


def _record(service_id: str, item: Any, caller: VerifiedCall) -> FeedbackRecord:
    reason = item.overrideReason.reason if item.overrideReason else None
    return FeedbackRecord(
        service_id=service_id,
        card_uuid=item.card,
        outcome=item.outcome,
        outcome_at=item.outcomeTimestamp,
        accepted_suggestions=tuple(s.id for s in item.acceptedSuggestions or ()),
        override_code=reason.code if reason else None,
        override_system=reason.system if reason else None,
        override_display=reason.display if reason else None,
        override_comment=item.overrideReason.userComment if item.overrideReason else None,
        client_iss=caller.iss,
    )

"""Errors on the wire: RFC 9457 problem details on the REST API, an ``OperationOutcome``
on the CDS Hooks routes, an empty 401 for anything about authentication.

A bad input names the field (``field`` in the problem, ``expression`` in the
OperationOutcome) and is a 4xx; the messages carry no stack trace. A bug is a 500 with
no detail.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse, Response

from cmvrx.errors import (
    CmvrxError,
    DuplicateCourseError,
    InputError,
    KnowledgeError,
    NotRecommendedError,
    StorageError,
    UnknownCourseError,
)

PROBLEM_JSON = "application/problem+json"
FHIR_JSON = "application/fhir+json"

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    412: "Precondition failed: data needed",
    422: "Unprocessable input",
    500: "Internal error",
    503: "Service unavailable",
}


def unauthorized() -> Response:
    """401 with no detail at all (the reason is never told, nor logged)."""
    return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})


def status_for(exc: CmvrxError) -> int:
    if isinstance(exc, UnknownCourseError):
        return 404
    if isinstance(exc, InputError):
        return 409 if isinstance(exc, DuplicateCourseError) else 422
    if isinstance(exc, NotRecommendedError):
        return 422
    if isinstance(exc, StorageError):
        return 503
    if isinstance(exc, KnowledgeError):
        return 500
    return 422


def problem(status: int, detail: str, *, field: str | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": _TITLES.get(status, "Error"),
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if field:
        body["field"] = field
    body.update({k: v for k, v in extra.items() if v})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def operation_outcome(status: int, detail: str, *, field: str | None = None) -> JSONResponse:
    issue: dict[str, Any] = {
        "severity": "error",
        "code": {400: "invalid", 404: "not-found", 412: "incomplete"}.get(status, "processing"),
        "diagnostics": detail or _TITLES.get(status, "Error"),
    }
    if field:
        issue["expression"] = [field]
    body = {"resourceType": "OperationOutcome", "issue": [issue]}
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON)


def from_error(exc: CmvrxError, *, fhir: bool) -> JSONResponse:
    status = status_for(exc)
    field = getattr(exc, "field", None)
    detail = "internal knowledge error" if status == 500 else str(exc)
    if fhir:
        return operation_outcome(status, detail, field=field)
    return problem(status, detail, field=field, rule_id=getattr(exc, "rule_id", None))


def validation_field(errors: list[Any]) -> tuple[str, str]:
    """The first pydantic/FastAPI error as (dotted field, message)."""
    if not errors:
        return "body", "invalid request"
    first = errors[0]
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body",)]
    return ".".join(loc) or "body", str(first.get("msg", "invalid value"))

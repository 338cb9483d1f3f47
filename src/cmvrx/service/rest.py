"""The REST API for non-EHR clients (``/api/v1``): thin wrappers over ``cmvrx.api`` and
the course store. No clinical logic here; errors are RFC 9457 problem details naming
the field (4xx), never a 5xx and never a dose for bad input.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from cmvrx import api
from cmvrx.model.plan import DISCLAIMER, jsonable
from cmvrx.service.auth import authenticate
from cmvrx.service.problems import PROBLEM_JSON

_PROBLEM = {
    "description": "RFC 9457 problem details naming the field",
    "content": {PROBLEM_JSON: {}},
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _PROBLEM,
    401: {"description": "No valid JWT from a trusted client (no detail given)"},
    404: _PROBLEM,
    409: _PROBLEM,
    422: _PROBLEM,
    503: _PROBLEM,
}

router = APIRouter(
    prefix="/api/v1", tags=["REST API"], responses=_ERRORS, dependencies=[Depends(authenticate)]
)
CourseId = Annotated[str, Field(min_length=1, max_length=200)]
Drug = Literal["ganciclovir", "valganciclovir", "foscarnet", "cidofovir", "letermovir", "maribavir"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlanRequest(_Body):
    case: dict[str, Any] = Field(description="A case document (see GET /api/v1/schema).")
    as_of: AwareDatetime | None = Field(
        default=None, description="Time of the plan (default: now)."
    )


class DoseRequest(_Body):
    drug: Drug
    phase: Literal["induction", "maintenance", "prophylaxis", "refractory_treatment", "prevention"]
    weight_kg: float
    age_years: float
    sex: Literal["male", "female"]
    creatinine: float | None = None
    creatinine_unit: Literal["mg/dL", "umol/L"] = "mg/dL"
    dialysis: Literal["none", "intermittent_hemodialysis", "crrt", "peritoneal"] = "none"
    height_cm: float | None = None
    column: Literal["60_q8h", "90_q12h", "90_per_day", "120_per_day"] | None = None
    medications: list[str] = Field(default_factory=list, max_length=50)
    as_of: AwareDatetime | None = None


class NewCourse(_Body):
    course_id: CourseId
    baseline: dict[str, Any]
    events: list[dict[str, Any]] = Field(default_factory=list, max_length=1000)


class NewEvents(_Body):
    events: list[dict[str, Any]] = Field(min_length=1, max_length=1000)


class AssessRequest(_Body):
    as_of: AwareDatetime | None = None


def _now(request: Request, given: datetime | None) -> datetime:
    return given or datetime.fromtimestamp(request.app.state.settings.clock(), UTC)


@router.post("/plan", summary="The complete treatment plan for one case")
def post_plan(body: PlanRequest, request: Request) -> dict[str, Any]:
    return api.plan(body.case, as_of=_now(request, body.as_of)).to_dict()


@router.post("/dose", summary="A quick single-drug dose (blood counts not checked)")
def post_dose(body: DoseRequest, request: Request) -> dict[str, Any]:
    when = _now(request, body.as_of)
    result = api.dose(
        body.drug,
        phase=body.phase,
        as_of=when,
        weight_kg=body.weight_kg,
        age_years=body.age_years,
        sex=body.sex,
        creatinine=body.creatinine,
        creatinine_unit=body.creatinine_unit,
        dialysis=body.dialysis,
        height_cm=body.height_cm,
        column=body.column,
        medications=tuple(body.medications),
    )
    knowledge = api.load_knowledge()
    provenance = {
        "knowledge_version": knowledge.version,
        "knowledge_hash": knowledge.content_hash,
        "as_of": when.isoformat(),
        "disclaimer": DISCLAIMER,
    }
    return {"dose": jsonable(asdict(result)), "provenance": provenance}


@router.post("/courses", status_code=201, summary="Create a course (baseline case + events)")
def post_course(body: NewCourse, request: Request) -> dict[str, Any]:
    store = request.app.state.store
    seqs = store.create_course(body.course_id, api.load_case(body.baseline), events=body.events)
    return {"course_id": body.course_id, "seqs": seqs}


@router.post("/courses/{course_id}/events", summary="Append events to a course")
def post_events(course_id: str, body: NewEvents, request: Request) -> dict[str, Any]:
    return {
        "course_id": course_id,
        "seqs": request.app.state.store.add_events(course_id, body.events),
    }


@router.post("/courses/{course_id}/assessments", summary="Assess a course now (recorded)")
def post_assessment(course_id: str, body: AssessRequest, request: Request) -> dict[str, Any]:
    store = request.app.state.store
    when = _now(request, body.as_of)
    course = store.get_course(course_id)
    result = api.assess_course(course, as_of=when)
    document = result.to_dict()
    stamp = result.provenance
    assessment_id = store.record_assessment(
        course_id,
        when,
        stamp.knowledge_version,
        stamp.knowledge_hash,
        json.dumps(document, ensure_ascii=False),
        events_seen=len(course.events),
    )
    return {**document, "assessment_id": assessment_id}


@router.get("/knowledge", summary="What knowledge is loaded, with sources")
def get_knowledge(drug: Drug | None = None) -> dict[str, Any]:
    return api.knowledge_summary(drug)


@router.get("/schema", summary="The JSON Schema of the case format")
def get_schema() -> dict[str, Any]:
    return api.plan_schema()


@router.get("/feedback", summary="CDS Hooks feedback received (accepted / overridden)")
def get_feedback(
    request: Request,
    service_id: Annotated[str | None, Query(max_length=100)] = None,
) -> JSONResponse:
    records = request.app.state.store.list_feedback(service_id)
    items = [{k: v for k, v in jsonable(asdict(r)).items() if v not in (None, [])} for r in records]
    return JSONResponse({"feedback": items})

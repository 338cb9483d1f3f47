"""The REST API: plan, dose, courses, knowledge — problem details naming the field, no 5xx."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from svc_support import REPO

from cmvrx.service.problems import PROBLEM_JSON

Auth = Callable[[str], dict[str, str]]
AS_OF = "2026-11-24T08:00:00Z"


def _example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "examples" / name).read_text(encoding="utf-8"))
    return data


def _post(client: TestClient, auth: Auth, path: str, body: Any) -> Any:
    return client.post(path, json=body, headers=auth(path))


def _problem(response: Any, status: int, field: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert field in body.get("field", ""), body
    assert "dose_mg" not in response.text
    return body


def test_plan_returns_the_plan_of_the_example_case(client: TestClient, auth: Auth) -> None:
    response = _post(
        client,
        auth,
        "/api/v1/plan",
        {"case": _example("cns-encephalitis-hiv.yaml"), "as_of": AS_OF},
    )
    assert response.status_code == 200
    plan = response.json()
    assert plan["case_id"] == "example-cns-encephalitis-hiv"
    assert plan["provenance"]["knowledge_version"]


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda c: c["patient"]["weight"].update(value=-3), "patient.weight"),
        (lambda c: c["renal"]["serum_creatinine"].update(unit="mmol/dL"), "renal.serum_creatinine"),
        (lambda c: c["patient"].pop("sex"), "patient.sex"),
        (lambda c: c.update(unknown_field=1), "unknown_field"),
    ],
)
def test_a_bad_case_is_422_naming_the_field_and_no_dose(
    edit: Callable[[dict[str, Any]], None], field: str, client: TestClient, auth: Auth
) -> None:
    case = _example("cns-encephalitis-hiv.yaml")
    edit(case)
    _problem(_post(client, auth, "/api/v1/plan", {"case": case, "as_of": AS_OF}), 422, field)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"case": {}, "as_of": "2026-11-24T08:00:00"}, "as_of"),  # no zone
        ({"as_of": AS_OF}, "case"),
        ({"case": "text"}, "case"),
        ([], "body"),
    ],
)
def test_a_bad_plan_request_is_422_naming_the_field(
    body: Any, field: str, client: TestClient, auth: Auth
) -> None:
    _problem(_post(client, auth, "/api/v1/plan", body), 422, field)


def test_dose_gives_a_dose_with_provenance(client: TestClient, auth: Auth) -> None:
    body = {
        "drug": "ganciclovir",
        "phase": "induction",
        "weight_kg": 70,
        "age_years": 54,
        "sex": "female",
        "creatinine": 1.1,
        "as_of": AS_OF,
    }
    response = _post(client, auth, "/api/v1/dose", body)
    assert response.status_code == 200
    data = response.json()
    assert data["dose"]["status"] == "dose"
    assert data["provenance"]["disclaimer"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"weight_kg": 0}, "weight"),
        ({"drug": "aciclovir"}, "drug"),
        ({"sex": "x"}, "sex"),
        ({"creatinine_unit": "mmol/L"}, "creatinine_unit"),
        ({"weight_kg": "heavy"}, "weight_kg"),
    ],
)
def test_a_bad_dose_request_is_422_naming_the_field(
    change: dict[str, Any], field: str, client: TestClient, auth: Auth
) -> None:
    body = {"drug": "ganciclovir", "phase": "induction", "weight_kg": 70, "age_years": 54,
            "sex": "female", "creatinine": 1.1, "as_of": AS_OF, **change}  # fmt: skip
    _problem(_post(client, auth, "/api/v1/dose", body), 422, field)


def test_a_course_is_created_appended_and_assessed(client: TestClient, auth: Auth) -> None:
    course = _example("course-cns.yaml")
    events = course["events"]
    created = _post(
        client,
        auth,
        "/api/v1/courses",
        {"course_id": "c-1", "baseline": course["baseline"], "events": events[:3]},
    )
    assert created.status_code == 201
    assert created.json()["seqs"] == [1, 2, 3]
    appended = _post(client, auth, "/api/v1/courses/c-1/events", {"events": events[3:]})
    assert appended.json()["seqs"][0] == 4
    assessed = _post(
        client, auth, "/api/v1/courses/c-1/assessments", {"as_of": "2026-12-15T12:00:00Z"}
    )
    assert assessed.status_code == 200
    assert assessed.json()["assessment_id"] == 1
    again = _post(
        client, auth, "/api/v1/courses", {"course_id": "c-1", "baseline": course["baseline"]}
    )
    _problem(again, 409, "course_id")


def test_course_errors_name_the_field(client: TestClient, auth: Auth) -> None:
    _problem(
        _post(
            client,
            auth,
            "/api/v1/courses/nope/events",
            {"events": [{"kind": "note", "at": AS_OF, "text": "t"}]},
        ),
        404,
        "course_id",
    )
    _problem(_post(client, auth, "/api/v1/courses/nope/assessments", {}), 404, "course_id")
    course = _example("course-cns.yaml")
    bad_event = {
        "course_id": "c-2",
        "baseline": course["baseline"],
        "events": [{"kind": "lab", "at": "x"}],
    }
    _problem(_post(client, auth, "/api/v1/courses", bad_event), 422, "events[0]")


def test_knowledge_summary_and_schema(client: TestClient, auth: Auth) -> None:
    summary = client.get("/api/v1/knowledge", headers=auth("/api/v1/knowledge")).json()
    assert summary["knowledge_version"]
    one = client.get("/api/v1/knowledge?drug=foscarnet", headers=auth("/api/v1/knowledge"))
    assert one.status_code == 200
    unknown = client.get("/api/v1/knowledge?drug=aspirin", headers=auth("/api/v1/knowledge"))
    _problem(unknown, 422, "drug")
    schema = client.get("/api/v1/schema", headers=auth("/api/v1/schema")).json()
    assert schema["title"] == "Case"


def test_the_openapi_document_is_served(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert "/api/v1/plan" in document["paths"]
    assert "/cds-services/{service_id}" in document["paths"]


def test_an_unknown_path_is_a_404_problem(client: TestClient, auth: Auth) -> None:
    response = client.get("/api/v1/nothing", headers=auth("/api/v1/nothing"))
    assert response.status_code == 404  # auth guards the routers; an unknown path is 404


def test_a_bug_is_a_500_without_detail(
    tmp_path: Path, keys: Any, auth: Auth, monkeypatch: Any
) -> None:
    from svc_support import make_app

    from cmvrx import api

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("secret patient Jane Doe")

    monkeypatch.setattr(api, "knowledge_summary", broken)
    with make_app(f"sqlite:///{tmp_path / 's.sqlite'}", keys) as client:
        response = client.get("/api/v1/knowledge", headers=auth("/api/v1/knowledge"))
    assert response.status_code == 500
    assert "Jane" not in response.text

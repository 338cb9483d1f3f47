"""REST ``POST /api/v1/check-order``: a case document or a FHIR record, orders as order
documents or FHIR MedicationRequests, judged by ``cmvrx.api.check_order``; bad input is
a 422 problem naming the field — never a 5xx, never a dose."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from svc_support import REPO

from cmvrx.service.problems import PROBLEM_JSON

Auth = Callable[[str], dict[str, str]]
PATH = "/api/v1/check-order"
CASE01 = yaml.safe_load(
    (REPO / "tests" / "fhir" / "cases" / "01_complete_retinitis_hiv.yaml").read_text("utf-8")
)
AS_OF = CASE01["as_of"]
RECORD = [r for r in CASE01["resources"] if r["resourceType"] != "MedicationRequest"]
CASE_AS_OF = "2026-11-24T08:00:00Z"  # examples/cns-encephalitis-hiv.yaml
DRAFT = next(r for r in CASE01["resources"] if r["resourceType"] == "MedicationRequest")


def _post(client: TestClient, auth: Auth, body: Any) -> Any:
    return client.post(PATH, json=body, headers=auth(PATH))


def _case() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(
        (REPO / "examples" / "cns-encephalitis-hiv.yaml").read_text("utf-8")
    )
    return data


def _mr(mg: float, **dosage: Any) -> dict[str, Any]:
    draft = copy.deepcopy(DRAFT)
    draft["dosageInstruction"][0]["doseAndRate"] = [{"doseQuantity": {"value": mg, "code": "mg"}}]
    draft["dosageInstruction"][0].update(dosage)
    return draft


def _problem(response: Any, field: str) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert field in body.get("field", ""), body
    assert "amount_mg" not in response.text  # no dose in an error
    return body


def test_a_fhir_record_and_a_right_medication_request_is_ok(client: TestClient, auth: Auth) -> None:
    # 70 kg, CrCl 84 mL/min: 5 mg/kg q12h = 350 mg
    response = _post(client, auth, {"record": RECORD, "orders": [_mr(350)], "as_of": AS_OF,
                                    "no_dialysis_unless_recorded": True})  # fmt: skip
    assert response.status_code == 200, response.text
    check = response.json()
    assert check["verdict"] == "ok"
    assert check["results"][0]["order_id"] == "draft-gcv"
    assert check["knowledge_version"] and check["disclaimer"]
    assert check["record_problems"] == []


def test_a_wrong_fhir_dose_is_adjusted(client: TestClient, auth: Auth) -> None:
    bundle = {"resourceType": "Bundle", "entry": [{"resource": r} for r in RECORD]}
    response = _post(client, auth, {"record": bundle, "orders": [_mr(500)], "as_of": AS_OF,
                                    "no_dialysis_unless_recorded": True})  # fmt: skip
    check = response.json()
    assert check["verdict"] == "adjust"
    assert check["corrected"]["amount_mg"] == 350


def test_a_case_document_with_an_order_document(client: TestClient, auth: Auth) -> None:
    order = {"drug": "letermovir", "route": "oral", "amount_mg": 480, "interval_hours": 24}
    response = _post(client, auth, {"case": _case(), "orders": [order], "as_of": CASE_AS_OF})
    assert response.status_code == 200, response.text
    assert response.json()["verdict"] == "not_recommended"
    assert "record_problems" not in response.json()


def test_a_case_with_a_medication_request(client: TestClient, auth: Auth) -> None:
    response = _post(client, auth, {"case": _case(), "orders": [_mr(350)], "as_of": CASE_AS_OF})
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["order"]["drug"] == "ganciclovir"


def test_without_a_dialysis_status_the_record_does_not_make_a_case(
    client: TestClient, auth: Auth
) -> None:
    body = _problem(_post(client, auth, {"record": RECORD, "orders": [_mr(350)], "as_of": AS_OF}),
                    "record")  # fmt: skip
    assert "dialysis" in body["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"orders": [{"drug": "ganciclovir"}]}, "case"),  # neither case nor record
        ({"case": {}, "record": [], "orders": [{"drug": "ganciclovir"}]}, "case"),  # both
        ({"case": {}, "orders": []}, "orders"),
        ({"case": {}}, "orders"),
        ({"case": {}, "orders": [{}] * 21}, "orders"),
        ({"case": {}, "orders": [{"drug": "x"}], "as_of": "2026-03-10T12:00:00"}, "as_of"),
        ({"case": {}, "orders": [{"drug": "x"}], "extra": 1}, "extra"),
    ],
)
def test_a_malformed_request_is_422_naming_the_field(
    body: dict[str, Any], field: str, client: TestClient, auth: Auth
) -> None:
    _problem(_post(client, auth, body), field)


@pytest.mark.parametrize(
    ("order", "field"),
    [
        ({"drug": "ganciclovir", "amount_mg": 350}, "orders[0]"),  # no interval
        ({"drug": "aspirin", "amount_mg": 350, "interval_hours": 12}, "drug"),
        ({"resourceType": "Observation"}, "orders[0].resourceType"),
        ({"resourceType": "MedicationRequest", "medicationCodeableConcept": {"text": "amoxicillin"}},
         "orders[0].medication"),
        ({"resourceType": "MedicationRequest"}, "orders[0].medicationCodeableConcept"),
        ({**DRAFT, "dosageInstruction": [{"route": DRAFT["dosageInstruction"][0]["route"]}]},
         "orders[0].dosageInstruction"),
    ],
)  # fmt: skip
def test_a_bad_order_is_422_naming_it(
    order: dict[str, Any], field: str, client: TestClient, auth: Auth
) -> None:
    _problem(_post(client, auth, {"case": _case(), "orders": [order], "as_of": CASE_AS_OF}), field)


def test_a_bad_case_is_422_naming_its_field(client: TestClient, auth: Auth) -> None:
    case = _case()
    case["patient"]["weight"]["value"] = -1
    order = {"drug": "ganciclovir", "amount_mg": 350, "interval_hours": 12}
    _problem(_post(client, auth, {"case": case, "orders": [order]}), "patient.weight")


def test_it_is_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "post" in paths[PATH]
    assert "422" in paths[PATH]["post"]["responses"]

"""Missing data in a hook call (CDS Hooks §"Providing FHIR Resources"): the prefetch is
used; a key left out (or an OperationOutcome in its place) is fetched from ``fhirServer``
with the ``fhirAuthorization`` token (never logged, never answered back); else HTTP 412 —
every 412 path here, against an in-process fake FHIR server."""

from __future__ import annotations

import copy
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fake_fhir import BASE, FakeFhir
from fastapi.testclient import TestClient
from svc_support import PUBLIC_URL, SigningKey, fhir_case, make_app, sandbox_token

from cmvrx.service import prefetch

RECORD = [
    r
    for r in fhir_case("01_complete_retinitis_hiv.yaml")[0]
    if r["resourceType"] != "MedicationRequest"
]
TOKEN = "ehr-access-token-6f1c9a"
PATIENT = "p1"
PATH = "/cds-services/cmvrx-order-sign"


def _draft(mg: float) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest", "id": "draft-gcv", "status": "draft",
        "intent": "proposal", "medicationCodeableConcept": {"text": "ganciclovir"},
        "subject": {"reference": f"Patient/{PATIENT}"},
        "dosageInstruction": [{
            "timing": {"repeat": {"frequency": 1, "period": 12, "periodUnit": "h"}},
            "route": {"coding": [{"system": "http://snomed.info/sct", "code": "47625008"}]},
            "doseAndRate": [{"doseQuantity": {"value": mg, "code": "mg"}}],
        }],
    }  # fmt: skip


def _request(prefetch_data: dict[str, Any] | None, *, server: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": "order-sign",
        "hookInstance": str(uuid.uuid4()),
        "context": {
            "userId": "Practitioner/1",
            "patientId": PATIENT,
            "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": _draft(500)}]},
        },
    }
    if prefetch_data is not None:
        body["prefetch"] = prefetch_data
    if server:
        body["fhirServer"] = BASE
        body["fhirAuthorization"] = {
            "access_token": TOKEN, "token_type": "Bearer", "expires_in": 300,
            "scope": "patient/*.read", "subject": "cmvrx", "patient": PATIENT,
        }  # fmt: skip
    return body


def _full_prefetch() -> dict[str, Any]:
    """What an EHR honouring every template sends (the fake server's answers)."""
    fake = FakeFhir(copy.deepcopy(RECORD))
    with httpx.Client(transport=fake.transport()) as http:
        out = {}
        for key, template in prefetch.templates().items():
            url = f"{BASE}/" + template.replace("{{context.patientId}}", PATIENT)
            out[key] = http.get(url).json()
    return out


@pytest.fixture
def fake() -> FakeFhir:
    return FakeFhir(copy.deepcopy(RECORD))


@pytest.fixture
def app(db_url: str, keys: dict[str, SigningKey], fake: FakeFhir) -> Iterator[TestClient]:
    with make_app(
        db_url, keys, fhir_transport=fake.transport(), no_dialysis_unless_recorded=True
    ) as test_client:
        yield test_client


def _post(app: TestClient, keys: dict[str, SigningKey], body: dict[str, Any]) -> Any:
    token = sandbox_token(keys["sandbox"], PUBLIC_URL + PATH)
    return app.post(PATH, json=body, headers={"Authorization": f"Bearer {token}"})


def _is_dose_warning(response: Any) -> None:
    assert response.status_code == 200, response.text
    (card,) = response.json()["cards"]
    assert card["indicator"] == "warning"
    action = card["suggestions"][0]["actions"][0]
    assert action["resource"]["id"] == "draft-gcv"


def test_a_full_prefetch_needs_no_fhir_server(app: TestClient, keys: Any, fake: FakeFhir) -> None:
    _is_dose_warning(_post(app, keys, _request(_full_prefetch(), server=False)))
    assert fake.seen == []


def test_no_prefetch_every_template_is_fetched_with_the_token(
    app: TestClient, keys: Any, fake: FakeFhir, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = _post(app, keys, _request(None))
    _is_dose_warning(response)  # the fetched record made the case: 500 mg → 350 mg
    assert len(fake.seen) == len(prefetch.templates())
    assert {auth for _, auth in fake.seen} == {f"Bearer {TOKEN}"}
    assert TOKEN not in response.text
    assert not [r for r in caplog.records if TOKEN in r.getMessage() or PATIENT in r.getMessage()]


def test_only_the_missing_keys_are_fetched(app: TestClient, keys: Any, fake: FakeFhir) -> None:
    given = _full_prefetch()
    del given["observations"]
    given["conditions"] = {"resourceType": "OperationOutcome", "issue": [{"severity": "error"}]}
    _is_dose_warning(_post(app, keys, _request(given)))
    assert sorted(fake.paths()) == ["Condition", "Observation"]


def test_a_fhir_server_without_authorization_is_called_without_a_token(
    app: TestClient, keys: Any, fake: FakeFhir
) -> None:
    body = _request(None)
    del body["fhirAuthorization"]
    _is_dose_warning(_post(app, keys, body))
    assert {auth for _, auth in fake.seen} == {None}


def test_null_and_empty_prefetch_values_are_no_data_not_missing(
    app: TestClient, keys: Any, fake: FakeFhir
) -> None:
    given = _full_prefetch()
    given["allergies"] = None
    given["medicationStatements"] = {"resourceType": "Bundle", "type": "searchset"}
    assert _post(app, keys, _request(given, server=False)).status_code == 200
    assert fake.seen == []


# --------------------------------------------------------------------------- every 412


def _outcome_412(response: Any, *keys_named: str) -> None:
    assert response.status_code == 412, response.text
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    issue = body["issue"][0]
    assert issue["code"] == "incomplete" and issue["expression"] == ["prefetch"]
    for key in keys_named:
        assert key in issue["diagnostics"]
    assert TOKEN not in response.text and "dose" not in response.text.lower()


def test_412_no_prefetch_and_no_fhir_server(app: TestClient, keys: Any) -> None:
    _outcome_412(_post(app, keys, _request(None, server=False)), *prefetch.templates())


def test_412_one_key_missing_and_no_fhir_server(app: TestClient, keys: Any) -> None:
    given = _full_prefetch()
    del given["procedures"]
    _outcome_412(_post(app, keys, _request(given, server=False)), "procedures")


def test_412_an_operation_outcome_in_place_of_data_and_no_fhir_server(
    app: TestClient, keys: Any
) -> None:
    given = {**_full_prefetch(), "observations": {"resourceType": "OperationOutcome"}}
    _outcome_412(_post(app, keys, _request(given, server=False)), "observations")


@pytest.mark.parametrize("status", [401, 403, 404, 500, 503])
def test_412_when_the_fhir_server_refuses(
    status: int, app: TestClient, keys: Any, fake: FakeFhir
) -> None:
    fake.fail = status
    _outcome_412(_post(app, keys, _request(None)), "observations")


def _transport_app(db_url: str, keys: Any, handler: Any) -> TestClient:
    return make_app(db_url, keys, fhir_transport=httpx.MockTransport(handler))


def _raise(exc: Exception) -> Any:
    def handler(_request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


def _answer(response: httpx.Response) -> Any:
    return lambda _request: response


OFF_SERVER = {"resourceType": "Bundle", "link": [{"relation": "next", "url": "https://x.example/"}]}


@pytest.mark.parametrize(
    "handler",
    [
        pytest.param(_raise(httpx.ConnectError("down")), id="unreachable"),
        pytest.param(_raise(httpx.ReadTimeout("slow")), id="timeout"),
        pytest.param(_answer(httpx.Response(200, content=b"<html>")), id="not-json"),
        pytest.param(_answer(httpx.Response(200, json=[1, 2])), id="not-a-resource"),
        pytest.param(_answer(httpx.Response(200, json=OFF_SERVER)), id="paging-off-server"),
    ],
)
def test_412_when_the_fhir_server_cannot_give_the_data(
    handler: Any, db_url: str, keys: Any
) -> None:
    with _transport_app(db_url, keys, handler) as app:
        _outcome_412(_post(app, keys, _request(None)), "patient")


def test_412_when_a_template_token_is_not_in_the_context(
    app: TestClient, keys: Any, fake: FakeFhir
) -> None:
    body = _request(None)
    body["context"]["patientId"] = "{{not-filled}}"
    response = _post(app, keys, body)
    assert response.status_code == 412
    assert TOKEN not in response.text

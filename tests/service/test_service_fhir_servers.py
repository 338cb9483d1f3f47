"""Which ``fhirServer`` the service calls with the EHR's access token: the URL comes in
the request body, so calling any of them would let a caller point the service, bearer
token and all, at hosts inside its network. Only https (http only on the loopback, for
tests), and a client that registers ``fhir_servers`` is held to that list (H125)."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
from fake_fhir import BASE, FakeFhir
from svc_support import (
    PUBLIC_URL,
    SANDBOX_ISS,
    SigningKey,
    clients_document,
    fhir_case,
    make_app,
    sandbox_token,
)

from cmvrx.errors import InputError
from cmvrx.service.security import ClientRegistry, fhir_server_refusal

PATH = "/cds-services/cmvrx-order-sign"
RECORD = [
    r
    for r in fhir_case("01_complete_retinitis_hiv.yaml")[0]
    if r["resourceType"] != "MedicationRequest"
]


@pytest.mark.parametrize(
    ("url", "listed", "refused"),
    [
        ("https://fhir.hospital.example/r4", (), False),
        ("https://fhir.hospital.example/r4/", ("https://fhir.hospital.example/r4",), False),
        ("https://fhir.hospital.example/r4", ("https://fhir.hospital.example/r4",), False),
        ("http://127.0.0.1:8080/fhir", (), False),
        ("http://localhost/fhir", (), False),
        ("http://fhir.hospital.example/r4", (), True),  # no TLS
        ("http://169.254.169.254/latest", (), True),  # a cloud metadata host
        ("ftp://fhir.hospital.example/r4", (), True),
        ("https:///r4", (), True),  # no host
        ("https://fhir.hospital.example/r4?x=1", (), True),
        ("https://fhir.hospital.example/r4", ("https://other.example/fhir",), True),
        ("https://fhir.hospital.example/r4.evil", ("https://fhir.hospital.example/r4",), True),
        ("https://fhir.hospital.example/r4/x", ("https://fhir.hospital.example/r4",), True),
    ],
)
def test_refusal(url: str, listed: tuple[str, ...], refused: bool) -> None:
    assert (fhir_server_refusal(url, listed) is not None) == refused


def test_the_clients_file_lists_servers_normalised(keys: dict[str, SigningKey]) -> None:
    document = clients_document(keys)
    document["clients"][0]["fhir_servers"] = [BASE + "/"]
    registry = ClientRegistry.from_document(document)
    client = registry.get(SANDBOX_ISS)
    assert client is not None and client.fhir_servers == (BASE,)


@pytest.mark.parametrize(
    "servers",
    [
        "https://fhir.hospital.example/r4",  # not a list
        ["http://fhir.hospital.example/r4"],
        ["https://fhir.hospital.example/r4?tenant=1"],
        [42],
    ],
)
def test_a_bad_server_list_is_refused_at_start(keys: dict[str, SigningKey], servers: Any) -> None:
    document = clients_document(keys)
    document["clients"][0]["fhir_servers"] = servers
    with pytest.raises(InputError) as caught:
        ClientRegistry.from_document(document)
    assert caught.value.field == "clients[0].fhir_servers"


def _call(
    db_url: str, keys: dict[str, SigningKey], listed: list[str] | None
) -> tuple[Any, FakeFhir]:
    document = clients_document(keys)
    if listed is not None:
        document["clients"][0]["fhir_servers"] = listed
    fake = FakeFhir(copy.deepcopy(RECORD))
    body = {
        "hook": "order-sign",
        "hookInstance": str(uuid.uuid4()),
        "fhirServer": BASE,
        "fhirAuthorization": {
            "access_token": "t-1", "token_type": "Bearer", "expires_in": 300,
            "scope": "patient/*.read", "subject": "cmvrx", "patient": "p1",
        },
        "context": {"userId": "Practitioner/1", "patientId": "p1", "draftOrders": {
            "resourceType": "Bundle", "entry": []}},
    }  # fmt: skip
    token = sandbox_token(keys["sandbox"], PUBLIC_URL + PATH)
    with make_app(db_url, keys, document=document, fhir_transport=fake.transport()) as client:
        response = client.post(PATH, json=body, headers={"Authorization": f"Bearer {token}"})
    return response, fake


def test_a_client_without_a_list_may_name_any_https_server(
    db_url: str, keys: dict[str, SigningKey]
) -> None:
    response, fake = _call(db_url, keys, None)
    assert response.status_code == 200, response.text
    assert fake.seen


def test_a_listed_server_is_called(db_url: str, keys: dict[str, SigningKey]) -> None:
    response, fake = _call(db_url, keys, [BASE])
    assert response.status_code == 200, response.text
    assert fake.seen


def test_an_unlisted_server_is_never_called(db_url: str, keys: dict[str, SigningKey]) -> None:
    response, fake = _call(db_url, keys, ["https://other.hospital.example/fhir"])
    assert response.status_code == 412
    assert "registered" in response.json()["issue"][0]["diagnostics"]
    assert fake.seen == []

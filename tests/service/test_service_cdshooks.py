"""CDS Hooks wire: golden spec examples, discovery, 412, validation, cards, feedback."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fake_fhir import FakeFhir
from fastapi.testclient import TestClient
from pydantic import ValidationError
from svc_support import SigningKey, golden, make_app

from cmvrx.service import prefetch
from cmvrx.service.cdshooks import cards
from cmvrx.service.cdshooks.models import (
    Action,
    CdsResponse,
    Coding,
    Discovery,
    FeedbackRequest,
    HookRequest,
    Link,
    OrderSelectContext,
    OrderSignContext,
    PatientViewContext,
    wire,
)

Auth = Callable[[str], dict[str, str]]
ALL_PREFETCH: dict[str, Any] = {
    key: {"resourceType": "Bundle", "type": "searchset"} for key in prefetch.templates()
}
ALL_PREFETCH["patient"] = {"resourceType": "Patient", "id": "1288992"}


def _hook(name: str, hook: str) -> dict[str, Any]:
    """A hook-library example (context only) made a full request."""
    return {"hook": hook, "hookInstance": str(uuid.uuid4()), **golden(name)}


def _post(client: TestClient, auth: Auth, service: str, body: dict[str, Any]) -> Any:
    path = f"/cds-services/{service}"
    return client.post(path, json=body, headers=auth(path))


def _no_empty(value: object, *, top: bool = True) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if not (top and key == "cards"):
                assert item not in (None, "", [], {}), key
            _no_empty(item, top=False)
    elif isinstance(value, list):
        for item in value:
            _no_empty(item, top=False)


# --------------------------------------------------------------------------- golden


def test_the_spec_example_request_parses() -> None:
    request = HookRequest.model_validate(golden("spec-patient-view-request.json"))
    assert request.hook == "patient-view"
    PatientViewContext.model_validate(request.context)
    assert "some-opaque" not in repr(request)  # the access token never reaches a repr


def test_the_hook_library_r4_examples_parse() -> None:
    OrderSignContext.model_validate(golden("library-order-sign-r4.json")["context"])
    select = OrderSelectContext.model_validate(golden("library-order-select-r4.json")["context"])
    assert select.selections[1] == "MedicationRequest/smart-MedicationRequest-103"


def test_the_spec_discovery_example_fits_our_discovery_model() -> None:
    Discovery.model_validate(golden("spec-discovery-response.json"))


def test_the_spec_patient_view_request_gets_a_valid_response(
    db_url: str, keys: dict[str, SigningKey], auth: Auth
) -> None:
    # The spec example carries fhirServer: the keys it does not prefetch are fetched there
    # (a fake FHIR server holding the example's patient), with its access token. Its
    # fhirServer is plain http: never called with a token (412, nothing sent); the same
    # request naming an https server is answered.
    request = golden("spec-patient-view-request.json")
    assert request["fhirServer"].startswith("http://")
    fake = FakeFhir([request["prefetch"]["patientToGreet"]])
    with make_app(db_url, keys, fhir_transport=fake.transport()) as client:
        refused = _post(client, auth, "cmvrx-patient-view", request)
        assert refused.status_code == 412
        assert "https" in refused.json()["issue"][0]["diagnostics"]
        assert fake.seen == []
        request["fhirServer"] = "https://" + request["fhirServer"].removeprefix("http://")
        response = _post(client, auth, "cmvrx-patient-view", request)
    assert response.status_code == 200
    assert response.json() == {"cards": []}  # nothing to say: no CMV antiviral
    CdsResponse.model_validate(response.json())
    assert len(fake.seen) == len(prefetch.templates())
    assert {a for _, a in fake.seen} == {"Bearer some-opaque-fhir-access-token"}


@pytest.mark.parametrize(
    ("name", "hook", "service"),
    [
        ("library-order-sign-r4.json", "order-sign", "cmvrx-order-sign"),
        ("library-order-select-r4.json", "order-select", "cmvrx-order-select"),
    ],
)
def test_the_library_examples_get_a_valid_response(
    name: str, hook: str, service: str, client: TestClient, auth: Auth
) -> None:
    body = {**_hook(name, hook), "prefetch": ALL_PREFETCH}
    response = _post(client, auth, service, body)
    assert response.status_code == 200
    assert response.json() == {"cards": []}


# --------------------------------------------------------------------------- discovery


def test_discovery_lists_the_three_services_with_prefetch(client: TestClient, auth: Auth) -> None:
    response = client.get("/cds-services", headers=auth("/cds-services"))
    body = response.json()
    Discovery.model_validate(body)
    _no_empty(body)
    assert {(s["id"], s["hook"]) for s in body["services"]} == {
        ("cmvrx-patient-view", "patient-view"),
        ("cmvrx-order-select", "order-select"),
        ("cmvrx-order-sign", "order-sign"),
    }
    for service in body["services"]:
        assert service["prefetch"] == prefetch.templates()


def test_every_template_filtered_by_code_lists_every_bound_code() -> None:
    from cmvrx.fhir import codes

    templates = prefetch.templates()
    assert templates == codes.prefetch_templates()  # one source: the bindings
    lists = prefetch.code_lists()
    assert set(lists) == {"observations", "conditions", "procedures"}
    for key, pairs in lists.items():
        assert pairs, key
        for system, code in pairs:
            assert f"{system}|{code}" in templates[key], (key, code)
    assert lists["observations"] == tuple(codes.observation_codes())
    obs = templates["observations"]
    for code in ("2160-0", "14682-9", "38483-4"):  # every creatinine code
        assert f"http://loinc.org|{code}" in obs


def test_the_discovery_keys_are_the_contract() -> None:
    # Renaming a key breaks every EHR configured with it: change deliberately.
    assert list(prefetch.templates()) == [
        "patient",
        "observations",
        "conditions",
        "procedures",
        "medications",
        "medicationAdministrations",
        "medicationStatements",
        "allergies",
    ]


# --------------------------------------------------------------------------- 412 and 400


@pytest.mark.parametrize("drop", list(prefetch.templates()))
def test_a_missing_prefetch_key_without_fhir_server_is_412(
    drop: str, client: TestClient, auth: Auth
) -> None:
    body = _hook("library-order-sign-r4.json", "order-sign")
    body["prefetch"] = {k: v for k, v in ALL_PREFETCH.items() if k != drop}
    response = _post(client, auth, "cmvrx-order-sign", body)
    assert response.status_code == 412
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert drop in outcome["issue"][0]["diagnostics"]


def test_no_prefetch_at_all_without_fhir_server_is_412(client: TestClient, auth: Auth) -> None:
    body = _hook("library-order-sign-r4.json", "order-sign")
    assert _post(client, auth, "cmvrx-order-sign", body).status_code == 412


def test_a_null_prefetch_value_means_no_data_not_missing(client: TestClient, auth: Auth) -> None:
    body = _hook("library-order-sign-r4.json", "order-sign")
    body["prefetch"] = {**ALL_PREFETCH, "patient": None}
    assert _post(client, auth, "cmvrx-order-sign", body).status_code == 200


def _without(path: tuple[str, ...]) -> Callable[[dict[str, Any]], None]:
    def edit(body: dict[str, Any]) -> None:
        target = body
        for part in path[:-1]:
            target = target[part]
        del target[path[-1]]

    return edit


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (_without(("hookInstance",)), "hookInstance"),
        (_without(("context", "patientId")), "patientId"),
        (_without(("context", "draftOrders")), "draftOrders"),
        (lambda b: b.update(hook="patient-view"), "hook"),
        (lambda b: b.update(context="not an object"), "context"),
        (
            lambda b: b.update(
                fhirAuthorization={
                    "access_token": "x",
                    "token_type": "Bearer",
                    "expires_in": 300,
                    "scope": "user/Patient.read",
                    "subject": "cmvrx",
                }
            ),
            "",
        ),
    ],
)
def test_a_malformed_request_is_400_naming_the_field(
    edit: Callable[[dict[str, Any]], None], field: str, client: TestClient, auth: Auth
) -> None:
    body = {**_hook("library-order-sign-r4.json", "order-sign"), "prefetch": ALL_PREFETCH}
    body = copy.deepcopy(body)
    edit(body)
    response = _post(client, auth, "cmvrx-order-sign", body)
    assert response.status_code == 400
    issue = response.json()["issue"][0]
    assert field in " ".join(issue.get("expression", [])) + issue["diagnostics"]


def test_an_unknown_service_is_404(client: TestClient, auth: Auth) -> None:
    body = {**_hook("library-order-sign-r4.json", "order-sign"), "prefetch": ALL_PREFETCH}
    assert _post(client, auth, "no-such-service", body).status_code == 404


def test_a_body_that_is_not_json_is_400(client: TestClient, auth: Auth) -> None:
    path = "/cds-services/cmvrx-order-sign"
    headers = {**auth(path), "Content-Type": "application/json"}
    response = client.post(path, content=b"{not json", headers=headers)
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


# --------------------------------------------------------------------------- cards


def _update(resource_id: str = "mr-1") -> Action:
    resource = {"resourceType": "MedicationRequest", "id": resource_id, "status": "draft"}
    return cards.update_action("Replace the draft ganciclovir order by the corrected one", resource)


def test_a_card_with_suggestions_gets_uuids_and_a_selection_behavior() -> None:
    built = cards.card(
        "Ganciclovir dose too high for CrCl 30 mL/min",
        "warning",
        suggestions=[cards.suggestion("Use the renally adjusted dose", [_update()])],
    )
    assert built.selectionBehavior == "at-most-one"
    assert built.uuid and built.suggestions and built.suggestions[0].uuid
    data = wire(CdsResponse(cards=[built]))
    _no_empty(data)
    assert data["cards"][0]["source"]["label"]


@pytest.mark.parametrize(
    "build",
    [
        lambda: cards.card("x" * 140, "info"),
        lambda: cards.card("", "info"),
        lambda: cards.card("ok", "urgent"),  # type: ignore[arg-type]
        lambda: Action(type="update", description="", resource={"resourceType": "X", "id": "1"}),
        lambda: Action(type="delete", description="d"),
        lambda: Action(type="delete", description="d", resourceId=["X/1"], resource={"a": 1}),
        lambda: Action(type="create", description="d"),
        lambda: cards.update_action("d", {"resourceType": "MedicationRequest"}),
        lambda: Link(label="l", url="https://x", type="absolute", appContext="c"),
        lambda: cards.card("ok", "info", override_reasons=[Coding(code="x")]),
        lambda: cards.source(""),
    ],
)
def test_a_card_breaking_a_spec_invariant_cannot_be_built(build: Callable[[], object]) -> None:
    with pytest.raises((ValidationError, ValueError)):
        build()


def test_wire_strips_every_null_and_empty_value_but_keeps_empty_cards() -> None:
    assert wire(CdsResponse(cards=[])) == {"cards": []}
    built = cards.card(
        "Summary",
        "info",
        detail="",
        suggestions=[
            cards.suggestion(
                "s",
                [
                    cards.create_action(
                        "c", {"resourceType": "Task", "note": [], "x": {}, "y": None}
                    )
                ],
            )
        ],
    )
    data = wire(CdsResponse(cards=[built]))
    _no_empty(data)
    assert "detail" not in data["cards"][0]
    assert data["cards"][0]["suggestions"][0]["actions"][0]["resource"] == {"resourceType": "Task"}


# --------------------------------------------------------------------------- feedback


def _feedback(card: str, outcome: str, **more: Any) -> dict[str, Any]:
    return {"card": card, "outcome": outcome, "outcomeTimestamp": "2027-01-15T08:01:00Z", **more}


def test_feedback_is_stored_and_queryable(client: TestClient, auth: Auth) -> None:
    path = "/cds-services/cmvrx-order-sign/feedback"
    body = {
        "feedback": [
            _feedback("c-1", "accepted", acceptedSuggestions=[{"id": "s-1"}]),
            _feedback(
                "c-2",
                "overridden",
                overrideReason={
                    "reason": {
                        "code": "patient-refused",
                        "system": "http://example.org/reasons",
                        "display": "Patient refused",
                    },
                    "userComment": "discussed with nephrology",
                },
            ),
        ]
    }
    assert client.post(path, json=body, headers=auth(path)).status_code == 200
    listing = client.get("/api/v1/feedback", headers=auth("/api/v1/feedback")).json()["feedback"]
    assert [(f["card_uuid"], f["outcome"]) for f in listing] == [
        ("c-1", "accepted"),
        ("c-2", "overridden"),
    ]
    assert listing[0]["accepted_suggestions"] == ["s-1"]
    assert listing[1]["override_code"] == "patient-refused"
    assert listing[1]["override_comment"] == "discussed with nephrology"
    assert listing[1]["client_iss"] == "https://sandbox.cds-hooks.org"
    only = client.get(
        "/api/v1/feedback?service_id=cmvrx-patient-view", headers=auth("/api/v1/feedback")
    ).json()
    assert only == {"feedback": []}


@pytest.mark.parametrize(
    "item",
    [
        _feedback("c", "ignored"),
        _feedback("c", "accepted"),  # cds-fb-2: accepted lists its suggestions
        _feedback("c", "overridden", overrideReason={}),  # cds-fb-3
        {"card": "c", "outcome": "overridden"},  # no timestamp
        _feedback("c", "overridden", outcomeTimestamp="2027-01-15T08:01:00"),  # no zone
    ],
)
def test_malformed_feedback_is_400_and_stores_nothing(
    item: Any, client: TestClient, auth: Auth
) -> None:
    path = "/cds-services/cmvrx-order-sign/feedback"
    good = _feedback("c-ok", "overridden")
    response = client.post(path, json={"feedback": [good, item]}, headers=auth(path))
    assert response.status_code == 400
    assert client.get("/api/v1/feedback", headers=auth("/api/v1/feedback")).json() == {
        "feedback": []
    }


def test_feedback_model_accepts_the_spec_shape() -> None:
    FeedbackRequest.model_validate(
        {
            "feedback": [
                {
                    "card": "9368d37b-283f-44a0-93ea-547cebab93ed",
                    "outcome": "accepted",
                    "acceptedSuggestions": [{"id": "e56e1945-20b3-4393-8503-a1a20fd73152"}],
                    "outcomeTimestamp": "2020-12-11T00:00:00Z",
                }
            ]
        }
    )

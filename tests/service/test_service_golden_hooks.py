"""Hand-built hook calls as data (``golden/hooks/*.json``): every card type of every hook
and every 412 path, through the whole service (JWT, validation, prefetch or the fake FHIR
server, mapping, engine, wire). Each file: ``service``, ``settings`` (Settings fields),
optional ``fhir_server`` (``{"resources": [...]}`` or ``{"fail": status}``), ``request``,
``expect`` (``status``; ``cards`` — indicator, summary_contains, detail_contains,
updates (the draft id a suggestion updates), no_suggestions; or diagnostics_contains).
Records are dated for the fixed service clock (svc_support.NOW)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fake_fhir import FakeFhir
from svc_support import GOLDEN, PUBLIC_URL, SigningKey, make_app, sandbox_token

from cmvrx.service.cdshooks.models import CdsResponse

FILES = sorted((GOLDEN / "hooks").glob("*.json"))


def _no_empty(value: object, top: bool = True) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            assert (top and key == "cards") or item not in (None, "", [], {}), key
            _no_empty(item, top=False)
    elif isinstance(value, list):
        for item in value:
            _no_empty(item, top=False)


def _check_card(card: dict[str, Any], want: dict[str, Any]) -> None:
    assert card["indicator"] == want["indicator"], card["summary"]
    assert len(card["summary"]) < 140 and card["source"]["label"] and card["uuid"]
    assert want.get("summary_contains", "") in card["summary"], card["summary"]
    for part in want.get("detail_contains", ()):
        assert part in card.get("detail", ""), part
    if "updates" in want:
        (suggestion,) = card["suggestions"]
        assert card["selectionBehavior"] == "at-most-one"
        (action,) = suggestion["actions"]
        assert action["type"] == "update" and action["description"]
        assert action["resource"]["id"] == want["updates"]
    if want.get("no_suggestions"):
        assert "suggestions" not in card


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_golden_hook_call(path: Path, db_url: str, keys: dict[str, SigningKey]) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    server = doc.get("fhir_server")
    fake = FakeFhir(server.get("resources", []), fail=server.get("fail")) if server else None
    extra = dict(doc["settings"])
    if fake is not None:
        extra["fhir_transport"] = fake.transport()
    route = f"/cds-services/{doc['service']}"
    token = sandbox_token(keys["sandbox"], PUBLIC_URL + route)
    with make_app(db_url, keys, **extra) as client:
        response = client.post(
            route, json=doc["request"], headers={"Authorization": f"Bearer {token}"}
        )
    expect = doc["expect"]
    assert response.status_code == expect["status"], response.text
    body = response.json()
    access = (doc["request"].get("fhirAuthorization") or {}).get("access_token")
    assert not access or access not in response.text
    if expect["status"] != 200:
        assert body["resourceType"] == "OperationOutcome"
        for part in expect["diagnostics_contains"]:
            assert part in body["issue"][0]["diagnostics"], part
        return
    CdsResponse.model_validate(body)
    _no_empty(body)
    assert len(body["cards"]) == len(expect["cards"]), [c["summary"] for c in body["cards"]]
    for card, want in zip(body["cards"], expect["cards"], strict=True):
        _check_card(card, want)


def test_every_card_type_and_412_path_has_a_golden() -> None:
    kinds = set()
    for path in FILES:
        doc = json.loads(path.read_text(encoding="utf-8"))
        expect = doc["expect"]
        if expect["status"] == 412:
            kinds.add("412:" + ("server" if "fhir_server" in doc else "no-server"))
        for want in expect.get("cards", ()):
            kinds.add(
                f"{doc['service']}:{want['indicator']}" + (":update" if "updates" in want else "")
            )
    assert {
        "cmvrx-order-sign:warning:update", "cmvrx-order-sign:warning", "cmvrx-order-sign:critical",
        "cmvrx-order-sign:info", "cmvrx-order-select:info", "cmvrx-order-select:warning",
        "cmvrx-patient-view:critical:update", "cmvrx-patient-view:critical",
        "cmvrx-patient-view:warning", "412:server", "412:no-server",
    } <= kinds  # fmt: skip

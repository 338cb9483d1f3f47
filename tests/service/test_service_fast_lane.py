"""The hook fast lane (``cdshooks.fastlane``) and the lean JWT path (``service.jws``):
the same answers as the general FastAPI path, every forgery refused there too, a pool of
tokens each accepted once, a token in the clock-skew grace refused when replayed after
the replay cache was purged, and a rotated key never served from the key cache."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import pytest
import test_service_security as security_tests
from fastapi.testclient import TestClient
from svc_support import (
    NOW,
    OTHER_ISS,
    PUBLIC_URL,
    SigningKey,
    _generated,
    clients_document,
    epic_token,
    make_app,
    order_sign_call,
    sandbox_token,
    sign,
)

from cmvrx.service import jws
from cmvrx.service.cdshooks import fastlane
from cmvrx.service.security import ClientRegistry, KeyResolver, TokenVerifier, UnauthorizedError
from cmvrx.store import open_service_store

PATH = "/cds-services/cmvrx-order-sign"
AUD = PUBLIC_URL + PATH


@pytest.fixture
def hooks(db_url: str, keys: dict[str, SigningKey]) -> Any:
    with make_app(db_url, keys, no_dialysis_unless_recorded=True) as client:
        yield client


@pytest.fixture
def lane_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The service ids the fast lane answered."""
    calls: list[str] = []
    answer = fastlane._answer

    def counted(request: Any, service_id: str, data: dict[str, Any]) -> Any:
        calls.append(service_id)
        return answer(request, service_id, data)

    monkeypatch.setattr(fastlane, "_answer", counted)
    return calls


def _post(
    client: TestClient, token: str, body: bytes, content_type: str = "application/json"
) -> Any:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": content_type}
    return client.post(PATH, content=body, headers=headers)


def _without_uuids(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_uuids(v) for k, v in value.items() if k != "uuid"}
    if isinstance(value, list):
        return [_without_uuids(v) for v in value]
    return value


def test_the_fast_lane_answers_what_the_general_path_answers(
    hooks: TestClient, keys: Any, lane_calls: list[str]
) -> None:
    body = json.dumps(order_sign_call()).encode()
    fast = _post(hooks, sandbox_token(keys["sandbox"], AUD), body)
    assert lane_calls == ["cmvrx-order-sign"]
    # application/fhir+json is JSON to FastAPI, not to the lane: the general path
    general = _post(hooks, sandbox_token(keys["sandbox"], AUD), body, "application/fhir+json")
    assert lane_calls == ["cmvrx-order-sign"]
    assert fast.status_code == general.status_code == 200
    assert fast.headers["content-type"] == general.headers["content-type"]
    (card,) = fast.json()["cards"]
    assert card["indicator"] == "warning"
    assert card["suggestions"][0]["actions"][0]["resource"]["id"] == "draft-gcv"
    assert _without_uuids(fast.json()) == _without_uuids(general.json())


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{", 400),  # not JSON
        (b"[1, 2]", 400),  # not an object
        (b'{"hook": "order-sign", "x": NaN}', 400),  # json.loads takes NaN, orjson does not
        (b"", 400),
    ],
)
def test_a_body_the_lane_does_not_take_gets_the_general_answer(
    hooks: TestClient, keys: Any, lane_calls: list[str], body: bytes, status: int
) -> None:
    response = _post(hooks, sandbox_token(keys["sandbox"], AUD), body)
    assert lane_calls == []
    assert response.status_code == status
    assert response.json()["resourceType"] == "OperationOutcome"


def test_the_lane_checks_the_token_before_the_body(
    hooks: TestClient, keys: Any, lane_calls: list[str]
) -> None:
    security_tests._refused(_post(hooks, "not.a.jwt", b'{"hook": "x"}'))
    response = _post(hooks, sandbox_token(keys["sandbox"], AUD), b'{"hook": "x"}')
    assert response.status_code == 400 and lane_calls == ["cmvrx-order-sign"] * 2
    assert response.json()["resourceType"] == "OperationOutcome"
    unknown = PUBLIC_URL + "/cds-services/no-such-service"
    response = hooks.post(
        "/cds-services/no-such-service",
        content=b"{}",
        headers={"Authorization": f"Bearer {sandbox_token(keys['sandbox'], unknown)}",
                 "Content-Type": "application/json"},
    )  # fmt: skip
    assert response.status_code == 404


@pytest.mark.parametrize("name", sorted(security_tests.FORGERIES))
def test_a_forged_token_is_refused_on_the_fast_lane(
    name: str, hooks: TestClient, keys: Any, lane_calls: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(security_tests, "AUD", AUD)  # the forgeries aim at the hook's URL
    body = json.dumps(order_sign_call()).encode()
    security_tests._refused(_post(hooks, security_tests.FORGERIES[name](keys), body))
    assert lane_calls == ["cmvrx-order-sign"]


def test_a_pool_of_tokens_is_accepted_once_each_then_every_replay_refused(
    hooks: TestClient, keys: Any
) -> None:
    body = json.dumps(order_sign_call()).encode()
    pool = [sandbox_token(keys["sandbox"], AUD) for _ in range(6)]
    pool += [epic_token(keys["epic"], AUD) for _ in range(6)]  # ES384 and RS384 alike
    assert [_post(hooks, t, body).status_code for t in pool] == [200] * len(pool)
    for token in pool:
        security_tests._refused(_post(hooks, token, body))


# --------------------------------------------------------------------------- the JWT path


def test_a_token_in_the_skew_grace_is_refused_when_replayed_after_a_purge(db_url: str) -> None:
    key = _generated("ES384", "k-1")
    clients = ClientRegistry.from_document(
        {"clients": [{"iss": OTHER_ISS, "jwks": {"keys": [key.public_jwk]}}]}
    )
    clock = [float(NOW)]
    store = open_service_store(db_url)
    verifier = TokenVerifier(clients=clients, store=store, clock=lambda: clock[0])

    def token(exp: int) -> str:
        claims = {"iss": OTHER_ISS, "aud": AUD, "iat": NOW, "exp": exp, "jti": str(uuid.uuid4())}
        return sign(key, claims)

    try:
        grace = token(NOW + 10)
        verifier.verify(f"Bearer {grace}", AUD)
        clock[0] = NOW + 65  # past exp, within the 60 s skew; the purge is due again
        verifier.verify(f"Bearer {token(NOW + 300)}", AUD)  # purges what has expired
        with pytest.raises(UnauthorizedError):
            verifier.verify(f"Bearer {grace}", AUD)
    finally:
        store.close()


def _pad(token: str) -> str:
    head, payload, signature = token.split(".")
    return f"{head}.{payload}.{signature}{'=' * (-len(signature) % 4)}"


def test_a_padded_token_takes_the_general_path_and_passes_as_before(
    client: TestClient, keys: Any
) -> None:
    token = _pad(epic_token(keys["epic"], security_tests.AUD))  # RS384: 342 characters
    assert token.endswith("==") and jws.parse(token) is None
    assert security_tests._get(client, token).status_code == 200


def test_a_payload_strict_json_refuses_takes_the_general_path_and_passes_as_before(
    client: TestClient, keys: Any
) -> None:
    """The lean parse reads JSON with orjson (strict); a payload it refuses (NaN, here in
    a claim the service does not read) is judged by PyJWT, as every token once was."""
    token = epic_token(keys["epic"], security_tests.AUD, note=float("nan"))
    assert jws.parse(token) is None
    assert security_tests._get(client, token).status_code == 200
    assert security_tests._get(client, token).status_code == 401  # its jti is spent


def test_a_crit_header_or_a_non_canonical_segment_is_refused(client: TestClient, keys: Any) -> None:
    crit = sign(
        keys["sandbox"],
        {"iss": security_tests.SANDBOX_ISS, "aud": security_tests.AUD, "exp": NOW + 300,
         "iat": NOW, "jti": str(uuid.uuid4())},
        headers={"crit": ["exp"], "exp": 1},
    )  # fmt: skip
    assert jws.parse(crit) is None
    security_tests._refused(security_tests._get(client, crit))
    token = sandbox_token(keys["sandbox"], security_tests.AUD)
    head, payload, signature = token.split(".")
    # ES384: 96 bytes, 128 characters, no spare bits; the header's last character has some
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    if len(head) % 4:
        spare = alphabet[alphabet.index(head[-1]) ^ 1]
        twisted = f"{head[:-1]}{spare}.{payload}.{signature}"
        assert jws.parse(twisted) is None
        security_tests._refused(security_tests._get(client, twisted))


def test_a_rotated_key_under_the_same_kid_is_never_served_from_the_key_cache(
    db_url: str,
) -> None:
    first, second = _generated("ES384", "same-kid"), _generated("ES384", "same-kid")
    published = [first.public_jwk]
    clock = [0.0]
    resolver = KeyResolver(
        ttl_s=60,
        min_refresh_s=10,
        fetch=lambda _url: json.dumps({"keys": published}).encode(),
        monotonic=lambda: clock[0],
    )
    clients = ClientRegistry.from_document(
        {"clients": [{"iss": OTHER_ISS, "jku": "https://keys.example/jwks.json"}]}
    )
    store = open_service_store(db_url)
    verifier = TokenVerifier(clients=clients, store=store, keys=resolver, clock=lambda: NOW)

    def token(key: SigningKey) -> str:
        claims = {"iss": OTHER_ISS, "aud": AUD, "iat": NOW, "exp": NOW + 300,
                  "jti": str(uuid.uuid4())}  # fmt: skip
        return sign(key, claims, headers={"jku": "https://keys.example/jwks.json"})

    try:
        verifier.verify(f"Bearer {token(first)}", AUD)
        published[:] = [second.public_jwk]  # the client rotates its key, same kid
        clock[0] = 61.0  # the cached set is stale: fetched again
        with pytest.raises(UnauthorizedError):
            verifier.verify(f"Bearer {token(first)}", AUD)
        verifier.verify(f"Bearer {token(second)}", AUD)
    finally:
        store.close()


def test_the_lane_runs_on_the_loop_only_without_network(
    db_url: str, keys: dict[str, SigningKey]
) -> None:
    body = order_sign_call()
    assert fastlane._prefetch_complete(body)
    partial = copy.deepcopy(body)
    del partial["prefetch"]["observations"]
    assert not fastlane._prefetch_complete(partial)
    with make_app(db_url, keys) as static:
        assert fastlane._offline(static.app)
    document = clients_document(keys)
    document["clients"].append({"iss": "https://jku.example", "jku": "https://jku.example/k"})
    with make_app(db_url, keys, document=document) as fetching:
        assert not fastlane._offline(fetching.app)

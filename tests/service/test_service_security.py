"""The JWT check: real client tokens pass, every forgery gets a bare 401."""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from svc_support import (
    EPIC_ISS,
    NOW,
    OTHER_ISS,
    PUBLIC_URL,
    SANDBOX_ISS,
    SigningKey,
    _generated,
    clients_document,
    epic_token,
    make_app,
    sandbox_token,
    sign,
)

from cmvrx.errors import InputError
from cmvrx.service.security import ClientRegistry, KeyResolver

DISCOVERY = "/cds-services"
AUD = PUBLIC_URL + DISCOVERY


def _get(client: TestClient, token: str, path: str = DISCOVERY) -> Any:
    return client.get(path, headers={"Authorization": f"Bearer {token}"})


def _refused(response: Any) -> None:
    assert response.status_code == 401
    assert response.content == b""  # no detail at all
    assert response.headers["www-authenticate"] == "Bearer"


# --------------------------------------------------------------------------- accepted


def test_a_token_signed_as_the_cds_hooks_sandbox_signs_passes(
    client: TestClient, keys: Any
) -> None:
    token = sandbox_token(keys["sandbox"], AUD)
    header = jwt.get_unverified_header(token)
    assert header == {
        "alg": "ES384",
        "typ": "JWT",
        "kid": "44823f3d-0b01-4a6c-a80e-b9d3e8a7226f",
        "jku": "https://sandbox.cds-hooks.org/.well-known/jwks.json",
    }
    response = _get(client, token)
    assert response.status_code == 200
    assert {s["hook"] for s in response.json()["services"]} == {
        "patient-view",
        "order-select",
        "order-sign",
    }


def test_an_epic_style_rs384_token_with_sub_and_nbf_passes(client: TestClient, keys: Any) -> None:
    assert _get(client, epic_token(keys["epic"], AUD)).status_code == 200


def test_aud_may_be_an_array_holding_the_exact_url(client: TestClient, keys: Any) -> None:
    token = sandbox_token(keys["sandbox"], [AUD, "https://elsewhere.example"])  # type: ignore[arg-type]
    assert _get(client, token).status_code == 200


def test_skew_up_to_60_s_is_tolerated(client: TestClient, keys: Any) -> None:
    assert _get(client, sandbox_token(keys["sandbox"], AUD, exp=NOW - 59)).status_code == 200
    assert _get(client, sandbox_token(keys["sandbox"], AUD, iat=NOW + 59)).status_code == 200


# --------------------------------------------------------------------------- forged


def _tampered(token: str) -> str:
    head, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["aud"] = PUBLIC_URL + "/api/v1/plan"
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{body}.{signature}"


def _reheader(token: str, **changes: Any) -> str:
    """The token with its header changed and its signature kept."""
    head, payload, signature = token.split(".")
    header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    header.update(changes)
    new_head = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
    return f"{new_head}.{payload}.{signature}"


def _alg_none(keys: dict[str, SigningKey]) -> str:
    claims = {"iss": SANDBOX_ISS, "aud": AUD, "exp": NOW + 300, "iat": NOW, "jti": "n-1"}
    return jwt.encode(claims, None, algorithm="none", headers={"kid": keys["sandbox"].kid})


def _hs384_with_public_key(keys: dict[str, SigningKey]) -> str:
    # The classic key-confusion attack: the public key as an HMAC secret. PyJWT refuses
    # to *sign* with a PEM as HMAC secret, so the token is assembled by hand.
    import hashlib
    import hmac

    header = {"alg": "HS384", "typ": "JWT", "kid": keys["sandbox"].kid}
    claims = {"iss": SANDBOX_ISS, "aud": AUD, "exp": NOW + 300, "iat": NOW, "jti": "h-1"}

    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    secret = json.dumps(keys["sandbox"].public_jwk).encode()
    signing_input = f"{part(header)}.{part(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha384).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


FORGERIES: dict[str, Callable[[dict[str, SigningKey]], str]] = {
    "alg none": _alg_none,
    "HS384 with the public key as secret": _hs384_with_public_key,
    "wrong iss": lambda k: sandbox_token(k["sandbox"], AUD, iss="https://evil.example"),
    "wrong aud": lambda k: sandbox_token(k["sandbox"], PUBLIC_URL + "/cds-services/other"),
    "aud of another host": lambda k: sandbox_token(
        k["sandbox"], "https://evil.example/cds-services"
    ),
    "expired": lambda k: sandbox_token(k["sandbox"], AUD, iat=NOW - 400, exp=NOW - 61),
    "future nbf": lambda k: epic_token(k["epic"], AUD, nbf=NOW + 61),
    "future iat": lambda k: sandbox_token(k["sandbox"], AUD, iat=NOW + 61, exp=NOW + 400),
    "unknown kid": lambda k: sign(
        k["sandbox"],
        {"iss": SANDBOX_ISS, "aud": AUD, "exp": NOW + 300, "iat": NOW, "jti": "u-1"},
        headers={"kid": "never-published"},
    ),
    "tampered payload": lambda k: _tampered(sandbox_token(k["sandbox"], AUD)),
    "missing exp": lambda k: sandbox_token(k["sandbox"], AUD, exp=None),
    "missing jti": lambda k: sandbox_token(k["sandbox"], AUD, jti=None),
    "missing iat": lambda k: sandbox_token(k["sandbox"], AUD, iat=None),
    "a key of another client": lambda k: sign(
        k["other"], {"iss": SANDBOX_ISS, "aud": AUD, "exp": NOW + 300, "iat": NOW, "jti": "o-1"}
    ),
    "another client's kid under this iss": lambda k: sign(
        k["other"],
        {"iss": EPIC_ISS, "aud": AUD, "exp": NOW + 300, "iat": NOW, "jti": "o-2"},
        headers={"kid": k["epic"].kid},
    ),
    "RS384 claimed, signed with an EC key": lambda k: _reheader(
        sandbox_token(k["sandbox"], AUD), alg="RS384"
    ),
    "lifetime beyond an hour": lambda k: sandbox_token(k["sandbox"], AUD, exp=NOW + 7200),
    "not a JWT": lambda _k: "not.a.jwt",
}


@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_a_forged_token_is_refused_with_a_bare_401(
    name: str, client: TestClient, keys: Any
) -> None:
    _refused(_get(client, FORGERIES[name](keys)))


def test_at_least_twelve_forgeries_are_covered() -> None:
    assert len(FORGERIES) >= 12


def test_a_replayed_jti_is_refused(client: TestClient, keys: Any) -> None:
    token = sandbox_token(keys["sandbox"], AUD)
    assert _get(client, token).status_code == 200
    _refused(_get(client, token))


def test_the_same_jti_from_two_issuers_is_two_tokens(client: TestClient, keys: Any) -> None:
    assert _get(client, sandbox_token(keys["sandbox"], AUD, jti="shared")).status_code == 200
    assert _get(client, epic_token(keys["epic"], AUD, jti="shared")).status_code == 200


@pytest.mark.parametrize(
    "authorization", [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc"]
)
def test_a_missing_or_malformed_authorization_header_is_refused(
    client: TestClient, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    _refused(client.get(DISCOVERY, headers=headers))


def test_every_route_needs_the_token(client: TestClient) -> None:
    for method, path in [
        ("GET", "/cds-services"),
        ("POST", "/cds-services/cmvrx-order-sign"),
        ("POST", "/cds-services/cmvrx-order-sign/feedback"),
        ("POST", "/api/v1/plan"),
        ("POST", "/api/v1/dose"),
        ("POST", "/api/v1/courses"),
        ("GET", "/api/v1/knowledge"),
        ("GET", "/api/v1/feedback"),
    ]:
        _refused(client.request(method, path, json={}))


def test_a_token_for_one_route_does_not_open_another(client: TestClient, keys: Any) -> None:
    token = sandbox_token(keys["sandbox"], PUBLIC_URL + "/api/v1/knowledge")
    _refused(_get(client, token))


# --------------------------------------------------------------------------- jku


class _JwksServer:
    """A JWK Set served on 127.0.0.1; counts fetches; its keys can be rotated."""

    def __init__(self, keys: list[dict[str, Any]]) -> None:
        self.keys = keys
        self.fetches = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.fetches += 1
                body = json.dumps({"keys": outer.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/.well-known/jwks.json"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def jwks_server(keys: Any) -> Iterator[_JwksServer]:
    server = _JwksServer([keys["other"].public_jwk])
    try:
        yield server
    finally:
        server.close()


def _jku_app(db_url: str, keys: Any, server: _JwksServer, clock: list[float]) -> TestClient:
    document = clients_document(keys)
    document["clients"] = [c for c in document["clients"] if c["iss"] != OTHER_ISS]
    document["clients"].append({"iss": OTHER_ISS, "jku": server.url})
    resolver = KeyResolver(ttl_s=3600, min_refresh_s=30, monotonic=lambda: clock[0])
    return make_app(db_url, keys, document=document, resolver=resolver)


def _jku_token(key: SigningKey, jku: str, **headers: Any) -> str:
    claims = {"iss": OTHER_ISS, "aud": AUD, "exp": NOW + 300, "iat": NOW, "jti": str(uuid.uuid4())}
    return sign(key, claims, headers={"jku": jku, **headers})


def test_jku_keys_are_fetched_once_and_cached(
    db_url: str, keys: Any, jwks_server: _JwksServer
) -> None:
    clock = [0.0]
    with _jku_app(db_url, keys, jwks_server, clock) as client:
        for _ in range(3):
            assert _get(client, _jku_token(keys["other"], jwks_server.url)).status_code == 200
    assert jwks_server.fetches == 1


def test_an_unknown_kid_refreshes_the_set_once_then_a_rotated_key_passes(
    db_url: str, keys: Any, jwks_server: _JwksServer
) -> None:
    clock = [0.0]
    rotated = _generated("ES384", "other-2")
    with _jku_app(db_url, keys, jwks_server, clock) as client:
        assert _get(client, _jku_token(keys["other"], jwks_server.url)).status_code == 200
        jwks_server.keys = [keys["other"].public_jwk, rotated.public_jwk]
        # Within the refresh interval the new kid is not fetched: refused, no fetch.
        _refused(_get(client, _jku_token(rotated, jwks_server.url)))
        assert jwks_server.fetches == 1
        clock[0] = 31.0
        assert _get(client, _jku_token(rotated, jwks_server.url)).status_code == 200
        assert jwks_server.fetches == 2
        # A kid the client never published is refused after the refresh, not tried
        # against the other keys.
        clock[0] = 62.0
        never = SigningKey("ES384", "never-published", rotated.private, rotated.public_jwk)
        _refused(_get(client, _jku_token(never, jwks_server.url)))
        assert jwks_server.fetches == 3


def test_a_jku_off_the_allowlist_is_refused_and_never_fetched(
    db_url: str, keys: Any, jwks_server: _JwksServer
) -> None:
    evil = _JwksServer([keys["other"].public_jwk])
    try:
        with _jku_app(db_url, keys, jwks_server, [0.0]) as client:
            _refused(_get(client, _jku_token(keys["other"], evil.url)))
        assert evil.fetches == 0
    finally:
        evil.close()


def test_an_unreachable_jku_is_a_401_not_a_500(db_url: str, keys: Any) -> None:
    server = _JwksServer([])
    url = server.url
    server.close()
    document = clients_document(keys)
    document["clients"][2] = {"iss": OTHER_ISS, "jku": url}
    with make_app(db_url, keys, document=document) as client:
        _refused(_get(client, _jku_token(keys["other"], url)))


# --------------------------------------------------------------------------- clients file


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({}, "clients"),
        ({"clients": [{"jwks": {"keys": []}}]}, "clients[0]"),
        ({"clients": [{"iss": "a"}]}, "clients[0]"),
        ({"clients": [{"iss": "a", "jku": "http://example.org/jwks"}]}, "clients[0].jku"),
        ({"clients": [{"iss": "a", "jwks": {"keys": [{"kty": "EC"}]}}]}, "clients[0].jwks.keys[0]"),
        (
            {"clients": [{"iss": "a", "jku": "https://x/j"}, {"iss": "a", "jku": "https://y/j"}]},
            "clients",
        ),
    ],
)
def test_a_bad_clients_file_names_the_field(document: Any, field: str) -> None:
    with pytest.raises(InputError) as caught:
        ClientRegistry.from_document(document)
    assert caught.value.field == field


def test_a_private_key_in_the_clients_file_is_refused(keys: Any) -> None:
    from svc_support import SANDBOX_KEYS

    private = json.loads(SANDBOX_KEYS.read_text())
    with pytest.raises(InputError, match="private key"):
        ClientRegistry.from_document({"clients": [{"iss": SANDBOX_ISS, "jwks": private}]})


# --------------------------------------------------------------------------- cluster


@pytest.mark.postgres
def test_a_token_replayed_against_a_second_instance_sharing_postgresql_is_refused(
    postgres_server: Any, keys: Any
) -> None:
    url = postgres_server.create_database()
    token = sandbox_token(keys["sandbox"], AUD)
    with make_app(url, keys) as first, make_app(url, keys) as second:
        assert _get(first, token).status_code == 200
        _refused(_get(second, token))
        fresh = sandbox_token(keys["sandbox"], AUD)
        assert _get(second, fresh).status_code == 200
        _refused(_get(first, fresh))

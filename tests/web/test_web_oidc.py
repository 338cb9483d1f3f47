"""OpenID Connect sign-in against a fake identity provider living in the test process
(httpx MockTransport): authorization code + PKCE (S256), ID token checks."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from jwt.algorithms import RSAAlgorithm
from web_support import make_app

from cmvrx.errors import InputError
from cmvrx.store import open_service_store
from cmvrx.web.oidc import OidcConfig

ISSUER = "https://idp.hospital.example/realms/clinic"
CLIENT_ID = "cmvrx-web"


@dataclass
class FakeIdp:
    """Discovery, JWK Set, and a token endpoint that checks the PKCE verifier."""

    key: Any = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    claims: Callable[[dict[str, Any]], dict[str, Any]] = lambda c: c
    alg: str = "RS256"

    def authorize(self, url: str, user: str = "dr.house") -> tuple[str, str]:
        """What the IdP does after the user signs in there: (state, code)."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        assert query["code_challenge_method"] == "S256"
        assert query["response_type"] == "code"
        code = f"code-{len(self.codes)}"
        self.codes[code] = {**query, "user": user}
        return query["state"], code

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/.well-known/openid-configuration"):
            return httpx.Response(
                200,
                json={
                    "issuer": ISSUER,
                    "authorization_endpoint": ISSUER + "/auth",
                    "token_endpoint": ISSUER + "/token",
                    "jwks_uri": ISSUER + "/certs",
                },
            )
        if path.endswith("/certs"):
            jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
            return httpx.Response(200, json={"keys": [{**jwk, "kid": "k1", "use": "sig"}]})
        if path.endswith("/token"):
            form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
            grant = self.codes.pop(form.get("code", ""), None)
            if grant is None:
                return httpx.Response(400, json={"error": "invalid_grant"})
            digest = hashlib.sha256(form["code_verifier"].encode()).digest()
            challenge = base64.urlsafe_b64encode(digest).decode().rstrip("=")
            if (
                challenge != grant["code_challenge"]
                or form["redirect_uri"] != grant["redirect_uri"]
            ):
                return httpx.Response(400, json={"error": "invalid_grant"})
            now = int(time.time())
            claims = self.claims(
                {
                    "iss": ISSUER,
                    "aud": CLIENT_ID,
                    "sub": "u-1",
                    "iat": now,
                    "exp": now + 300,
                    "nonce": grant["nonce"],
                    "preferred_username": grant["user"],
                }
            )
            if self.alg == "none":
                token = jwt.encode(claims, None, algorithm="none")
            else:
                token = jwt.encode(claims, self.key, algorithm=self.alg, headers={"kid": "k1"})
            return httpx.Response(200, json={"id_token": token, "token_type": "Bearer"})
        return httpx.Response(404)


@pytest.fixture
def idp() -> FakeIdp:
    return FakeIdp()


def _client(web_db: str, tmp_path: Path, idp: FakeIdp, **extra: Any) -> TestClient:
    config = tmp_path / "oidc.json"
    config.write_text(json.dumps({"issuer": ISSUER, "client_id": CLIENT_ID, **extra}))
    app = make_app(web_db, oidc_file=str(config))
    app.state.oidc.http = httpx.Client(transport=httpx.MockTransport(idp.handle))
    return TestClient(app)


@pytest.fixture
def oidc_client(web_db: str, tmp_path: Path, idp: FakeIdp) -> Iterator[TestClient]:
    with _client(web_db, tmp_path, idp) as c:
        yield c


def _round_trip(client: TestClient, idp: FakeIdp, user: str = "dr.house") -> httpx.Response:
    start = client.get("/web/oidc/start", follow_redirects=False)
    assert start.status_code == 303
    target = start.headers["location"]
    assert target.startswith(ISSUER + "/auth?")
    state, code = idp.authorize(target, user)
    return client.get(f"/web/oidc/callback?state={state}&code={code}", follow_redirects=False)


def test_sign_in_with_the_identity_provider(
    oidc_client: TestClient, idp: FakeIdp, web_db: str
) -> None:
    assert "Sign in with the hospital account" in oidc_client.get("/web/signin").text
    done = _round_trip(oidc_client, idp)
    assert done.status_code == 303
    assert done.headers["location"] == "/web/"
    assert oidc_client.get("/web/", follow_redirects=False).status_code == 200
    store = open_service_store(web_db)
    try:
        user = store.get_user("dr.house")  # type: ignore[attr-defined]
        assert user.source == "oidc" and user.password_hash is None
        assert [r.action for r in store.list_access()][-1] == "sign_in_oidc"  # type: ignore[attr-defined]
    finally:
        store.close()


def test_a_wrong_state_is_refused(oidc_client: TestClient, idp: FakeIdp) -> None:
    start = oidc_client.get("/web/oidc/start", follow_redirects=False)
    _state, code = idp.authorize(start.headers["location"])
    reply = oidc_client.get(f"/web/oidc/callback?state=forged-state-000000000000&code={code}")
    assert reply.status_code == 401
    assert oidc_client.get("/web/", follow_redirects=False).status_code == 303


def test_a_callback_without_the_browser_cookie_is_refused(
    oidc_client: TestClient, idp: FakeIdp
) -> None:
    start = oidc_client.get("/web/oidc/start", follow_redirects=False)
    state, code = idp.authorize(start.headers["location"])
    oidc_client.cookies.clear()  # another browser (login CSRF) has no verifier
    assert oidc_client.get(f"/web/oidc/callback?state={state}&code={code}").status_code == 401


@pytest.mark.parametrize(
    "tamper",
    [
        lambda c: {**c, "nonce": "another-nonce-00000000000"},
        lambda c: {**c, "aud": "someone-else"},
        lambda c: {**c, "iss": "https://evil.example"},
        lambda c: {**c, "exp": int(time.time()) - 3600},
        lambda c: {k: v for k, v in c.items() if k != "preferred_username"},
    ],
    ids=["nonce", "aud", "iss", "expired", "no-username"],
)
def test_a_bad_id_token_is_refused(
    oidc_client: TestClient, idp: FakeIdp, tamper: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    idp.claims = tamper
    assert _round_trip(oidc_client, idp).status_code == 401
    assert oidc_client.get("/web/", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("alg", ["none", "HS256"])
def test_unsigned_or_hmac_id_tokens_are_refused(
    oidc_client: TestClient, idp: FakeIdp, alg: str
) -> None:
    idp.alg = alg
    if alg == "HS256":
        idp.key = b"a-shared-secret-that-anyone-could-know-000"  # type: ignore[assignment]
    assert _round_trip(oidc_client, idp).status_code == 401


def test_only_allowed_users_get_in(web_db: str, tmp_path: Path, idp: FakeIdp) -> None:
    with _client(web_db, tmp_path, idp, allowed_users=["dr.cuddy"]) as c:
        assert _round_trip(c, idp, "dr.house").status_code == 401
        assert _round_trip(c, idp, "dr.cuddy").status_code == 303


def test_the_configuration_is_checked() -> None:
    with pytest.raises(InputError, match="https"):
        OidcConfig.from_dict({"issuer": "http://idp.example", "client_id": "x"})
    with pytest.raises(InputError):
        OidcConfig.from_dict({"issuer": ISSUER})
    with pytest.raises(InputError, match="openid"):
        OidcConfig.from_dict({"issuer": ISSUER, "client_id": "x", "scopes": ["profile"]})
    with pytest.raises(InputError, match="unknown"):
        OidcConfig.from_dict({"issuer": ISSUER, "client_id": "x", "secret": "typo"})


def test_without_oidc_the_routes_say_so(client: TestClient) -> None:
    assert client.get("/web/oidc/start").status_code == 404
    assert "hospital account" not in client.get("/web/signin").text


def test_serve_refuses_a_bad_oidc_file_naming_the_field(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cmvrx.cli.main import app

    bad = tmp_path / "oidc.json"
    bad.write_text(json.dumps({"issuer": "http://idp.example", "client_id": "x"}))
    args = ["serve", "--public-url", "http://127.0.0.1:9", "--dev-no-auth", "--oidc", str(bad)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "--oidc.issuer" in result.output


def test_the_oidc_file_reaches_worker_processes(tmp_path: Path) -> None:
    import os

    from cmvrx.service.settings import Settings, from_env

    settings = Settings(public_url="http://127.0.0.1:9", dev_no_auth=True, oidc_file="/x.json")
    env = settings.export_env(None)
    saved = dict(os.environ)
    try:
        os.environ.update(env)
        assert from_env().oidc_file == "/x.json"
    finally:
        os.environ.clear()
        os.environ.update(saved)

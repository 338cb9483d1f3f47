"""OpenID Connect sign-in (optional): the authorization-code flow with PKCE (S256)
against the hospital's identity provider.

Configuration (``cmvrx serve --oidc FILE``, JSON)::

    {"issuer": "https://login.hospital.example/realms/clinic",
     "client_id": "cmvrx", "client_secret": "…"   (optional: public clients use PKCE only),
     "scopes": ["openid", "profile"], "username_claim": "preferred_username",
     "allowed_users": ["alice", "bob"]            (optional: else anyone the issuer vouches for)}

The issuer's discovery document gives the endpoints; its ``issuer`` must equal the
configured one. The ID token must be signed (RS256/RS384/RS512/ES256/ES384/PS256 — never
``none`` or HMAC) by a key of the issuer's JWK Set, with ``iss``, ``aud`` (our client id),
``exp``, ``iat`` and the ``nonce`` this browser was given. ``state``, ``nonce`` and the PKCE
verifier live in an ``HttpOnly`` cookie for the few minutes of the round trip.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt

from cmvrx.errors import InputError

ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "PS256")
_TIMEOUT = 10.0


class OidcError(Exception):
    """The sign-in failed (the reason is not shown to the browser)."""


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    client_id: str
    client_secret: str | None = None
    scopes: tuple[str, ...] = ("openid", "profile")
    username_claim: str = "preferred_username"
    allowed_users: tuple[str, ...] | None = None

    @classmethod
    def from_file(cls, path: str | Path) -> OidcConfig:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read the OIDC file: {exc}", field="--oidc") from exc
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: object) -> OidcConfig:
        if not isinstance(data, dict):
            raise InputError("must be a JSON object", field="--oidc")
        for key in ("issuer", "client_id"):
            if not isinstance(data.get(key), str) or not data[key]:
                raise InputError("required (text)", field=f"--oidc.{key}")
        unknown = set(data) - {
            "issuer", "client_id", "client_secret", "scopes", "username_claim", "allowed_users"
        }  # fmt: skip
        if unknown:
            raise InputError(f"unknown keys {sorted(unknown)}", field="--oidc")
        issuer = str(data["issuer"]).rstrip("/")
        if not (issuer.startswith("https://") or issuer.startswith("http://127.0.0.1")):
            raise InputError("must be an https URL", field="--oidc.issuer")
        scopes = tuple(data.get("scopes") or ("openid", "profile"))
        if "openid" not in scopes:
            raise InputError("must include 'openid'", field="--oidc.scopes")
        allowed = data.get("allowed_users")
        return cls(
            issuer=issuer,
            client_id=str(data["client_id"]),
            client_secret=data.get("client_secret"),
            scopes=scopes,
            username_claim=str(data.get("username_claim") or "preferred_username"),
            allowed_users=None if allowed is None else tuple(str(u) for u in allowed),
        )


@dataclass(frozen=True)
class Pending:
    """What the browser carries through the round trip (in an HttpOnly cookie)."""

    state: str
    nonce: str
    verifier: str

    def encode(self) -> str:
        return f"{self.state}.{self.nonce}.{self.verifier}"

    @classmethod
    def decode(cls, text: str | None) -> Pending | None:
        parts = (text or "").split(".")
        if len(parts) != 3 or not all(20 <= len(p) <= 100 for p in parts):
            return None
        return cls(*parts)


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


@dataclass
class OidcClient:
    """One configured issuer; ``http`` is replaceable (tests use an in-process fake IdP)."""

    config: OidcConfig
    redirect_uri: str
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=_TIMEOUT))
    _metadata: dict[str, Any] | None = None

    def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            url = self.config.issuer + "/.well-known/openid-configuration"
            doc = self._get_json(url)
            if doc.get("issuer", "").rstrip("/") != self.config.issuer:
                raise OidcError("discovery issuer differs")
            for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(doc.get(key), str):
                    raise OidcError(f"discovery lacks {key}")
            self._metadata = doc
        return self._metadata

    def begin(self) -> tuple[str, Pending]:
        """The IdP URL to send the browser to, and what it must bring back."""
        pending = Pending(
            secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
        )
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.config.client_id,
                "redirect_uri": self.redirect_uri,
                "scope": " ".join(self.config.scopes),
                "state": pending.state,
                "nonce": pending.nonce,
                "code_challenge": _challenge(pending.verifier),
                "code_challenge_method": "S256",
            }
        )
        return f"{self.metadata()['authorization_endpoint']}?{query}", pending

    def finish(self, pending: Pending | None, state: str | None, code: str | None) -> str:
        """The signed-in user name, after checking state, exchanging the code (with the
        PKCE verifier) and verifying the ID token; ``OidcError`` on any failure."""
        if pending is None or not state or not code or len(code) > 2000:
            raise OidcError("no sign-in in progress")
        if not secrets.compare_digest(pending.state, state):
            raise OidcError("state differs")
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "client_id": self.config.client_id,
            "code_verifier": pending.verifier,
        }
        if self.config.client_secret:
            form["client_secret"] = self.config.client_secret
        try:
            reply = self.http.post(self.metadata()["token_endpoint"], data=form)
        except httpx.HTTPError as exc:
            raise OidcError("token endpoint unreachable") from exc
        if reply.status_code != 200:
            raise OidcError("token endpoint refused")
        id_token = _json(reply).get("id_token")
        if not isinstance(id_token, str):
            raise OidcError("no id_token")
        claims = self._verify(id_token)
        if not secrets.compare_digest(str(claims.get("nonce", "")), pending.nonce):
            raise OidcError("nonce differs")
        username = claims.get(self.config.username_claim)
        if not isinstance(username, str) or not username:
            raise OidcError("no user name claim")
        allowed = self.config.allowed_users
        if allowed is not None and username not in allowed:
            raise OidcError("user not allowed")
        return username

    def _verify(self, id_token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError as exc:
            raise OidcError("malformed id_token") from exc
        if header.get("alg") not in ALGORITHMS:
            raise OidcError("algorithm refused")
        keys = jwt.PyJWKSet.from_dict(self._get_json(self.metadata()["jwks_uri"]))
        kid = header.get("kid")
        candidates = [k for k in keys.keys if kid is None or k.key_id == kid]
        if len(candidates) != 1:
            raise OidcError("no single key for this kid")
        try:
            claims: dict[str, Any] = jwt.decode(
                id_token,
                candidates[0].key,
                algorithms=[header["alg"]],
                audience=self.config.client_id,
                issuer=self.metadata()["issuer"],
                leeway=60,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise OidcError("id_token invalid") from exc
        return claims

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            reply = self.http.get(url)
        except httpx.HTTPError as exc:
            raise OidcError("issuer unreachable") from exc
        if reply.status_code != 200:
            raise OidcError("issuer refused")
        return _json(reply)


def _json(reply: httpx.Response) -> dict[str, Any]:
    try:
        data = reply.json()
    except ValueError as exc:
        raise OidcError("not JSON") from exc
    if not isinstance(data, dict):
        raise OidcError("not a JSON object")
    return data

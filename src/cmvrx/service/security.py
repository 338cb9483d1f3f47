"""Who may call the service: the CDS Hooks JWT check, run on every request.

A CDS client signs a short-lived JWT for each call (CDS Hooks §"Trusting CDS Clients",
``../shared/cds-hooks-notes.md`` §1.7). ``TokenVerifier.verify`` accepts it only when
all of this holds, and otherwise raises ``UnauthorizedError`` (the routes answer 401 with no
detail; the reason goes nowhere, so a prober learns nothing):

* the header names ``alg`` ES384 or RS384 (``none`` and every HMAC are refused before
  any key is looked at) and a ``kid``;
* ``iss`` is an allowlisted client (``ClientRegistry``, from the ``--clients`` file);
* for a client known by its ``jku``, a ``jku`` in the header equals that allowlisted URL
  (a client configured with a JWK Set is checked against that set only: a ``jku`` in
  its header is never fetched);
* the ``kid`` is one the client published: in its configured JWK Set, or in the set
  fetched from its ``jku`` (cached; fetched again when an unknown ``kid`` arrives, at
  most once per ``min_refresh_s``). A kid the client never published is refused; other
  keys are never tried;
* the signature verifies with that key and that algorithm;
* ``aud`` (string or array) contains the exact URL called (public URL + path);
* ``exp`` is present and not past (``skew_s`` ≤ 60 s of tolerance), and not further
  than ``max_lifetime_s`` ahead (the replay cache keeps each ``jti`` until then);
  ``iat`` is present and ``nbf``/``iat`` are not in the future beyond the skew;
* ``jti`` is present and this issuer never used it before (``ServiceStore.remember_jti``,
  shared by every instance using the same database).

Nothing here logs a token or a claim value.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
from jwt import PyJWK

from cmvrx.errors import InputError
from cmvrx.service import jws
from cmvrx.store.port import ServiceStore

#: The only signing algorithms accepted (CDS Hooks recommends ES384 and RS384).
ALLOWED_ALGS = frozenset({"ES384", "RS384"})
#: Which JWK key type each algorithm needs.
_KTY_FOR_ALG = {"ES384": "EC", "RS384": "RSA"}
MAX_SKEW_S = 60
_REQUIRED_CLAIMS = ("iss", "aud", "exp", "iat", "jti")
_JWKS_MAX_BYTES = 256 * 1024


class UnauthorizedError(Exception):
    """The call is not from a trusted client. Never carries the reason outward."""


@dataclass(frozen=True, slots=True)
class Client:
    """One trusted CDS client: its issuer, where its public keys are, and the FHIR
    servers its calls may name as ``fhirServer`` (none listed: any https server)."""

    iss: str
    jwks: Mapping[str, Any] | None = None
    jku: str | None = None
    fhir_servers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class VerifiedCall:
    """What a verified token says about the caller (no token text kept)."""

    iss: str
    sub: str | None
    tenant: str | None


class ClientRegistry:
    """The allowlist: ``{"clients": [{"iss": …, "jwks": {…}} | {"iss": …, "jku": "https://…"}]}``,
    each entry optionally with ``"fhir_servers": ["https://…", …]``."""

    def __init__(self, clients: list[Client]) -> None:
        self._by_iss = {c.iss: c for c in clients}

    def get(self, iss: str) -> Client | None:
        return self._by_iss.get(iss)

    def __len__(self) -> int:
        return len(self._by_iss)

    def all_static(self) -> bool:
        """Whether every client's keys are configured (no ``jku`` to fetch from)."""
        return all(c.jku is None for c in self._by_iss.values())

    @classmethod
    def from_file(cls, path: str | Path) -> ClientRegistry:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(
                f"cannot read the clients file: {exc.strerror}", field="--clients"
            ) from exc
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"the clients file is not valid JSON: {exc}", field="--clients"
            ) from exc
        return cls.from_document(document)

    @classmethod
    def from_document(cls, document: object) -> ClientRegistry:
        if not isinstance(document, dict) or not isinstance(document.get("clients"), list):
            raise InputError('must be {"clients": [...]}', field="clients")
        clients = [_client(i, entry) for i, entry in enumerate(document["clients"])]
        issuers = [c.iss for c in clients]
        if len(set(issuers)) != len(issuers):
            raise InputError("an iss appears twice", field="clients")
        return cls(clients)


def _client(i: int, entry: object) -> Client:
    where = f"clients[{i}]"
    if not isinstance(entry, dict) or not isinstance(entry.get("iss"), str) or not entry["iss"]:
        raise InputError("needs a non-empty string iss", field=where)
    jwks, jku = entry.get("jwks"), entry.get("jku")
    servers = _fhir_servers(entry.get("fhir_servers", []), f"{where}.fhir_servers")
    if (jwks is None) == (jku is None):
        raise InputError("needs exactly one of jwks (a JWK Set) or jku (its URL)", field=where)
    if jwks is not None:
        _check_jwks(jwks, f"{where}.jwks")
        if any("d" in key for key in jwks["keys"]):
            raise InputError(
                "holds a private key: give the public JWK Set only", field=f"{where}.jwks"
            )
        return Client(iss=entry["iss"], jwks=jwks, fhir_servers=servers)
    if not isinstance(jku, str) or not _https_or_loopback(jku):
        raise InputError(
            "must be an https URL (http only for 127.0.0.1/localhost)", field=f"{where}.jku"
        )
    return Client(iss=entry["iss"], jku=jku, fhir_servers=servers)


def _fhir_servers(value: object, where: str) -> tuple[str, ...]:
    """The FHIR base URLs a client lists, each https (http only for 127.0.0.1/localhost)."""
    if not isinstance(value, list) or not all(isinstance(u, str) for u in value):
        raise InputError("must be a list of FHIR base URLs", field=where)
    for url in value:
        if fhir_server_refusal(url, ()) is not None:
            raise InputError(
                "must be an https URL without a query (http only for 127.0.0.1/localhost)",
                field=where,
            )
    return tuple(url.rstrip("/") for url in value)


def fhir_server_refusal(url: str, listed: tuple[str, ...]) -> str | None:
    """Why the service must not call ``url`` with the EHR's access token, or None.

    The CDS Hooks ``fhirServer`` comes in the request body: calling any URL given there
    would let a caller point the service, with a bearer token, at hosts inside its
    network. Only https is called (http only on 127.0.0.1/localhost, for tests), and a
    client that lists its FHIR servers is held to that list."""
    if not _https_or_loopback(url) or urlsplit(url).query:
        return "fhirServer must be an https URL without a query"
    if listed and url.rstrip("/") not in listed:
        return "fhirServer is not one of the FHIR servers registered for this client"
    return None


def _check_jwks(jwks: object, where: str) -> None:
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise InputError('must be a JWK Set {"keys": [...]}', field=where)
    for j, key in enumerate(jwks["keys"]):
        if not isinstance(key, dict) or not isinstance(key.get("kid"), str):
            raise InputError("every key needs a string kid", field=f"{where}.keys[{j}]")


def _https_or_loopback(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return True
    return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")


@dataclass
class _FetchedSet:
    keys: dict[str, Mapping[str, Any]]
    fetched_at: float


@dataclass
class KeyResolver:
    """The public key for (client, kid): static sets, or ``jku`` sets fetched and cached."""

    ttl_s: float = 3600.0
    min_refresh_s: float = 10.0
    fetch: Callable[[str], bytes] | None = None
    monotonic: Callable[[], float] = time.monotonic
    _cache: dict[str, _FetchedSet] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def key_for(self, client: Client, kid: str) -> Mapping[str, Any]:
        if client.jwks is not None:
            found = _by_kid(client.jwks).get(kid)
            if found is None:
                raise UnauthorizedError
            return found
        assert client.jku is not None
        return self._from_jku(client.jku, kid)

    def _from_jku(self, jku: str, kid: str) -> Mapping[str, Any]:
        with self._lock:
            now = self.monotonic()
            cached = self._cache.get(jku)
            stale = cached is None or now - cached.fetched_at > self.ttl_s
            unknown = cached is not None and kid not in cached.keys
            may_refresh = cached is None or now - cached.fetched_at >= self.min_refresh_s
            if stale or (unknown and may_refresh):
                try:
                    cached = _FetchedSet(keys=_by_kid(self._download(jku)), fetched_at=now)
                except (OSError, ValueError, InputError) as exc:
                    raise UnauthorizedError from exc
                self._cache[jku] = cached
            assert cached is not None
            found = cached.keys.get(kid)
        if found is None:
            raise UnauthorizedError
        return found

    def _download(self, jku: str) -> Mapping[str, Any]:
        body = (self.fetch or _http_get)(jku)
        document = json.loads(body)
        _check_jwks(document, "jku")
        return dict(document)


def _http_get(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        body: bytes = response.read(_JWKS_MAX_BYTES + 1)
    if len(body) > _JWKS_MAX_BYTES:
        raise ValueError("JWK Set too large")
    return body


def _by_kid(jwks: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    keys = jwks.get("keys")
    if not isinstance(keys, list):
        return {}
    return {k["kid"]: k for k in keys if isinstance(k, dict) and isinstance(k.get("kid"), str)}


@dataclass
class TokenVerifier:
    """Checks one bearer token for one URL; see the module docstring for the rules."""

    clients: ClientRegistry
    store: ServiceStore
    keys: KeyResolver = field(default_factory=KeyResolver)
    clock: Callable[[], float] = time.time
    skew_s: int = MAX_SKEW_S
    max_lifetime_s: int = 3600
    _keys_built: dict[tuple[str, str], PyJWK] = field(default_factory=dict, repr=False)
    _keys_by_object: dict[tuple[str, int], tuple[Mapping[str, Any], PyJWK]] = field(
        default_factory=dict, repr=False
    )

    def __post_init__(self) -> None:
        if not 0 <= self.skew_s <= MAX_SKEW_S:
            raise InputError(f"clock skew must be within 0..{MAX_SKEW_S} s", field="skew_s")

    def verify(self, authorization: str | None, url: str) -> VerifiedCall:
        token = _bearer(authorization)
        parsed = jws.parse(token)  # None: not a plain compact JWS; PyJWT judges it
        if parsed is not None:
            header, unverified = parsed.header, parsed.payload
        else:
            try:
                # one unverified parse for the header and the issuer (the key depends on both)
                complete = jwt.api_jwt.decode_complete(token, options={"verify_signature": False})
                header, unverified = complete["header"], complete["payload"]
            except jwt.PyJWTError as exc:
                raise UnauthorizedError from exc
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALLOWED_ALGS or not isinstance(kid, str) or not kid:
            raise UnauthorizedError
        if header.get("typ") not in (None, "JWT"):
            raise UnauthorizedError
        iss = unverified.get("iss")
        client = self.clients.get(iss) if isinstance(iss, str) else None
        if client is None:
            raise UnauthorizedError
        if client.jku is not None and header.get("jku", client.jku) != client.jku:
            raise UnauthorizedError
        jwk = self._jwk(client, alg, kid)
        if parsed is not None:
            claims = self._plain_claims(parsed, jwk, alg, url)
        else:
            claims = self._signed_claims(token, client, jwk, alg, url)
        if not isinstance(claims.get("jti"), str) or not claims["jti"] or len(claims["jti"]) > 200:
            raise UnauthorizedError
        self._check_times(claims)
        # kept until the token can no longer pass the time check (exp + skew)
        if not self.store.remember_jti(
            client.iss,
            claims["jti"],
            _utc(claims["exp"] + self.skew_s),
            now=_utc(self.clock()),
        ):
            raise UnauthorizedError
        return VerifiedCall(
            iss=client.iss,
            sub=claims["sub"] if isinstance(claims.get("sub"), str) else None,
            tenant=claims["tenant"] if isinstance(claims.get("tenant"), str) else None,
        )

    def _jwk(self, client: Client, alg: str, kid: str) -> Mapping[str, Any]:
        """The client's published key ``kid``, fit for ``alg`` and for signatures."""
        jwk = self.keys.key_for(client, kid)
        if jwk.get("kty") != _KTY_FOR_ALG[alg] or jwk.get("alg", alg) != alg:
            raise UnauthorizedError
        if jwk.get("use", "sig") != "sig":
            raise UnauthorizedError
        return jwk

    def _plain_claims(
        self, parsed: jws.Parsed, jwk: Mapping[str, Any], alg: str, url: str
    ) -> dict[str, Any]:
        """The claims of a plain token: its signature, then what PyJWT's ``decode`` checks
        with the options of ``_signed_claims`` (required claims, ``aud``, ``sub`` type)."""
        try:
            key = self._pyjwk(jwk, alg).key
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise UnauthorizedError from exc
        if not jws.verify(alg, key, parsed.signing_input, parsed.signature):
            raise UnauthorizedError
        claims = parsed.payload
        if any(claims.get(name) is None for name in _REQUIRED_CLAIMS):
            raise UnauthorizedError
        audiences = claims["aud"]
        if isinstance(audiences, str):
            audiences = [audiences]
        if not isinstance(audiences, list) or url not in audiences:
            raise UnauthorizedError
        if any(not isinstance(a, str) for a in audiences):
            raise UnauthorizedError
        if "sub" in claims and not isinstance(claims["sub"], str):
            raise UnauthorizedError
        return claims

    def _signed_claims(
        self, token: str, client: Client, jwk: Mapping[str, Any], alg: str, url: str
    ) -> dict[str, Any]:
        try:
            key = self._pyjwk(jwk, alg)
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=url,
                issuer=client.iss,
                options={
                    "require": list(_REQUIRED_CLAIMS),
                    "verify_exp": False,  # checked below against the service clock
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise UnauthorizedError from exc
        return claims

    def _pyjwk(self, jwk: Mapping[str, Any], alg: str) -> PyJWK:
        """The key object for a JWK, built once per distinct key (parsing costs ~0.1 ms)."""
        same = self._keys_by_object.get((alg, id(jwk)))
        if same is not None and same[0] is jwk:  # the very JWK object seen before
            return same[1]
        cache_key = (alg, json.dumps(jwk, sort_keys=True))
        found = self._keys_built.get(cache_key)
        if found is None:
            if len(self._keys_built) > 256:  # keys rotate rarely; never grow without bound
                self._keys_built.clear()
            found = self._keys_built[cache_key] = PyJWK.from_dict(dict(jwk), algorithm=alg)
        if len(self._keys_by_object) > 256:  # a refreshed JWK Set brings new objects
            self._keys_by_object.clear()
        # the entry holds the JWK itself, so its id cannot be reused while it is cached
        self._keys_by_object[(alg, id(jwk))] = (jwk, found)
        return found

    def _check_times(self, claims: Mapping[str, Any]) -> None:
        now = self.clock()
        exp, iat, nbf = claims.get("exp"), claims.get("iat"), claims.get("nbf", None)
        for value in (exp, iat, nbf):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                raise UnauthorizedError
        assert isinstance(exp, int | float) and isinstance(iat, int | float)
        if exp + self.skew_s < now or exp > now + self.max_lifetime_s:
            raise UnauthorizedError
        if iat > now + self.skew_s or (nbf is not None and nbf > now + self.skew_s):
            raise UnauthorizedError


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise UnauthorizedError
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 16_384:
        raise UnauthorizedError
    return token


def _utc(epoch: float) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC)

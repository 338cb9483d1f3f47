"""Helpers for the service tests: keys of three clients, a token factory, an app.

* ``sandbox``: the CDS Hooks sandbox's own ES384 key (``../shared/third-party/
  cds-hooks-sandbox/jwk-keypair.json``), signing exactly as the sandbox does;
* ``epic``: an RS384 key generated here, signing Epic-style (``sub``, ``nbf``);
* ``other``: a second EC key, for "a key of another client".

The service clock is fixed (``NOW``) so token times are exact, not wall-clock.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from cmvrx.service import create_app
from cmvrx.service.security import ClientRegistry, KeyResolver
from cmvrx.service.settings import Settings

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
SANDBOX_KEYS = SHARED / "third-party" / "cds-hooks-sandbox" / "jwk-keypair.json"
GOLDEN = Path(__file__).with_name("golden")

PUBLIC_URL = "https://cds.example.org/cmvrx"
NOW = 1_800_000_000  # the fixed service clock (2027-01-15T08:00:00Z)

SANDBOX_ISS = "https://sandbox.cds-hooks.org"
SANDBOX_JKU = "https://sandbox.cds-hooks.org/.well-known/jwks.json"
EPIC_ISS = "https://fhir.epic.example/interconnect-fhir-oauth"
OTHER_ISS = "https://other-ehr.example.org"


@dataclass(frozen=True)
class SigningKey:
    """A client's private key and its public JWK."""

    alg: str
    kid: str
    private: Any
    public_jwk: dict[str, Any]


def _sandbox_key() -> SigningKey:
    jwk = json.loads(SANDBOX_KEYS.read_text())["keys"][0]
    private = ECAlgorithm.from_jwk(json.dumps(jwk))
    public = {k: v for k, v in jwk.items() if k != "d"}
    return SigningKey("ES384", jwk["kid"], private, public)


def _generated(alg: str, kid: str) -> SigningKey:
    if alg == "RS384":
        private: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    else:
        private = ec.generate_private_key(ec.SECP384R1())
        public = json.loads(ECAlgorithm.to_jwk(private.public_key()))
    return SigningKey(alg, kid, private, {**public, "kid": kid, "alg": alg, "use": "sig"})


def sign(
    key: SigningKey,
    claims: dict[str, Any],
    *,
    headers: dict[str, Any] | None = None,
    alg: str | None = None,
    secret: Any = None,
) -> str:
    header = {"kid": key.kid, "typ": "JWT", **(headers or {})}
    return jwt.encode(
        claims,
        secret if secret is not None else key.private,
        algorithm=alg or key.alg,
        headers=header,
    )


def sandbox_token(key: SigningKey, aud: str, **changes: Any) -> str:
    """A token as the CDS Hooks sandbox signs it (jwt-generator.js): ES384, kid, jku, typ
    JWT; iss, aud, iat, exp = iat + 300, jti."""
    claims = {
        "iss": SANDBOX_ISS,
        "aud": aud,
        "exp": NOW + 300,
        "iat": NOW,
        "jti": str(uuid.uuid4()),
    }
    claims.update(changes)
    return sign(
        key, {k: v for k, v in claims.items() if v is not None}, headers={"jku": SANDBOX_JKU}
    )


def epic_token(key: SigningKey, aud: str, **changes: Any) -> str:
    """An Epic-style token: RS384, with ``sub`` (the client id) and ``nbf`` ≈ 5 min before iat."""
    claims = {
        "iss": EPIC_ISS,
        "sub": "d45049c3-3441-40ef-ab4d-b9cd86a17225",
        "aud": aud,
        "jti": str(uuid.uuid4()),
        "nbf": NOW - 300,
        "iat": NOW,
        "exp": NOW + 300,
    }
    claims.update(changes)
    return sign(key, claims)


def clients_document(keys: dict[str, SigningKey]) -> dict[str, Any]:
    sandbox: dict[str, Any] = {"iss": SANDBOX_ISS, "jwks": {"keys": [keys["sandbox"].public_jwk]}}
    return {
        "clients": [
            sandbox,
            {"iss": EPIC_ISS, "jwks": {"keys": [keys["epic"].public_jwk]}},
            {"iss": OTHER_ISS, "jwks": {"keys": [keys["other"].public_jwk]}},
        ]
    }


def make_app(
    db_url: str, keys: dict[str, SigningKey], *, document: dict[str, Any] | None = None,
    resolver: KeyResolver | None = None, dev_no_auth: bool = False, **extra: Any,
) -> TestClient:  # fmt: skip
    settings = Settings(
        public_url=PUBLIC_URL,
        clients=None
        if dev_no_auth
        else ClientRegistry.from_document(document or clients_document(keys)),
        db_url=db_url,
        dev_no_auth=dev_no_auth,
        keys=resolver,
        clock=lambda: NOW,
        **extra,
    )
    return TestClient(create_app(settings), raise_server_exceptions=False)


def golden(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((GOLDEN / name).read_text(encoding="utf-8"))
    return data


_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def shifted(value: Any, delta: timedelta) -> Any:
    """``value`` with every ISO date-time string moved by ``delta`` (test records dated
    for another ``as_of`` brought to the service clock ``NOW``)."""
    if isinstance(value, dict):
        return {k: shifted(v, delta) for k, v in value.items()}
    if isinstance(value, list):
        return [shifted(v, delta) for v in value]
    if isinstance(value, str) and _ISO.match(value):
        moved = datetime.fromisoformat(value.replace("Z", "+00:00")) + delta
        return moved.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value


def fhir_case(name: str) -> tuple[list[dict[str, Any]], datetime]:
    """A tests/fhir/cases record moved so that its ``as_of`` is the service clock ``NOW``."""
    import yaml

    data = yaml.safe_load((REPO / "tests" / "fhir" / "cases" / name).read_text("utf-8"))
    now = datetime.fromtimestamp(NOW, UTC)
    delta = now - datetime.fromisoformat(data["as_of"])
    return shifted(data["resources"], delta), now


def order_sign_call() -> dict[str, Any]:
    """An order-sign call for the record of case 01 with every prefetch template key
    (nothing to fetch) and a draft of 500 mg ganciclovir — too high: a warning card whose
    suggestion updates the draft."""
    from cmvrx.service import prefetch

    record, _ = fhir_case("01_complete_retinitis_hiv.yaml")
    draft = next(r for r in record if r["resourceType"] == "MedicationRequest")
    draft["dosageInstruction"][0]["doseAndRate"] = [{"doseQuantity": {"value": 500, "code": "mg"}}]
    rest = [r for r in record if r["resourceType"] != "MedicationRequest"]
    data: dict[str, Any] = {
        k: {"resourceType": "Bundle", "type": "searchset"} for k in prefetch.templates()
    }
    data["observations"] = {"resourceType": "Bundle", "entry": [{"resource": r} for r in rest]}
    return {
        "hook": "order-sign",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/1", "patientId": "p1",
                    "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": draft}]}},
        "prefetch": data,
    }  # fmt: skip

"""A compact JWS read and its ES384/RS384 signature checked directly with ``cryptography``.

The hot path of the JWT check (``security.TokenVerifier``): one strict parse of the
three segments (base64url without padding, canonical; header and payload JSON objects)
and one signature check with a public key object built once per key. PyJWT does the
same work with more overhead per call (it parses the token twice and checks every
character in Python). A token this module does not take as plain — padding, a ``crit``
or ``b64`` header, anything unusual — returns ``None`` from ``parse``, and the caller
then takes the general (PyJWT) path, so such tokens are judged exactly as before.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from cmvrx.service.responses import loads_object

_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
_ES384_HALF = 48  # bytes of r and of s in an ES384 signature (P-384)
_SHA384 = hashes.SHA384()
_ECDSA_SHA384 = ec.ECDSA(_SHA384)
_PKCS1 = padding.PKCS1v15()


@dataclass(frozen=True, slots=True)
class Parsed:
    """A compact JWS split and decoded; nothing in it is verified yet."""

    header: dict[str, Any]
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes


def parse(token: str) -> Parsed | None:
    """The plain compact JWS ``token``, or ``None`` when it is not plain (see module doc)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        header, payload = _json(parts[0]), _json(parts[1])
        signature = _decode(parts[2])
    except (ValueError, binascii.Error, RecursionError):
        return None
    if header is None or payload is None or signature is None:
        return None
    if "crit" in header or "b64" in header:
        return None
    return Parsed(header, payload, f"{parts[0]}.{parts[1]}".encode("ascii"), signature)


def _decode(segment: str) -> bytes | None:
    """Strict base64url: the alphabet only, no padding, canonical (re-encodes the same)."""
    if not _SEGMENT.fullmatch(segment) or len(segment) % 4 == 1:
        return None
    data = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    if base64.urlsafe_b64encode(data).rstrip(b"=") != segment.encode("ascii"):
        return None
    return data


def _json(segment: str) -> dict[str, Any] | None:
    """The JSON object in a segment; ``None`` for anything else — also for what strict
    JSON refuses (NaN, a number too large), which then takes the general path."""
    data = _decode(segment)
    return None if data is None else loads_object(data)


def verify(alg: str, key: Any, signing_input: bytes, signature: bytes) -> bool:
    """Whether ``signature`` over ``signing_input`` verifies with the public ``key`` for
    ``alg`` (ES384: raw r‖s on P-384; RS384: PKCS#1 v1.5 with SHA-384)."""
    try:
        if alg == "ES384":
            if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(
                key.curve, ec.SECP384R1
            ):
                return False
            if len(signature) != 2 * _ES384_HALF:
                return False
            r = int.from_bytes(signature[:_ES384_HALF], "big")
            s = int.from_bytes(signature[_ES384_HALF:], "big")
            key.verify(encode_dss_signature(r, s), signing_input, _ECDSA_SHA384)
            return True
        if alg == "RS384":
            if not isinstance(key, rsa.RSAPublicKey):
                return False
            key.verify(signature, signing_input, _PKCS1, _SHA384)
            return True
    except (InvalidSignature, ValueError):
        return False
    return False

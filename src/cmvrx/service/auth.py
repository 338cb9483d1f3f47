"""The FastAPI dependency that guards every route: a verified JWT, or 401."""

from __future__ import annotations

from fastapi import Request

from cmvrx.service.security import TokenVerifier, UnauthorizedError, VerifiedCall

DEV_CALLER = VerifiedCall(iss="dev-no-auth", sub=None, tenant=None)


def authenticate(request: Request) -> VerifiedCall:
    """The caller, verified against the exact URL called (public URL + path). Sync on
    purpose: it runs in the thread pool, so a JWK Set fetch never stalls the event loop."""
    verifier: TokenVerifier | None = request.app.state.verifier
    if verifier is None:  # --dev-no-auth
        return DEV_CALLER
    url = request.app.state.settings.public_url + request.url.path
    return verifier.verify(request.headers.get("authorization"), url)


__all__ = ["UnauthorizedError", "authenticate"]

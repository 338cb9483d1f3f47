"""Sign-in sessions and CSRF protection of the web page.

- The session cookie holds 32 random bytes; the store keeps only their SHA-256 with the
  user, the CSRF token and the expiry (server-side sessions: signing out ends it
  everywhere). Cookie: ``HttpOnly``, ``SameSite=Lax``, ``Path=/``; ``Secure`` and the
  ``__Host-`` name prefix when the public URL is https.
- Every form carries a CSRF token: the session's own (synchronizer token) once signed
  in; before sign-in, a random value also set as an ``HttpOnly`` cookie (double submit).
  A POST whose token is missing or differs is refused (403) before anything is done.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import Response

SESSION_HOURS = 12.0
#: Sign-in throttle: this many failed attempts for one user name within the window make
#: further attempts wait (recorded in the store, so shared by every instance).
THROTTLE_FAILURES = 10
THROTTLE_MINUTES = 15
PRE_CSRF_COOKIE = "cmvrx_csrf"
OIDC_COOKIE = "cmvrx_oidc"


@dataclass(frozen=True, slots=True)
class SignedIn:
    username: str
    csrf_token: str
    token_hash: str


def secure(request: Request) -> bool:
    return str(request.app.state.settings.public_url).startswith("https://")


def session_cookie_name(request: Request) -> str:
    return "__Host-cmvrx_session" if secure(request) else "cmvrx_session"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def now(request: Request) -> datetime:
    return datetime.fromtimestamp(request.app.state.settings.clock(), UTC)


def set_cookie(request: Request, response: Response, name: str, value: str, **kw: Any) -> None:
    response.set_cookie(
        name, value, httponly=True, secure=secure(request), samesite="lax", path="/", **kw
    )


def current(request: Request) -> SignedIn | None:
    """The signed-in user of this request, or None."""
    token = request.cookies.get(session_cookie_name(request))
    if not token or len(token) > 100:
        return None
    digest = token_hash(token)
    found = request.app.state.store.get_session(digest, now=now(request))
    return None if found is None else SignedIn(found.username, found.csrf_token, digest)


def start(request: Request, response: Response, username: str) -> None:
    """A new session for ``username`` (a fresh token: no session fixation)."""
    token = secrets.token_urlsafe(32)
    hours = float(getattr(request.app.state, "web_session_hours", SESSION_HOURS))
    expires = now(request) + timedelta(hours=hours)
    request.app.state.store.create_session(
        token_hash(token), username, secrets.token_urlsafe(32), expires
    )
    set_cookie(request, response, session_cookie_name(request), token, max_age=int(hours * 3600))
    response.delete_cookie(PRE_CSRF_COOKIE, path="/")


def end(request: Request, response: Response, signed_in: SignedIn) -> None:
    request.app.state.store.end_session(signed_in.token_hash)
    response.delete_cookie(session_cookie_name(request), path="/")


def pre_session_token(request: Request) -> str:
    """The double-submit token of the sign-in form (reuses the cookie's when present)."""
    existing = request.cookies.get(PRE_CSRF_COOKIE)
    if existing and 20 <= len(existing) <= 100:
        return existing
    return secrets.token_urlsafe(32)


def csrf_ok(expected: str | None, given: str | None) -> bool:
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())

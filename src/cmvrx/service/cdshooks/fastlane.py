"""The hook fast lane: ``POST /cds-services/{id}`` answered without FastAPI's request
machinery (dependency solving, two thread-pool hops, the ``dict`` body's validation copy).

Same checks in the same order, same answers: a call whose body is a JSON object sent as
``application/json`` is authenticated (``auth.authenticate``: the 401 of the routes)
and answered by ``routes.answer_hook`` — the very function the FastAPI route calls.
It runs on the event loop when it cannot wait on the network (every client's keys
configured, none fetched from a ``jku``; the replay cache a local SQLite file; the
prefetch complete, nothing to fetch from the ``fhirServer``): a thread-pool hop costs
more CPU than such a call's I/O. Otherwise it takes one thread-pool hop (a JWK Set or
``fhirServer`` fetch never stalls the event loop). Anything else (another content type, a
body that is not a JSON object or not strict JSON) goes to the FastAPI route unchanged,
with the body it already read. The route stays registered, so the OpenAPI document is
the same. ``scope["route"]`` is set to that route, so the access log names its template.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cmvrx.errors import CmvrxError
from cmvrx.service import problems
from cmvrx.service.auth import authenticate
from cmvrx.service.responses import loads_object
from cmvrx.service.security import UnauthorizedError

PREFIX = "/cds-services/"
_MAX_BODY = 32 * 1024 * 1024  # beyond this the general path answers (or refuses) it


class HookFastLane:
    """Pure ASGI middleware; see the module docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._route: BaseRoute | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        service_id = _hook_id(scope)
        if service_id is None or not _json_content(scope):
            await self.app(scope, receive, send)
            return
        body, complete = await _read_body(receive)
        data = loads_object(body) if complete else None
        if data is None:
            await self.app(scope, _replay(body, complete, receive), send)
            return
        scope["route"] = self._hook_route()
        request = Request(scope, _replay(body, True, receive))
        if _offline(scope["app"]) and _prefetch_complete(data):
            response = _answer(request, service_id, data)  # no I/O but a local SQLite write
        else:
            response = await run_in_threadpool(_answer, request, service_id, data)
        await response(scope, receive, send)

    def _hook_route(self) -> BaseRoute | None:
        """The FastAPI route this lane answers for (the access log reads its template)."""
        if self._route is None:
            from cmvrx.service.cdshooks.routes import router

            for route in router.routes:
                if getattr(route, "path", None) == PREFIX + "{service_id}":
                    self._route = route
                    break
        return self._route


def _answer(request: Request, service_id: str, data: dict[str, Any]) -> Response:
    from cmvrx.service.cdshooks.routes import answer_hook

    try:
        caller = authenticate(request)
        return answer_hook(service_id, data, request.app.state.settings, caller)
    except UnauthorizedError:
        return problems.unauthorized()
    except CmvrxError as exc:
        return problems.from_error(exc, fhir=True)


def _offline(app: Any) -> bool:
    """Whether verifying a token can never wait on the network: every client's keys are
    configured (none fetched from a ``jku``) and the replay cache is a local SQLite file."""
    known: bool | None = getattr(app.state, "hooks_offline", None)
    if known is None:
        verifier = app.state.verifier
        static = verifier is None or verifier.clients.all_static()
        known = static and getattr(app.state.store, "dialect", None) == "sqlite"
        app.state.hooks_offline = known
    return known


def _prefetch_complete(data: dict[str, Any]) -> bool:
    """Whether the prefetch holds every key the services ask for (nothing to fetch from
    the ``fhirServer``: the call needs no network)."""
    from cmvrx.service.cdshooks.data import unusable_keys
    from cmvrx.service.cdshooks.routes import templates

    prefetch = data.get("prefetch")
    return isinstance(prefetch, dict) and not unusable_keys(templates(), prefetch)


def _hook_id(scope: Scope) -> str | None:
    """The service id of ``POST /cds-services/{id}`` (not ``…/feedback``), else ``None``."""
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    if not path.startswith(PREFIX):
        return None
    service_id = path[len(PREFIX) :]
    return service_id if service_id and "/" not in service_id else None


def _json_content(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            media: bytes = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json"
    return False


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The whole body, or what was read when it is too large or the client left."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True
        if size > _MAX_BODY:
            return b"".join(chunks), False


def _replay(body: bytes, complete: bool, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` first, then what ``receive`` still has."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": not complete}
        return await receive()

    return replayed

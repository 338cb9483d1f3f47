"""The ASGI application: routers, the JWT check, errors on the wire, privacy-safe logs.

Logging: one access line per request from logger ``cmvrx.service.access`` with the
method, the route *template* (``/api/v1/courses/{course_id}/events``, never the path,
which may hold a course or patient id), the status and the duration. Uvicorn's own
access log is switched off by ``cmvrx serve``. An unexpected exception is answered 500
with no detail and logged by its type name only (no message, no traceback: both can
quote patient data). Nothing logs headers, bodies, tokens or query strings.
"""

from __future__ import annotations

import logging
import time

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cmvrx.errors import CmvrxError
from cmvrx.service import problems
from cmvrx.service.security import KeyResolver, TokenVerifier, UnauthorizedError
from cmvrx.service.settings import DEV_NO_AUTH_WARNING, Settings

ACCESS_LOG = logging.getLogger("cmvrx.service.access")
LOG = logging.getLogger("cmvrx.service")


def build(settings: Settings) -> FastAPI:
    from cmvrx import __version__
    from cmvrx.service.cdshooks.fastlane import HookFastLane
    from cmvrx.service.cdshooks.routes import router as cds_router
    from cmvrx.service.rest import router as rest_router
    from cmvrx.service.rest_check import router as check_router
    from cmvrx.store import open_service_store
    from cmvrx.web import install as install_web_page

    if settings.dev_no_auth:
        LOG.warning(DEV_NO_AUTH_WARNING)
    store = open_service_store(settings.db_url)
    app = FastAPI(
        title="cmvrx service",
        version=__version__,
        description="CDS Hooks 2.0 and REST API for severe CMV disease. Decision support,"
        " not a prescriber. Every call needs a JWT from a trusted client (docs/service.md).",
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.verifier = (
        None
        if settings.dev_no_auth
        else TokenVerifier(
            clients=settings.clients,  # type: ignore[arg-type]  # checked by Settings
            store=store,
            keys=settings.keys or KeyResolver(),
            clock=settings.clock,
        )
    )
    app.include_router(cds_router)
    app.include_router(rest_router)
    app.include_router(check_router)
    install_web_page(app)  # docs/web.md
    app.add_api_route("/healthz", _health, methods=["GET"], include_in_schema=False)
    _install_error_handlers(app)
    app.add_middleware(HookFastLane)  # inside the access log: its calls are logged too
    app.add_middleware(AccessLog)
    app.router.add_event_handler("shutdown", store.close)
    return app


def _health() -> dict[str, str]:
    return {"status": "ok"}


def _fhir_route(request: Request) -> bool:
    return request.url.path.startswith("/cds-services")


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(UnauthorizedError)
    def _unauthorized(_request: Request, _exc: UnauthorizedError) -> Response:
        return problems.unauthorized()

    @app.exception_handler(CmvrxError)
    def _cmvrx_error(request: Request, exc: CmvrxError) -> Response:
        return problems.from_error(exc, fhir=_fhir_route(request))

    @app.exception_handler(RequestValidationError)
    def _invalid(request: Request, exc: RequestValidationError) -> Response:
        field, message = problems.validation_field(list(exc.errors()))
        if _fhir_route(request):
            return problems.operation_outcome(400, message, field=field)
        return problems.problem(422, message, field=field)

    @app.exception_handler(StarletteHTTPException)
    def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 401:
            return problems.unauthorized()
        detail = str(exc.detail) if exc.status_code < 500 else ""
        if _fhir_route(request):
            response = problems.operation_outcome(exc.status_code, detail)
        else:
            response = problems.problem(exc.status_code, detail)
        response.headers.update(exc.headers or {})  # e.g. Allow on a 405
        return response


class AccessLog:
    """Pure ASGI middleware: one access line per request, and a bare 500 for a bug."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:  # a bug: answer 500, log the type only
            LOG.error("unhandled %s", type(exc).__name__)
            if status == 0:
                await problems.problem(500, "")(scope, receive, send)
            status = 500
        template = getattr(scope.get("route"), "path", "(no route)")
        elapsed_ms = (time.perf_counter() - started) * 1000
        ACCESS_LOG.info("%s %s %d %.1fms", scope["method"], template, status, elapsed_ms)

"""`cmvrx serve`: run the CDS Hooks service and REST API (uvicorn; extra ``service``).

The contract: ``cmvrx serve --host H --port P --public-url URL --clients FILE [--db URL]``.
``--dev-no-auth`` turns authentication off and says so on every start. Settings reach
each worker process through the environment (``cmvrx.service.settings``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from cmvrx.errors import InputError, StorageError

_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _log_config(level: str) -> dict[str, Any]:
    """Uvicorn's loggers and ours, one format, to stderr; no access log from uvicorn."""
    handler = {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": _LOG_FORMAT}},
        "handlers": {"stderr": handler},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "cmvrx": {"handlers": ["stderr"], "level": level, "propagate": False},
        },
    }


def serve(
    public_url: Annotated[
        str,
        typer.Option("--public-url", metavar="URL", help="Base URL as the EHR sees it."),
    ],
    host: Annotated[
        str, typer.Option("--host", metavar="H", help="Interface to bind.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", metavar="P", help="TCP port.")] = 8080,
    clients: Annotated[
        str | None,
        typer.Option(
            "--clients",
            metavar="FILE",
            help='Trusted clients: {"clients": [{"iss": …, "jwks": {…}} | {"iss": …, "jku": …}]}.',
        ),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option("--db", metavar="URL", help="Store (SQLAlchemy URL; default a SQLite file)."),
    ] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Worker processes.")] = 1,
    log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning.")] = "info",
    oidc: Annotated[
        str | None,
        typer.Option(
            "--oidc", metavar="FILE", help="Web page sign-in by OpenID Connect (docs/web.md)."
        ),
    ] = None,
    dev_no_auth: Annotated[
        bool,
        typer.Option("--dev-no-auth", help="Development only: accept calls without a JWT."),
    ] = False,
    no_dialysis_unless_recorded: Annotated[
        bool,
        typer.Option(
            "--no-dialysis-unless-recorded",
            help="Opt-in: a record with no dialysis recorded is read as no dialysis"
            " (default: the cards ask for the dialysis status).",
        ),
    ] = False,
) -> None:
    """Serve CDS Hooks (/cds-services) and the REST API (/api/v1), every call behind a JWT."""
    try:
        import uvicorn

        from cmvrx.service.security import ClientRegistry
        from cmvrx.service.settings import DEV_NO_AUTH_WARNING, Settings
    except ImportError as exc:
        raise StorageError(
            f"cmvrx serve needs the service extra: pip install 'cmvrx[service]' ({exc.name})"
        ) from exc
    if dev_no_auth:
        typer.echo(DEV_NO_AUTH_WARNING, err=True)
    elif clients is None:
        raise InputError("required (or --dev-no-auth for development)", field="--clients")
    if log_level.lower() not in ("debug", "info", "warning", "error"):
        raise InputError("one of debug, info, warning, error", field="--log-level")
    registry = ClientRegistry.from_file(clients) if clients else None
    if oidc:
        from cmvrx.web.oidc import OidcConfig

        OidcConfig.from_file(oidc)  # a bad file exits 2 here, naming the field
    settings = Settings(
        public_url=public_url,
        clients=registry,
        db_url=db,
        dev_no_auth=dev_no_auth,
        no_dialysis_unless_recorded=no_dialysis_unless_recorded,
        oidc_file=str(Path(oidc).resolve()) if oidc else None,
    )
    os.environ.update(settings.export_env(str(Path(clients).resolve()) if clients else None))
    uvicorn.run(
        "cmvrx.service.asgi:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_config=_log_config(log_level.upper()),
        server_header=False,
    )

"""Entry point for uvicorn worker processes: the app from the environment ``cmvrx serve`` set."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI


def app_from_env() -> FastAPI:
    """``uvicorn --factory cmvrx.service.asgi:app_from_env`` (one app per worker)."""
    from cmvrx.service import create_app
    from cmvrx.service.settings import from_env

    return create_app(from_env())

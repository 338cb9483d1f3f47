"""Entry point for uvicorn worker processes: the app from the environment ``cmvrx serve`` set."""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI


def app_from_env() -> FastAPI:
    """``uvicorn --factory cmvrx.service.asgi:app_from_env`` (one app per worker).

    The knowledge is loaded before the first call, and what the process holds then (the
    knowledge, the app, the libraries) is moved out of the garbage collector's sight
    (``gc.freeze``): a full collection then walks only what requests create, so it
    never pauses a request for long."""
    from cmvrx import api
    from cmvrx.service import create_app
    from cmvrx.service.settings import from_env

    app = create_app(from_env())
    api.load_knowledge()
    gc.collect()
    gc.freeze()
    return app

"""The clinician's web page served by ``cmvrx serve`` under ``/web`` (docs/web.md).

Server-rendered pages (Jinja2) over ``cmvrx.api`` and the store: case entry and import,
the plan, courses with their chart and assessment, the knowledge browser. Sign-in is
required for every page (local accounts, OpenID Connect as an option); every form carries
a CSRF token; who viewed or changed which course is recorded in the store. No clinical
logic lives here: the page shows what the API returns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI


def install(app: FastAPI) -> None:
    """Mount the page's routes and static files on the service app."""
    from pathlib import Path

    from starlette.staticfiles import StaticFiles

    from cmvrx.web.routes import router, setup_state

    setup_state(app)
    app.include_router(router)
    static = Path(__file__).with_name("static")
    app.mount("/web/static", StaticFiles(directory=static), name="web-static")

"""cmvrx as a web service: CDS Hooks 2.0 for EHRs and a REST API, both behind JWT.

Imported only by ``cmvrx serve`` and by embedders (needs the ``service`` extra:
``pip install 'cmvrx[service]'``); ``import cmvrx`` never imports it. Start with
``create_app(Settings(...))`` or ``cmvrx serve``; see ``docs/service.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from cmvrx.service.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    """The ASGI application for ``settings`` (opens and migrates the store)."""
    from cmvrx.service.app import build

    return build(settings)

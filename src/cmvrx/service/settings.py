"""What one service process needs to know: its public URL, its clients, its database."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cmvrx.errors import InputError
from cmvrx.service.security import ClientRegistry, KeyResolver

ENV_PUBLIC_URL = "CMVRX_PUBLIC_URL"
ENV_CLIENTS = "CMVRX_CLIENTS_FILE"
ENV_DEV_NO_AUTH = "CMVRX_DEV_NO_AUTH"
ENV_DB_URL = "CMVRX_DB_URL"
ENV_NO_DIALYSIS = "CMVRX_NO_DIALYSIS_UNLESS_RECORDED"
ENV_OIDC = "CMVRX_OIDC_FILE"

DEV_NO_AUTH_WARNING = (
    "WARNING: cmvrx serve --dev-no-auth: authentication is OFF. Any caller can use this"
    " service. For development on a private machine only; never with patient data."
)


@dataclass(frozen=True)
class Settings:
    """``public_url`` is the base URL as the EHR sees it (discovery at
    ``{public_url}/cds-services``); every token's ``aud`` must be ``public_url`` + path."""

    public_url: str
    clients: ClientRegistry | None = None
    db_url: str | None = None
    dev_no_auth: bool = False
    keys: KeyResolver | None = None
    clock: Callable[[], float] = time.time
    #: opt-in: a record with no dialysis recorded is read as "no dialysis" (docs/fhir.md)
    no_dialysis_unless_recorded: bool = False
    #: an ``httpx`` transport for the calls to ``fhirServer`` (tests); None: the network
    fhir_transport: Any = None
    #: The web page's OpenID Connect configuration file (``--oidc``; docs/web.md).
    oidc_file: str | None = None
    #: How long a web sign-in lasts.
    web_session_hours: float = 12.0

    def __post_init__(self) -> None:
        parts = urlsplit(self.public_url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
            raise InputError(
                "must be an absolute http(s) URL without a query", field="--public-url"
            )
        object.__setattr__(self, "public_url", self.public_url.rstrip("/"))
        if self.clients is None and not self.dev_no_auth:
            raise InputError("a clients file is required (or --dev-no-auth)", field="--clients")

    def export_env(self, clients_file: str | None) -> dict[str, str]:
        """Environment for worker processes (``uvicorn --workers``) to rebuild these settings."""
        env = {ENV_PUBLIC_URL: self.public_url}
        if clients_file:
            env[ENV_CLIENTS] = clients_file
        if self.db_url:
            env[ENV_DB_URL] = self.db_url
        if self.dev_no_auth:
            env[ENV_DEV_NO_AUTH] = "1"
        if self.no_dialysis_unless_recorded:
            env[ENV_NO_DIALYSIS] = "1"
        if self.oidc_file:
            env[ENV_OIDC] = self.oidc_file
        return env


def from_env() -> Settings:
    """Settings from the environment ``export_env`` wrote (for uvicorn worker processes)."""
    clients_file = os.environ.get(ENV_CLIENTS)
    return Settings(
        public_url=os.environ.get(ENV_PUBLIC_URL, ""),
        clients=ClientRegistry.from_file(clients_file) if clients_file else None,
        db_url=os.environ.get(ENV_DB_URL),
        dev_no_auth=os.environ.get(ENV_DEV_NO_AUTH) == "1",
        no_dialysis_unless_recorded=os.environ.get(ENV_NO_DIALYSIS) == "1",
        oidc_file=os.environ.get(ENV_OIDC),
    )

"""A small FHIR R4 search client: fetch what the prefetch templates ask for from
``fhirServer`` with the EHR's bearer token.

The token is held only for the calls of one ``FhirClient`` and never logged, stored or
put in an error message (``repr`` hides it); the ``httpx``/``httpcore`` loggers, which
would print request URLs (patient ids), are raised to WARNING. Paging follows
``Bundle.link[next]`` only on the same server (the token never goes elsewhere).
``httpx`` is imported when a client is made (extra ``cmvrx[fhir]``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cmvrx.errors import CmvrxError

if TYPE_CHECKING:
    import httpx

_TOKEN = re.compile(r"\{\{\s*context\.(\w+)\s*\}\}")
MAX_PAGES = 20


class FhirServerError(CmvrxError):
    """The FHIR server could not be reached or refused a search (no detail that could
    identify the patient or the token)."""


def fill_template(template: str, context: Mapping[str, Any]) -> str:
    """Replace ``{{context.x}}`` tokens; a token the context does not carry is an error."""

    def value(found: re.Match[str]) -> str:
        got = context.get(found.group(1))
        if not isinstance(got, str) or not got:
            raise FhirServerError(
                f"prefetch token context.{found.group(1)} is not in the hook context"
            )
        return got

    filled = _TOKEN.sub(value, template)
    if "{{" in filled:
        raise FhirServerError("unsupported prefetch token in template")
    return filled


class FhirClient:
    """Searches one FHIR server with one bearer token (use as a context manager)."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        timeout: float = 5.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        try:
            import httpx
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise FhirServerError("the FHIR client needs httpx: pip install 'cmvrx[fhir]'") from exc
        for name in ("httpx", "httpcore"):
            logger = logging.getLogger(name)
            if logger.getEffectiveLevel() < logging.WARNING:
                logger.setLevel(logging.WARNING)
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise FhirServerError("fhirServer is not an http(s) URL")
        self.base = base_url.rstrip("/")
        headers = {"Accept": "application/fhir+json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            timeout=timeout, headers=headers, transport=transport, follow_redirects=False
        )

    def __repr__(self) -> str:
        return f"FhirClient({self.base!r}, token=<hidden>)"

    def __enter__(self) -> FhirClient:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def get(self, relative: str) -> dict[str, Any]:
        """One resource or one search, all pages merged into a single searchset Bundle."""
        url = (
            relative
            if relative.startswith(self.base + "/")
            else f"{self.base}/{relative.lstrip('/')}"
        )
        first = self._json(url)
        if first.get("resourceType") != "Bundle":
            return first
        entries = list(first.get("entry") or [])
        page, pages = first, 1
        while (nxt := _next_link(page)) is not None:
            if not nxt.startswith(self.base + "/") or pages >= MAX_PAGES:
                raise FhirServerError("search paging leaves the FHIR server or has too many pages")
            page = self._json(nxt)
            entries += page.get("entry") or []
            pages += 1
        return {"resourceType": "Bundle", "type": "searchset", "entry": entries}

    def prefetch(self, templates: Mapping[str, str], context: Mapping[str, Any]) -> dict[str, Any]:
        """Every template filled from ``context`` and fetched: a CDS Hooks prefetch dict."""
        return {key: self.get(fill_template(t, context)) for key, t in templates.items()}

    def _json(self, url: str) -> dict[str, Any]:
        import httpx

        try:
            response = self._http.get(url)
        except httpx.HTTPError as exc:
            raise FhirServerError(f"FHIR server unreachable ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise FhirServerError(f"FHIR server answered HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            raise FhirServerError("FHIR server answered something that is not JSON") from None
        if not isinstance(data, dict):
            raise FhirServerError("FHIR server answered JSON that is not a resource")
        return data


def _next_link(bundle: Mapping[str, Any]) -> str | None:
    for link in bundle.get("link") or ():
        if isinstance(link, Mapping) and link.get("relation") == "next":
            url = link.get("url")
            return url if isinstance(url, str) else None
    return None

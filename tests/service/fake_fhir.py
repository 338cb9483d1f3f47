"""An in-process fake FHIR R4 server for the service tests (an ``httpx.MockTransport``).

It answers ``Patient/{id}`` reads and ``{Type}?patient={id}[&code=s|c,…]`` searches from a
list of resources, honours the ``code`` filter (so a template that leaves a code out
loses that data, as a real server would), and records every request with its
``Authorization`` header. ``fail`` makes it answer every request with that status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx

BASE = "https://fhir.hospital.example/r4"


@dataclass
class FakeFhir:
    resources: list[dict[str, Any]]
    fail: int | None = None
    seen: list[tuple[str, str | None]] = field(default_factory=list)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((str(request.url), request.headers.get("authorization")))
        if self.fail is not None:
            return httpx.Response(self.fail, json={"resourceType": "OperationOutcome"})
        path = request.url.path.removeprefix(httpx.URL(BASE).path).strip("/")
        query = parse_qs(request.url.query.decode())
        kind, _, rid = path.partition("/")
        if rid:
            for r in self.resources:
                if r["resourceType"] == kind and r.get("id") == rid:
                    return httpx.Response(200, json=r)
            return httpx.Response(404, json={"resourceType": "OperationOutcome"})
        wanted = {c for v in query.get("code", []) for c in v.split(",")}
        patient = (query.get("patient") or [""])[0]
        hits = [
            r
            for r in self.resources
            if r["resourceType"] == kind
            and _subject(r) in (patient, None)
            and (not wanted or _codes(r) & wanted)
        ]
        bundle = {"resourceType": "Bundle", "type": "searchset", "total": len(hits),
                  "entry": [{"resource": r} for r in hits]}  # fmt: skip
        return httpx.Response(200, json=bundle)

    def paths(self) -> list[str]:
        return [httpx.URL(url).path.rsplit("/", 1)[-1] for url, _ in self.seen]


def _subject(resource: dict[str, Any]) -> str | None:
    ref = (resource.get("subject") or resource.get("patient") or {}).get("reference")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


def _codes(resource: dict[str, Any]) -> set[str]:
    coding = (resource.get("code") or {}).get("coding") or []
    return {f"{c.get('system')}|{c.get('code')}" for c in coding}

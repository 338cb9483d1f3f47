"""The FHIR search client against a stub FHIR server on 127.0.0.1: prefetch templates
filled and fetched, paging merged, the bearer token sent but never logged or shown,
errors that name neither the patient nor the token."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

pytest.importorskip("httpx", reason="httpx (extra 'fhir') is not installed")

from cmvrx.fhir import codes, inbound
from cmvrx.fhir.client import FhirClient, FhirServerError, fill_template

TOKEN = "secret-token-xyz"
PATIENT = "pat-7781"
SEEN: list[dict[str, Any]] = []


def _obs(rid: str, code: str, value: float, unit: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "subject": {"reference": f"Patient/{PATIENT}"},
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "effectiveDateTime": "2026-03-10T06:00:00Z",
        "valueQuantity": {"value": value, "code": unit},
    }


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *_: Any) -> None:  # keep the test output quiet
        return

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        SEEN.append(
            {
                "path": parts.path,
                "query": parse_qs(parts.query),
                "auth": self.headers.get("Authorization"),
            }
        )
        base = f"http://127.0.0.1:{self.server.server_address[1]}/fhir"
        body: Any
        if parts.path == f"/fhir/Patient/{PATIENT}":
            body = {
                "resourceType": "Patient",
                "id": PATIENT,
                "gender": "female",
                "birthDate": "1970-01-01",
            }
        elif parts.path == "/fhir/Observation" and "page" not in parts.query:
            body = {
                "resourceType": "Bundle",
                "type": "searchset",
                "link": [{"relation": "next", "url": f"{base}/Observation?page=2"}],
                "entry": [{"resource": _obs("w", "29463-7", 61, "kg")}],
            }
        elif parts.path == "/fhir/Observation":
            body = {
                "resourceType": "Bundle",
                "type": "searchset",
                "entry": [{"resource": _obs("c", "2160-0", 1.1, "mg/dL")}],
            }
        elif parts.path == "/fhir/evil":
            body = {
                "resourceType": "Bundle",
                "link": [{"relation": "next", "url": "http://elsewhere.example/steal"}],
            }
        elif parts.path == "/fhir/broken":
            self.send_response(500)
            self.end_headers()
            return
        else:
            body = {"resourceType": "Bundle", "type": "searchset", "entry": []}
        raw = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/fhir"
    httpd.shutdown()
    httpd.server_close()


def test_prefetch_fetches_every_template_with_the_token(
    server: str, caplog: pytest.LogCaptureFixture
) -> None:
    SEEN.clear()
    caplog.set_level(logging.DEBUG)
    with FhirClient(server, TOKEN) as client:
        data = client.prefetch(codes.prefetch_templates(), {"patientId": PATIENT})
        assert TOKEN not in repr(client)
    assert set(data) == set(codes.prefetch_templates())
    assert all(s["auth"] == f"Bearer {TOKEN}" for s in SEEN)
    obs = next(s for s in SEEN if s["path"] == "/fhir/Observation")
    listed = obs["query"]["code"][0].split(",")
    assert "http://loinc.org|2160-0" in listed and "http://loinc.org|14682-9" in listed
    assert len(data["observations"]["entry"]) == 2  # both pages merged
    for record in caplog.records:
        text = record.getMessage()
        assert TOKEN not in text and PATIENT not in text
    result = inbound.read(
        data, as_of=datetime(2026, 3, 10, 12, tzinfo=UTC), no_dialysis_unless_recorded=True
    )
    assert result.case_document["renal"]["serum_creatinine"]["value"] == 1.1
    assert result.case_document["patient"]["weight"]["value"] == 61


def test_paging_never_leaves_the_server(server: str) -> None:
    with FhirClient(server, TOKEN) as client, pytest.raises(FhirServerError) as info:
        client.get("evil")
    assert TOKEN not in str(info.value)


def test_errors_name_neither_patient_nor_token(server: str) -> None:
    with FhirClient(server, TOKEN) as client, pytest.raises(FhirServerError) as info:
        client.get(f"broken?patient={PATIENT}")
    assert (
        "500" in str(info.value) and PATIENT not in str(info.value) and TOKEN not in str(info.value)
    )
    with (
        FhirClient("http://127.0.0.1:9/fhir", TOKEN, timeout=0.5) as client,
        pytest.raises(FhirServerError) as info,
    ):
        client.get(f"Patient/{PATIENT}")
    assert PATIENT not in str(info.value) and TOKEN not in str(info.value)


def test_templates_need_their_context() -> None:
    assert fill_template("Patient/{{context.patientId}}", {"patientId": "1"}) == "Patient/1"
    with pytest.raises(FhirServerError):
        fill_template("Patient/{{context.patientId}}", {})
    with pytest.raises(FhirServerError):
        fill_template("Patient/{{userPractitionerId}}", {"patientId": "1"})
    with pytest.raises(FhirServerError):
        FhirClient("file:///etc", TOKEN)


def test_mapping_modules_do_not_import_httpx() -> None:
    import subprocess
    import sys

    code = (
        "import sys, cmvrx.fhir.inbound, cmvrx.fhir.outbound, cmvrx.fhir.codes, cmvrx.fhir.client;"
        "assert 'httpx' not in sys.modules, 'httpx imported eagerly'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)

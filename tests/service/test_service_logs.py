"""`cmvrx serve` for real (uvicorn on 127.0.0.1): a full run, then its logs are searched
for every patient identifier, name, JWT and access token it was given. None may appear.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import jwt
import pytest
from svc_support import SANDBOX_ISS, SANDBOX_JKU, SigningKey, golden, sign

PATIENT_ID = "PAT-7731-SECRET"
PATIENT_NAME = "Zebulon Quixote-Marchetti"
ACCESS_TOKEN = "opaque-fhir-access-token-5f1d2c9e"
COURSE_ID = "course-of-PAT-7731"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _FhirStub(BaseHTTPRequestHandler):
    """The EHR's FHIR server: every search empty; remembers the Authorization headers."""

    seen: ClassVar[list[str | None]] = []

    def log_message(self, *_: Any) -> None:
        return

    def do_GET(self) -> None:
        _FhirStub.seen.append(self.headers.get("Authorization"))
        raw = json.dumps({"resourceType": "Bundle", "type": "searchset"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


@pytest.fixture
def fhir_stub() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _FhirStub)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/fhir"
    httpd.shutdown()
    httpd.server_close()


@dataclass
class Server:
    base: str
    process: subprocess.Popen[bytes]
    log: Path
    key: SigningKey
    tokens: list[str]

    def token(self, path: str, **claims: Any) -> str:
        now = int(time.time())  # the real clock: this server reads it
        body = {"iss": SANDBOX_ISS, "aud": self.base + path, "iat": now, "exp": now + 300,
                "jti": str(uuid.uuid4()), **claims}  # fmt: skip
        token = sign(self.key, body, headers={"jku": SANDBOX_JKU})
        self.tokens.append(token)
        return token

    def call(self, method: str, path: str, body: Any = None, token: str | None = None) -> int:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        request.add_header("Authorization", f"Bearer {token or self.token(path)}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)


def _start(tmp_path: Path, args: list[str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "cmvrx", "serve", "--host", "127.0.0.1", "--port",
               str(port), "--public-url", base, *args]  # fmt: skip
    out = log.open("wb")
    process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"cmvrx serve exited {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2):
                return process, base
        except OSError:
            time.sleep(0.2)
    process.kill()
    pytest.fail(f"cmvrx serve did not start:\n{log.read_text()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def server(tmp_path: Path, keys: dict[str, SigningKey]) -> Iterator[Server]:
    clients = tmp_path / "clients.json"
    sandbox = {"iss": SANDBOX_ISS, "jwks": {"keys": [keys["sandbox"].public_jwk]}}
    clients.write_text(json.dumps({"clients": [sandbox]}))
    log = tmp_path / "serve.log"
    db = f"sqlite:///{tmp_path / 'service.sqlite'}"
    process, base = _start(
        tmp_path, ["--clients", str(clients), "--db", db, "--log-level", "debug"], log
    )
    started = Server(base=base, process=process, log=log, key=keys["sandbox"], tokens=[])
    try:
        yield started
    finally:
        if process.poll() is None:
            _stop(process)


def _full_run(server: Server, fhir_server: str) -> None:
    request = golden("spec-patient-view-request.json")
    request["context"]["patientId"] = PATIENT_ID
    request["fhirAuthorization"]["access_token"] = ACCESS_TOKEN
    request["fhirServer"] = fhir_server  # the keys not prefetched are fetched there
    request["prefetch"] = {
        "patient": {"resourceType": "Patient", "id": PATIENT_ID,
                    "name": [{"text": PATIENT_NAME}]},
        "observations": {"resourceType": "Bundle", "type": "searchset"},
        "conditions": {"resourceType": "Bundle", "type": "searchset"},
        "medications": {"resourceType": "Bundle", "type": "searchset"},
    }  # fmt: skip
    assert server.call("GET", "/cds-services") == 200
    _FhirStub.seen.clear()
    assert server.call("POST", "/cds-services/cmvrx-patient-view", request) == 200
    assert _FhirStub.seen and set(_FhirStub.seen) == {f"Bearer {ACCESS_TOKEN}"}
    sign_request = {"hook": "order-sign", "hookInstance": str(uuid.uuid4()),
                    **golden("library-order-sign-r4.json")}  # fmt: skip
    sign_request["context"]["patientId"] = PATIENT_ID
    assert server.call("POST", "/cds-services/cmvrx-order-sign", sign_request) == 412
    bad = {**request, "context": {"patientId": PATIENT_ID}}
    assert server.call("POST", "/cds-services/cmvrx-patient-view", bad) == 400
    feedback = {"feedback": [{"card": str(uuid.uuid4()), "outcome": "overridden",
                              "overrideReason": {"userComment": f"{PATIENT_NAME} refused"},
                              "outcomeTimestamp": "2026-12-03T10:00:00Z"}]}  # fmt: skip
    assert server.call("POST", "/cds-services/cmvrx-patient-view/feedback", feedback) == 200
    case = golden("../../../examples/sot-colitis-hemodialysis.json")
    case["case_id"] = PATIENT_ID
    assert server.call("POST", "/api/v1/plan", {"case": case}) == 200
    broken = {**case, "patient": {**case["patient"], "weight": {"value": -1, "unit": "kg"}}}
    assert server.call("POST", "/api/v1/plan", {"case": broken}) == 422
    assert server.call("POST", "/api/v1/courses", {"course_id": COURSE_ID, "baseline": case}) == 201
    note = {"kind": "note", "at": "2026-12-03T09:00:00Z", "text": f"seen {PATIENT_NAME}"}
    assert server.call("POST", f"/api/v1/courses/{COURSE_ID}/events", {"events": [note]}) == 200
    assert server.call("POST", f"/api/v1/courses/{COURSE_ID}/assessments", {}) == 200
    assert server.call("POST", f"/api/v1/courses/{PATIENT_ID}/assessments", {}) == 404
    replayed = server.tokens[0]
    assert server.call("GET", "/cds-services", token=replayed) == 401
    forged = jwt.encode({"iss": SANDBOX_ISS, "sub": PATIENT_ID}, "k" * 48, algorithm="HS384")
    server.tokens.append(forged)
    assert server.call("GET", "/cds-services", token=forged) == 401


def test_no_patient_identifier_name_jwt_or_access_token_in_any_log_line(
    server: Server, fhir_stub: str
) -> None:
    _full_run(server, fhir_stub)
    _stop(server.process)
    log = server.log.read_text(encoding="utf-8", errors="replace")
    assert "POST /api/v1/plan 200" in log  # the access log is on, and it is ours
    assert "POST /cds-services/{service_id} 412" in log
    secrets = [PATIENT_ID, PATIENT_NAME, ACCESS_TOKEN, COURSE_ID, "Zebulon", "Quixote"]
    for token in server.tokens:
        secrets += [token, *token.split(".")]
    leaked = [s for s in secrets if s in log]
    assert not leaked, f"in the log: {leaked[:3]}"


def test_dev_no_auth_warns_on_every_start(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'dev.sqlite'}"
    for run in range(2):
        log = tmp_path / f"dev-{run}.log"
        process, base = _start(tmp_path, ["--dev-no-auth", "--db", db], log)
        with urllib.request.urlopen(base + "/cds-services", timeout=10) as response:
            assert response.status == 200  # no token needed in this mode
        _stop(process)
        assert "authentication is OFF" in log.read_text()


def test_serve_without_clients_or_dev_flag_is_an_input_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cmvrx", "serve", "--public-url", "https://x.example"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False,
        env={**os.environ, "CMVRX_DEBUG": ""},
    )  # fmt: skip
    assert done.returncode == 2
    assert "--clients" in done.stderr
    assert "Traceback" not in done.stderr

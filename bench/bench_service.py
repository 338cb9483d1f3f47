"""Benchmark: the service under load, JWT on, from concurrent clients on 127.0.0.1.

Starts ``cmvrx serve`` (uvicorn, ``--workers N``) with a throw-away store and a client
key generated here, then drives one endpoint from ``--clients`` concurrent connections
for a fixed ``--seconds``; every request carries a fresh ES384 token (own ``jti``, so
each one also goes through the replay cache). Prints p50/p99 latency, errors and
requests/s. It never fails on a figure: benchmarks inform, tests assert behaviour.

    python bench/bench_service.py                                  # plan, 32 clients, 10 s
    python bench/bench_service.py --endpoint discovery --workers 2 --seconds 5
    python bench/bench_service.py --db postgresql+psycopg://user@host/db
    python bench/bench_service.py --endpoint order-sign --workers 1 --seconds 20

``order-sign`` posts a CDS Hooks call whose prefetch holds ~50 FHIR resources (the
record of ``tests/fhir/cases/01_complete_retinitis_hiv.yaml`` dated to today, with two
weeks of daily creatinine and blood counts) and a draft ganciclovir order that is too
high (a warning card with a suggestion: the longest path).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import httpx
import jwt
import yaml
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

ROOT = Path(__file__).resolve().parents[1]
CASE = ROOT / "examples" / "cns-encephalitis-hiv.yaml"
RECORD = ROOT / "tests" / "fhir" / "cases" / "01_complete_retinitis_hiv.yaml"
ISS = "https://bench-client.example"
KID = "bench-1"
TARGET_P99_MS = 25.0  # issue 9 target on the 2-core machine (the spec asks for ~500 ms)


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(
    workdir: Path, args: argparse.Namespace, key: Any
) -> tuple[subprocess.Popen[bytes], str]:
    public = json.loads(ECAlgorithm.to_jwk(key.public_key()))
    clients = workdir / "clients.json"
    jwk = {**public, "kid": KID, "alg": "ES384", "use": "sig"}
    clients.write_text(json.dumps({"clients": [{"iss": ISS, "jwks": {"keys": [jwk]}}]}))
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    db = args.db or f"sqlite:///{workdir / 'bench.sqlite'}"
    command = [sys.executable, "-m", "cmvrx", "serve", "--host", "127.0.0.1", "--port", str(port),
               "--public-url", base, "--clients", str(clients), "--db", db,
               "--workers", str(args.workers), "--log-level", "warning",
               *args.serve_args.split()]  # fmt: skip
    if args.endpoint == "order-sign":  # the record states no dialysis: the opt-in reads it so
        command.append("--no-dialysis-unless-recorded")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(
                f"cmvrx serve exited: {process.stderr.read().decode() if process.stderr else ''}"
            )
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2):
                return process, base
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("cmvrx serve did not start within 60 s")


def _shift(value: Any, delta: Any) -> Any:
    """Every ISO date-time string in ``value`` moved by ``delta``."""
    from datetime import datetime

    if isinstance(value, dict):
        return {k: _shift(v, delta) for k, v in value.items()}
    if isinstance(value, list):
        return [_shift(v, delta) for v in value]
    if isinstance(value, str) and len(value) >= 20 and value[4] == "-" and value[10] == "T":
        return (datetime.fromisoformat(value.replace("Z", "+00:00")) + delta).isoformat()
    return value


def _lab(rid: str, code: str, at: Any, value: float, unit: str) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": rid, "status": "final",
            "subject": {"reference": "Patient/p1"},
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "effectiveDateTime": at.isoformat(), "valueQuantity": {"value": value, "code": unit}}  # fmt: skip


def order_sign_body() -> dict[str, Any]:
    """A CDS Hooks order-sign call with a ~50-resource prefetch, dated to now."""
    from datetime import UTC, datetime, timedelta

    case = yaml.safe_load(RECORD.read_text(encoding="utf-8"))
    now = datetime.now(UTC)
    record = _shift(case["resources"], now - datetime.fromisoformat(case["as_of"]))
    draft = next(r for r in record if r["resourceType"] == "MedicationRequest")
    draft["dosageInstruction"][0]["doseAndRate"] = [{"doseQuantity": {"value": 500, "code": "mg"}}]
    rest = [r for r in record if r["resourceType"] not in ("MedicationRequest", "Encounter")]
    history = []
    for day in range(2, 9):  # a week of daily labs before today's
        at = now - timedelta(days=day, hours=6)
        history += [_lab(f"scr-{day}", "2160-0", at, 1.0 + day / 100, "mg/dL"),
                    _lab(f"anc-{day}", "751-8", at, 2.0, "10*3/uL"),
                    _lab(f"plt-{day}", "777-3", at, 160, "10*9/L"),
                    _lab(f"hb-{day}", "718-7", at, 11.0, "g/dL")]  # fmt: skip
    observations = [r for r in rest if r["resourceType"] == "Observation"] + history
    by_type = {t: [r for r in rest if r["resourceType"] == t]
               for t in ("Condition", "MedicationStatement", "MedicationAdministration",
                         "AllergyIntolerance")}  # fmt: skip

    def bundle(items: list[dict[str, Any]]) -> dict[str, Any]:
        return {"resourceType": "Bundle", "type": "searchset",
                "entry": [{"resource": r} for r in items]}  # fmt: skip

    prefetch = {
        "patient": next(r for r in rest if r["resourceType"] == "Patient"),
        "observations": bundle(observations),
        "conditions": bundle(by_type["Condition"]),
        "procedures": bundle([]),
        "medications": bundle([]),
        "medicationAdministrations": bundle(by_type["MedicationAdministration"]),
        "medicationStatements": bundle(by_type["MedicationStatement"]),
        "allergies": bundle(by_type["AllergyIntolerance"]),
    }
    return {
        "hook": "order-sign",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/bench", "patientId": "p1",
                    "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": draft}]}},
        "prefetch": prefetch,
    }  # fmt: skip


def count_resources(body: dict[str, Any]) -> int:
    values = body["prefetch"].values()
    return sum(len(v.get("entry", [])) if v.get("resourceType") == "Bundle" else 1 for v in values)


def _request(endpoint: str) -> tuple[str, str, bytes | None]:
    if endpoint == "discovery":
        return "GET", "/cds-services", None
    if endpoint == "order-sign":
        body = order_sign_body()
        return "POST", "/cds-services/cmvrx-order-sign", json.dumps(body).encode()
    case = yaml.safe_load(CASE.read_text(encoding="utf-8"))
    body = {"case": case, "as_of": "2026-11-24T08:00:00Z"}
    return "POST", "/api/v1/plan", json.dumps(body).encode()


def server_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of the server process and its worker processes, from
    /proc (Linux); a figure the load of other processes on the machine does not inflate
    much, unlike wall-clock latency. NaN where /proc is not there."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    try:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(entry.name) == pid or int(fields[1]) == pid:  # fields[1]: the parent pid
                total += (int(fields[11]) + int(fields[12])) / tick
    except OSError:
        return float("nan")
    return total


def _first_card(base: str, key: Any, endpoint: str) -> str:
    """What one call answers (the bench measures a real answer, not an error)."""
    method, path, body = _request(endpoint)
    headers = {"Authorization": f"Bearer {_token(key, base + path)}",
               "Content-Type": "application/json"}  # fmt: skip
    response = httpx.request(method, base + path, content=body, headers=headers, timeout=30)
    if response.status_code != 200:
        raise SystemExit(f"first call answered {response.status_code}: {response.text[:300]}")
    cards = response.json().get("cards") if endpoint == "order-sign" else None
    if not cards:
        return "answer 200"
    return f"answer: {cards[0]['indicator']} card '{cards[0]['summary'][:60]}'"


def _token(key: Any, audience: str) -> str:
    now = int(time.time())
    claims = {"iss": ISS, "aud": audience, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())}
    return jwt.encode(claims, key, algorithm="ES384", headers={"kid": KID, "typ": "JWT"})


async def _client(
    http: httpx.AsyncClient, key: Any, base: str, request: tuple[str, str, bytes | None],
    stop_at: float, latencies: list[float], errors: list[int | str], tokens: list[str],
) -> None:  # fmt: skip
    method, path, body = request
    audience = base + path
    while time.perf_counter() < stop_at:
        token = tokens.pop() if tokens else _token(key, audience)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        started = time.perf_counter()
        try:
            response = await http.request(method, path, content=body, headers=headers)
            status: int | str = response.status_code
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        latencies.append((time.perf_counter() - started) * 1000)
        if status != 200:
            errors.append(status)


async def _drive(
    base: str, key: Any, args: argparse.Namespace, pid: int
) -> tuple[list[float], list[int | str], float, float]:
    request = _request(args.endpoint)
    # Tokens signed before the measured window, so the clients' signing does not compete
    # with the server for the CPU (more are signed on the fly if these run out).
    tokens = [_token(key, base + request[1]) for _ in range(args.presign)]
    latencies: list[float] = []
    errors: list[int | str] = []
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as http:
        # Warm-up (imports, first plan, connection setup), not measured.
        await asyncio.gather(
            *(_client(http, key, base, request, time.perf_counter() + 1.0, [], [], tokens)
              for _ in range(args.clients))
        )  # fmt: skip
        cpu_before = server_cpu_seconds(pid)
        started = time.perf_counter()
        stop_at = started + args.seconds
        await asyncio.gather(
            *(_client(http, key, base, request, stop_at, latencies, errors, tokens)
              for _ in range(args.clients))
        )  # fmt: skip
        elapsed = time.perf_counter() - started
        cpu_used = server_cpu_seconds(pid) - cpu_before
    return latencies, errors, elapsed, cpu_used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", choices=["plan", "discovery", "order-sign"], default="plan")
    parser.add_argument("--clients", type=int, default=32, help="concurrent connections")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured duration")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--presign", type=int, default=4000, help="tokens signed in advance")
    parser.add_argument("--db", help="store URL (default: a throw-away SQLite file)")
    parser.add_argument(
        "--serve-args",
        default="",
        help="extra cmvrx serve options (e.g. --no-dialysis-unless-recorded)",
    )
    args = parser.parse_args()
    if not 0 < args.seconds <= 120 or not 0 < args.clients <= 256:
        raise SystemExit("--seconds must be in (0, 120] and --clients in (0, 256]")
    key = ec.generate_private_key(ec.SECP384R1())
    with tempfile.TemporaryDirectory(prefix="cmvrx-bench-") as workdir:
        process, base = _start(Path(workdir), args, key)
        try:
            first_card = _first_card(base, key, args.endpoint)
            latencies, errors, elapsed, cpu_used = asyncio.run(_drive(base, key, args, process.pid))
        finally:
            process.terminate()
            process.wait(timeout=30)
    latencies.sort()
    count = len(latencies)
    print(f"cmvrx service bench: {args.endpoint}, {args.clients} clients, {args.workers} worker(s),"
          f" {args.seconds:g} s, JWT on (ES384, fresh jti per request)")  # fmt: skip
    if args.endpoint == "order-sign":
        print(f"  prefetch   {count_resources(order_sign_body())} FHIR resources; {first_card}")
    load = os.getloadavg()
    print(
        f"  load avg   {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1/5/15 min; {os.cpu_count()} CPUs)"
    )
    if not count:
        print("no request completed")
        return
    p99 = percentile(latencies, 0.99)
    print(f"  requests   {count}  ({count / elapsed:.0f} req/s)")
    print(f"  server CPU {cpu_used * 1000 / count:.1f} ms per request (user+system, all workers)")
    print(
        f"  errors     {len(errors)}" + (f"  ({sorted(set(map(str, errors)))})" if errors else "")
    )
    print(f"  latency    p50 {percentile(latencies, 0.50):.1f} ms   p99 {p99:.1f} ms"
          f"   max {latencies[-1]:.1f} ms   (target p99 <= {TARGET_P99_MS:g} ms)")  # fmt: skip


if __name__ == "__main__":
    main()

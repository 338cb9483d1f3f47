"""Benchmark: the service under load, JWT on, from concurrent clients on 127.0.0.1.

Starts ``cmvrx serve`` (uvicorn, ``--workers N``) with a throw-away store and a client
key generated here, then drives one endpoint from ``--clients`` concurrent connections
for a fixed ``--seconds``; every request carries a fresh ES384 token (own ``jti``, so
each one also goes through the replay cache). Prints p50/p99 latency, errors and
requests/s. It never fails on a figure: benchmarks inform, tests assert behaviour.

    python bench/bench_service.py                                  # plan, 32 clients, 10 s
    python bench/bench_service.py --endpoint discovery --workers 2 --seconds 5
    python bench/bench_service.py --db postgresql+psycopg://user@host/db
"""

from __future__ import annotations

import argparse
import asyncio
import json
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
               "--workers", str(args.workers), "--log-level", "warning"]  # fmt: skip
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


def _request(endpoint: str) -> tuple[str, str, bytes | None]:
    if endpoint == "discovery":
        return "GET", "/cds-services", None
    case = yaml.safe_load(CASE.read_text(encoding="utf-8"))
    body = {"case": case, "as_of": "2026-11-24T08:00:00Z"}
    return "POST", "/api/v1/plan", json.dumps(body).encode()


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
    base: str, key: Any, args: argparse.Namespace
) -> tuple[list[float], list[int | str], float]:
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
        started = time.perf_counter()
        stop_at = started + args.seconds
        await asyncio.gather(
            *(_client(http, key, base, request, stop_at, latencies, errors, tokens)
              for _ in range(args.clients))
        )  # fmt: skip
        elapsed = time.perf_counter() - started
    return latencies, errors, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", choices=["plan", "discovery"], default="plan")
    parser.add_argument("--clients", type=int, default=32, help="concurrent connections")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured duration")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--presign", type=int, default=4000, help="tokens signed in advance")
    parser.add_argument("--db", help="store URL (default: a throw-away SQLite file)")
    args = parser.parse_args()
    if not 0 < args.seconds <= 120 or not 0 < args.clients <= 256:
        raise SystemExit("--seconds must be in (0, 120] and --clients in (0, 256]")
    key = ec.generate_private_key(ec.SECP384R1())
    with tempfile.TemporaryDirectory(prefix="cmvrx-bench-") as workdir:
        process, base = _start(Path(workdir), args, key)
        try:
            latencies, errors, elapsed = asyncio.run(_drive(base, key, args))
        finally:
            process.terminate()
            process.wait(timeout=30)
    latencies.sort()
    count = len(latencies)
    print(f"cmvrx service bench: {args.endpoint}, {args.clients} clients, {args.workers} worker(s),"
          f" {args.seconds:g} s, JWT on (ES384, fresh jti per request)")  # fmt: skip
    if not count:
        print("no request completed")
        return
    p99 = percentile(latencies, 0.99)
    print(f"  requests   {count}  ({count / elapsed:.0f} req/s)")
    print(
        f"  errors     {len(errors)}" + (f"  ({sorted(set(map(str, errors)))})" if errors else "")
    )
    print(f"  latency    p50 {percentile(latencies, 0.50):.1f} ms   p99 {p99:.1f} ms"
          f"   max {latencies[-1]:.1f} ms   (target p99 <= {TARGET_P99_MS:g} ms)")  # fmt: skip


if __name__ == "__main__":
    main()

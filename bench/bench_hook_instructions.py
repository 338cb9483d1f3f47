"""Benchmark: CPU instructions per ``order-sign`` hook call in one process, counted by
valgrind's callgrind — the steady figure behind ``bench_service.py``'s wall-clock one.

The call is the one ``bench_service.py --endpoint order-sign`` sends (a 52-resource
prefetch, a too-high ganciclovir draft: mapping, order check, a warning card with an
update suggestion), JWT on (``--alg``), a fresh ``jti`` per call into a SQLite replay
cache. ``--what`` picks what is counted:

* ``hook``: the whole call through the ASGI app (the hook fast lane, the JWT check, the
  replay-cache write, the cards, the JSON answer) — everything but the HTTP parsing of
  uvicorn and the socket;
* ``auth``: the JWT check with its replay-cache write (``TokenVerifier.verify``);
* ``map``: the FHIR mapping of the order-sign lean path (``inbound.read(...,
  events=False, newest_only=True)``);
* ``check``: ``cmvrx.check_order`` on the mapped case and draft;
* ``cards``: ``order_sign_cards`` (mapping + check + cards, no HTTP, no JWT).

Each figure is (instructions of a run with ``--calls`` warm calls − those of a run with
none) ÷ ``--calls``; the program starts without instrumentation (valgrind
``--instr-atstart=no``) and turns it on (``callgrind_control -i on``) after start-up and
a warm-up, so a run takes seconds, not minutes. Needs valgrind (Debian package
``valgrind``); prints a note and exits 0 without it. Never fails on a figure.

    python bench/bench_hook_instructions.py                 # hook, RS384, 200 calls
    python bench/bench_hook_instructions.py --what all --alg ES384
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import callgrind

HERE = Path(__file__).resolve().parent
WHATS = ("hook", "auth", "map", "check", "cards")
PATH = "/cds-services/cmvrx-order-sign"
BASE = "http://127.0.0.1:9"


def _app(alg: str, workdir: str) -> tuple[Any, Any]:
    """The service app as a ``cmvrx serve`` worker builds it (``asgi.app_from_env``: JWT
    on, the knowledge loaded, ``gc.freeze``), a SQLite store in ``workdir``; and the
    client's private key."""
    sys.path.insert(0, str(HERE))
    import bench_service as bench
    from jwt.algorithms import ECAlgorithm, RSAAlgorithm

    from cmvrx.service import settings
    from cmvrx.service.asgi import app_from_env

    key = bench._new_key(alg)
    algorithm: Any = RSAAlgorithm if alg == "RS384" else ECAlgorithm
    public = json.loads(algorithm.to_jwk(key.public_key()))
    jwk = {**public, "kid": bench.KID, "alg": alg, "use": "sig"}
    clients = Path(workdir) / "clients.json"
    clients.write_text(json.dumps({"clients": [{"iss": bench.ISS, "jwks": {"keys": [jwk]}}]}))
    os.environ.update({
        settings.ENV_PUBLIC_URL: BASE, settings.ENV_CLIENTS: str(clients),
        settings.ENV_DB_URL: f"sqlite:///{workdir}/bench.sqlite", settings.ENV_NO_DIALYSIS: "1",
    })  # fmt: skip
    return app_from_env(), key


def _asgi_call(app: Any, body: bytes, token: str) -> list[dict[str, Any]]:
    """One POST through the ASGI app; the messages it sent."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": PATH, "raw_path": PATH.encode(), "root_path": "",
        "query_string": b"", "server": ("127.0.0.1", 9), "client": ("127.0.0.1", 5),
        "headers": [(b"host", b"127.0.0.1:9"), (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"authorization", b"Bearer " + token.encode())],
    }  # fmt: skip
    sent: list[dict[str, Any]] = []
    given = False

    async def receive() -> dict[str, Any]:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def run() -> None:
        await app(scope, receive, send)

    asyncio.get_event_loop().run_until_complete(run())
    return sent


def _calls(what: str, alg: str, count: int, workdir: str) -> Callable[[], object]:
    """A function doing one call of ``what`` (each call with its own fresh token)."""
    import bench_service as bench

    import cmvrx
    from cmvrx import api
    from cmvrx.fhir import inbound
    from cmvrx.service.cdshooks.order_sign import order_sign_cards

    app, key = _app(alg, workdir)
    api.load_knowledge()
    document = bench.order_sign_body()
    body = json.dumps(document).encode()
    tokens = [bench._token(key, alg, BASE + PATH) for _ in range(count)]
    now = datetime.now(UTC)
    prefetch = document["prefetch"]
    drafts = document["context"]["draftOrders"]
    resources = [v for v in prefetch.values() if isinstance(v, dict)]

    def mapped() -> Any:
        return inbound.read(
            [*resources, drafts], as_of=now, no_dialysis_unless_recorded=True,
            events=False, newest_only=True,
        )  # fmt: skip

    asyncio.set_event_loop(asyncio.new_event_loop())
    if what == "hook":
        return lambda: _asgi_call(app, body, tokens.pop())
    if what == "auth":
        verifier = app.state.verifier
        return lambda: verifier.verify("Bearer " + tokens.pop(), BASE + PATH)
    if what == "map":
        return mapped
    if what == "check":
        result = mapped()
        orders = [cmvrx.parse_order(d) for d in result.orders]
        return lambda: cmvrx.check_order(result.case, orders, as_of=now)
    return lambda: order_sign_cards(prefetch, drafts, as_of=now, no_dialysis_unless_recorded=True)


def child(what: str, alg: str, calls: int, instrument: bool) -> None:
    """The program valgrind runs: start, warm up, turn instrumentation on, ``calls`` calls."""
    warm = 30
    with tempfile.TemporaryDirectory() as workdir:
        call = _calls(what, alg, warm + calls, workdir)
        for _ in range(warm):
            call()
        if instrument:
            subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], check=True,
                           capture_output=True)  # fmt: skip
            time.sleep(0.3)  # callgrind takes the command at its next check
        for _ in range(calls):
            call()


def instructions(what: str, alg: str, calls: int, out: Path) -> int:
    program = [sys.executable, __file__, "--child", "--what", what, "--alg", alg,
               "--calls", str(calls)]  # fmt: skip
    return callgrind.instructions(program, out, "--instr-atstart=no")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--what", choices=(*WHATS, "all"), default="hook")
    parser.add_argument("--alg", choices=("RS384", "ES384"), default="RS384")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--time", action="store_true",
                        help="no valgrind: CPU time per call in this process (noisy)")  # fmt: skip
    args = parser.parse_args()
    whats = WHATS if args.what == "all" else (args.what,)
    if args.child:
        child(args.what, args.alg, args.calls, instrument=True)
        return
    if args.time:
        for what in whats:
            with tempfile.TemporaryDirectory() as workdir:
                call = _calls(what, args.alg, args.calls + 30, workdir)
                for _ in range(30):
                    call()
                started = time.process_time()
                for _ in range(args.calls):
                    call()
                per_call = (time.process_time() - started) / args.calls
            print(f"{what:6s} {per_call * 1e3:7.3f} ms CPU/call (process time; noisy)")
        return
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("valgrind is not installed (Debian package valgrind): no instruction counts")
        return
    print(f"order-sign, {args.alg}, {args.calls} warm calls; instructions per call (callgrind)")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        for what in whats:
            base = instructions(what, args.alg, 0, out)
            total = instructions(what, args.alg, args.calls, out)
            print(f"{what:6s} {(total - base) / args.calls / 1e6:7.3f} M instructions/call")


if __name__ == "__main__":
    main()

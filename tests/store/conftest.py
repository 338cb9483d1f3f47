"""Fixtures for the course-store tests: a real SQLite file and a real PostgreSQL server.

The PostgreSQL server is a throw-away cluster (initdb + pg_ctl) in a temporary
directory on a free port, started once per test session and stopped at the end. As
root it runs as the ``postgres`` user (PostgreSQL refuses root). Without PostgreSQL
binaries the PostgreSQL tests are skipped with the reason, except under ``CI`` where
they fail: CI must install PostgreSQL (``.ci/run``: apt-get install -y postgresql).
"""

from __future__ import annotations

import copy
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cmvrx.model.patient import Case
from cmvrx.store import CourseStore, open_store

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]

BASELINE: dict[str, Any] = {
    "case_id": "store-test-cns",
    "patient": {"age": {"value": 42, "unit": "a"}, "sex": "male",
                "weight": {"value": 64, "unit": "kg"}},
    "renal": {"serum_creatinine": {"value": 97, "unit": "umol/L",
                                   "measured_at": "2026-11-24T06:00:00Z"},
              "dialysis": "none"},
    "disease": {"sites": ["encephalitis"]},
    "hiv": {"status": "positive", "on_art": False,
            "cd4": {"value": 22, "unit": "cells/uL", "measured_at": "2026-11-20T09:00:00Z"}},
}  # fmt: skip

#: One event of every kind, deliberately NOT in clinical order.
EVERY_KIND: list[dict[str, Any]] = [
    {"kind": "plan_started", "at": "2026-11-24T10:00:00Z", "regimen_id": "cns_combination",
     "orders": [{"drug": "ganciclovir", "dose_mg": 320, "interval": "q12h", "route": "IV"},
                {"drug": "foscarnet", "dose_mg": 5760, "interval": "q12h", "route": "IV"}]},
    {"kind": "cmv_pcr", "at": "2026-11-24T06:00:00Z", "result": "detected", "value": 125000,
     "lower_limit": 35, "specimen": "csf"},
    {"kind": "dose_given", "at": "2026-11-24T10:30:00Z", "drug": "ganciclovir", "dose_mg": 320},
    {"kind": "dose_held", "at": "2026-11-26T22:00:00Z", "drug": "foscarnet",
     "reason": "creatinine rising, awaiting repeat"},
    {"kind": "lab", "at": "2026-11-26T06:00:00+01:00", "analyte": "creatinine", "value": 1.6,
     "unit": "mg/dL"},
    {"kind": "lab", "at": "2026-11-27T06:00:00Z", "analyte": "urine_protein",
     "dipstick": "1+"},
    {"kind": "weight", "at": "2026-11-25T07:00:00Z", "value": 63.2, "unit": "kg"},
    {"kind": "dialysis_changed", "at": "2026-11-28T12:00:00Z", "dialysis": "crrt"},
    {"kind": "clinical_status", "at": "2026-11-27T09:00:00Z", "status": "improving",
     "can_take_oral": True, "can_absorb_oral": True},
    {"kind": "regimen_changed", "at": "2026-11-28T14:00:00Z", "phase": "induction",
     "orders": [{"drug": "ganciclovir", "dose_mg": 160, "interval": "q24h"}],
     "reason": "CrCl fell into the next band"},
    {"kind": "cmv_pcr", "at": "2026-12-01T06:00:00Z", "result": "not_detected",
     "lower_limit": 35},
    {"kind": "note", "at": "2026-11-24T09:00:00Z", "text": "Neurology consulted."},
    {"kind": "measurement_confirmed", "at": "2026-11-25T08:00:00Z", "ref_seq": 7},
    {"kind": "entered_in_error", "at": "2026-11-25T09:00:00Z", "ref_seq": 12,
     "reason": "note written in the wrong course"},
]  # fmt: skip


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"

    def create_database(self) -> str:
        """A fresh, empty database; its SQLAlchemy URL."""
        import psycopg

        name = f"cmvrx_{uuid.uuid4().hex[:12]}"
        dsn = f"host={self.host} port={self.port} user={self.user} dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _pg_bindir() -> Path | None:
    explicit = os.environ.get("CMVRX_PG_BIN")
    if explicit:  # an explicit choice is final: no fallback to another installation
        return Path(explicit) if (Path(explicit) / "pg_ctl").exists() else None
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    for bindir in reversed(versions):
        if (bindir / "pg_ctl").exists():
            return bindir
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _run(cmd: list[str]) -> None:
    done = subprocess.run(_as_server_user(cmd), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
        )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bindir = _pg_bindir()
    if bindir is None:
        reason = (
            "no PostgreSQL binaries (pg_ctl not under /usr/lib/postgresql/*/bin nor on PATH;"
            " set CMVRX_PG_BIN or apt-get install -y postgresql)"
        )
        if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
            pytest.fail(f"CI is set and PostgreSQL is required: {reason}")
        pytest.skip(reason)
    # Directly under /tmp: pytest's own tmp dirs are private to root (mode 700).
    root = Path(tempfile.mkdtemp(prefix="cmvrx-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, user="postgres", group="postgres")
    port = _free_port()
    try:
        _run([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
              "--no-sync", "-E", "UTF8"])  # fmt: skip
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
        _run([str(bindir / "pg_ctl"), "-D", str(data), "-o", options,
              "-l", str(root / "server.log"), "-w", "start"])  # fmt: skip
    except (RuntimeError, OSError):
        log = root / "server.log"
        detail = log.read_text(errors="replace") if log.exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"could not start the test PostgreSQL server:\n{detail}")
    try:
        yield PostgresServer(host="127.0.0.1", port=port, user="postgres")
    finally:
        subprocess.run(
            _as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
            capture_output=True,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A fresh, empty database of the backend under test (not yet opened)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'courses.sqlite'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database()


@pytest.fixture
def baseline() -> Case:
    return Case.model_validate(BASELINE)


@pytest.fixture
def store(store_url: str) -> Iterator[CourseStore]:
    opened = open_store(store_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def every_kind() -> list[dict[str, Any]]:
    """One event of every kind (a fresh copy), not in clinical order."""
    return copy.deepcopy(EVERY_KIND)

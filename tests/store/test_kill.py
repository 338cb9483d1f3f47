"""Kill a writer mid-run: no acknowledged event is lost, no half-written event exists."""

from __future__ import annotations

import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cmvrx.model.course import Note
from cmvrx.model.patient import Case
from cmvrx.store import open_store

WRITER = Path(__file__).with_name("kill_writer.py")
#: Acknowledgements to wait for before the kill: enough that the writer is mid-run.
ACKS_BEFORE_KILL = 40
#: Guard against a hung writer (never an assertion about speed).
HANG_GUARD_S = 90.0
ROUNDS = 3


def _read_acks(proc: subprocess.Popen[str], wanted: int) -> list[int]:
    assert proc.stdout is not None
    acked: list[int] = []
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + HANG_GUARD_S
    while len(acked) < wanted:
        if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
            pytest.fail(f"the writer hung after {len(acked)} acknowledgements")
        line = proc.stdout.readline()
        if not line:
            stderr = proc.stderr.read() if proc.stderr else ""
            pytest.fail(f"the writer died on its own after {len(acked)} acks:\n{stderr}")
        acked.append(int(line))
    return acked


@pytest.mark.slow
@pytest.mark.parametrize("batch_size", [1, 3])
def test_killing_a_writer_loses_no_acknowledged_event(
    store_url: str, baseline: Case, batch_size: int
) -> None:
    setup = open_store(store_url)
    setup.create_course("killed", baseline)
    setup.close()
    acked_total = 0
    for _round in range(ROUNDS):  # each writer resumes after the previous one's last event
        acked = _kill_a_writer(store_url, batch_size)
        reopened = open_store(store_url)
        try:
            course = reopened.get_course("killed")  # every payload re-validated on read
            _check_sqlite_integrity(store_url)
        finally:
            reopened.close()
        stored = len(course.events)
        seen = f"round {_round}: acknowledged {acked[0]}…{acked[-1]}, stored {stored}"
        assert acked == list(range(acked_total + 1, acked_total + len(acked) + 1))
        assert stored >= acked[-1], f"an acknowledged event was lost ({seen})"
        # At most the batch in flight committed without being acknowledged, and whole.
        assert stored - acked[-1] in (0, batch_size), seen
        assert stored % batch_size == 0, f"a batch was half-written ({seen})"
        assert all(isinstance(e, Note) for e in course.events)
        assert [e.text for e in course.events if isinstance(e, Note)] == [
            f"event {n}" for n in range(1, stored + 1)
        ]
        acked_total = stored


def _kill_a_writer(store_url: str, batch_size: int) -> list[int]:
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), store_url, "killed", str(batch_size)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        acked = _read_acks(proc, ACKS_BEFORE_KILL)
        proc.send_signal(signal.SIGKILL)  # mid-run: it is writing its next batch
        proc.wait()
        acked += [int(line) for line in proc.stdout.read().split()] if proc.stdout else []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return acked


def _check_sqlite_integrity(url: str) -> None:
    if not url.startswith("sqlite:///"):
        return
    import sqlite3

    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        conn.close()

"""Issue 6: 4 writers × 200 events on one course, through the library, in 4 processes:
nothing lost, sequence numbers dense (1…800), each writer's acknowledged seqs stored
with its own events — on SQLite and on PostgreSQL."""

from __future__ import annotations

import multiprocessing
from typing import Any

import pytest

from cmvrx.model.patient import Case
from cmvrx.store import open_store

WRITERS = 4
EVENTS_EACH = 200


def _write(url: str, writer: int, queue: Any) -> None:
    """One writer process: its own store, one event per transaction."""
    store = open_store(url)
    acknowledged = []
    try:
        for i in range(EVENTS_EACH):
            minute = i % 60
            event = {
                "kind": "note",
                "at": f"2026-11-{24 + i // 60:02d}T{writer:02d}:{minute:02d}:00Z",
                "text": f"writer {writer} event {i}",
            }
            (seq,) = store.add_events("busy", [event])
            acknowledged.append((seq, event["text"]))
    finally:
        store.close()
    queue.put(acknowledged)


@pytest.mark.slow
def test_four_writers_lose_nothing_and_keep_seqs_dense(store_url: str, baseline: Case) -> None:
    first = open_store(store_url)
    first.create_course("busy", baseline)
    first.close()
    context = multiprocessing.get_context("spawn")  # fresh interpreters, no shared engine
    queue = context.Queue()
    writers = [context.Process(target=_write, args=(store_url, n, queue)) for n in range(WRITERS)]
    for process in writers:
        process.start()
    acknowledged = [pair for _ in writers for pair in queue.get(timeout=600)]
    for process in writers:
        process.join(timeout=60)
        assert process.exitcode == 0

    store = open_store(store_url)
    try:
        events = store.get_course("busy").events
    finally:
        store.close()
    assert len(events) == WRITERS * EVENTS_EACH
    assert sorted(seq for seq, _ in acknowledged) == list(range(1, WRITERS * EVENTS_EACH + 1))
    stored = {i + 1: e.text for i, e in enumerate(events)}  # type: ignore[union-attr]
    assert all(stored[seq] == text for seq, text in acknowledged)
    for n in range(WRITERS):  # each writer's events in the order it wrote them
        mine = [seq for seq, text in sorted(acknowledged) if text.startswith(f"writer {n} ")]
        assert [stored[s] for s in mine] == [f"writer {n} event {i}" for i in range(EVENTS_EACH)]

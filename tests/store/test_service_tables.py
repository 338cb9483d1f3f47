"""The service tables on every backend: the jti replay cache and CDS Hooks feedback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cmvrx.errors import StorageError
from cmvrx.store import FeedbackRecord, open_service_store

NOW = datetime(2027, 1, 15, 8, tzinfo=UTC)


def test_a_jti_is_accepted_once_per_issuer(store: Any) -> None:
    later = NOW + timedelta(minutes=5)
    assert store.remember_jti("https://a", "j-1", later, now=NOW)
    assert not store.remember_jti("https://a", "j-1", later, now=NOW)
    assert store.remember_jti("https://b", "j-1", later, now=NOW)


def test_expired_ids_are_purged_and_only_they(store: Any) -> None:
    assert store.remember_jti("https://a", "old", NOW + timedelta(minutes=5), now=NOW)
    assert store.remember_jti("https://a", "live", NOW + timedelta(hours=1), now=NOW)
    much_later = NOW + timedelta(minutes=30)
    # The old token has expired: it can no longer be replayed, so its id may go.
    assert store.remember_jti("https://a", "old", much_later + timedelta(minutes=5), now=much_later)
    assert not store.remember_jti("https://a", "live", NOW + timedelta(hours=1), now=much_later)


def test_the_replay_cache_is_shared_by_two_stores_on_one_database(store_url: str) -> None:
    first, second = open_service_store(store_url), open_service_store(store_url)
    try:
        assert first.remember_jti("https://a", "shared", NOW + timedelta(minutes=5), now=NOW)
        assert not second.remember_jti("https://a", "shared", NOW + timedelta(minutes=5), now=NOW)
    finally:
        first.close()
        second.close()


def test_feedback_round_trips_in_order(store: Any) -> None:
    accepted = FeedbackRecord(service_id="s", card_uuid="c-1", outcome="accepted",
                              outcome_at=NOW, accepted_suggestions=("g-1", "g-2"))  # fmt: skip
    overridden = FeedbackRecord(service_id="t", card_uuid="c-2", outcome="overridden",
                                outcome_at=NOW + timedelta(seconds=1),
                                override_code="x", override_display="X", override_comment="why",
                                client_iss="https://a")  # fmt: skip
    ids = store.record_feedback([accepted, overridden])
    assert len(ids) == 2 and ids[0] < ids[1]
    stored = store.list_feedback()
    assert [(f.card_uuid, f.accepted_suggestions, f.override_comment) for f in stored] == [
        ("c-1", ("g-1", "g-2"), None),
        ("c-2", (), "why"),
    ]
    assert stored[1].outcome_at == NOW + timedelta(seconds=1)
    assert [f.card_uuid for f in store.list_feedback("t")] == ["c-2"]


def test_an_outcome_outside_the_value_set_is_refused_by_the_database(store: Any) -> None:
    bad = FeedbackRecord(service_id="s", card_uuid="c", outcome="ignored", outcome_at=NOW)
    with pytest.raises(StorageError):
        store.record_feedback([bad])
    assert store.list_feedback() == []


@pytest.mark.postgres
def test_the_lean_postgresql_replay_write_keeps_values_and_leaves_the_pool_alone(
    postgres_server: Any,
) -> None:
    """PostgreSQL's replay-cache write runs on a connection of its own (autocommit,
    ``synchronous_commit = off``): the stored expiry is the one given, a replay is refused,
    the pool's connections keep their full durability, and a connection that broke is
    replaced on the next call after one ``StorageError``."""
    from sqlalchemy import select

    from cmvrx.store.tables import seen_jtis

    store: Any = open_service_store(postgres_server.create_database())
    try:
        expires = NOW + timedelta(minutes=5)
        assert store.remember_jti("https://a", "lean-1", expires, now=NOW)
        assert not store.remember_jti("https://a", "lean-1", expires, now=NOW)
        with store._engine.connect() as conn:
            rows = conn.execute(select(seen_jtis.c.jti, seen_jtis.c.expires_at)).all()
            assert [(r.jti, r.expires_at) for r in rows] == [("lean-1", expires)]
            assert conn.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
        assert store._replay_pg.execute("SHOW synchronous_commit").fetchone()[0] == "off"
        store._replay_pg.close()  # known closed: replaced before use
        assert store.remember_jti("https://a", "lean-2", expires, now=NOW)
        pid = store._replay_pg.info.backend_pid
        with store._engine.connect() as conn:  # the server ends it: found in the next call
            conn.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
        with pytest.raises(StorageError, match="token id"):
            store.remember_jti("https://a", "lean-3", expires, now=NOW)
        assert store.remember_jti("https://a", "lean-3", expires, now=NOW)
        assert not store.remember_jti("https://a", "lean-3", expires, now=NOW)
    finally:
        store.close()

"""The web page's tables on every backend: users, sessions, course references, access log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cmvrx.store import open_service_store

NOW = datetime.now(UTC)


def test_users_are_created_then_replaced(store: Any) -> None:
    assert store.put_user("alice", "scrypt$x", source="local")
    assert not store.put_user("alice", "scrypt$y", source="local")
    user = store.get_user("alice")
    assert (user.username, user.password_hash, user.source) == ("alice", "scrypt$y", "local")
    assert store.get_user("nobody") is None


def test_a_session_lives_until_it_expires_or_ends(store: Any) -> None:
    store.create_session("h" * 64, "alice", "csrf", NOW + timedelta(hours=1))
    found = store.get_session("h" * 64, now=NOW)
    assert (found.username, found.csrf_token) == ("alice", "csrf")
    assert store.get_session("h" * 64, now=NOW + timedelta(hours=2)) is None
    store.end_session("h" * 64)
    assert store.get_session("h" * 64, now=NOW) is None


def test_a_course_reference_is_stable_opaque_and_shared(store_url: str) -> None:
    first, second = open_service_store(store_url), open_service_store(store_url)
    try:
        ref = first.course_ref("MRN-123")  # type: ignore[attr-defined]
        assert "MRN" not in ref and len(ref) >= 20
        assert second.course_ref("MRN-123") == ref  # type: ignore[attr-defined]
        assert second.course_of_ref(ref) == "MRN-123"  # type: ignore[attr-defined]
        assert second.course_of_ref("unknown") is None  # type: ignore[attr-defined]
    finally:
        first.close()
        second.close()


def test_the_access_record_keeps_order_and_filters_by_course(store: Any) -> None:
    store.record_access("alice", "sign_in")
    store.record_access("alice", "view_course", "c-1")
    store.record_access("bob", "add_event", "c-1")
    store.record_access("bob", "view_course", "c-2")
    assert [(r.username, r.action) for r in store.list_access("c-1")] == [
        ("alice", "view_course"),
        ("bob", "add_event"),
    ]
    assert len(store.list_access()) == 4

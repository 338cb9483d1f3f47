"""The web page's tables on the SQL store: users, sessions, course references, access log.

A mixin of ``SqlCourseStore`` (like the service tables) so the page shares the store's one
engine — SQLite or PostgreSQL — and several instances share sign-ins and the access
record. Session tokens are stored only as their SHA-256 (a database leak gives no live
session); passwords only as their hash (``cmvrx.web.passwords``).
"""

from __future__ import annotations

import secrets
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, delete, func, insert, select, update

from cmvrx.errors import StorageError
from cmvrx.store.tables import web_access_log, web_course_refs, web_sessions, web_users


@dataclass(frozen=True, slots=True)
class WebUser:
    username: str
    password_hash: str | None
    source: str  # "local" | "oidc"


@dataclass(frozen=True, slots=True)
class WebSession:
    username: str
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class AccessRecord:
    at: datetime
    username: str
    action: str
    course_id: str | None


class WebTablesMixin:
    """Users, sessions, opaque course references and the access record."""

    def _transaction(
        self, doing: str, *, write: bool = False
    ) -> AbstractContextManager[Connection]:
        raise NotImplementedError  # provided by SqlCourseStore

    # users ---------------------------------------------------------------

    def put_user(self, username: str, password_hash: str | None, *, source: str) -> bool:
        """Create or replace a user; True when created, False when replaced."""
        row = {"password_hash": password_hash, "source": source}
        with self._transaction("save a user", write=True) as conn:
            found = conn.execute(
                update(web_users).where(web_users.c.username == username).values(**row)
            ).rowcount
            if found:
                return False
            conn.execute(insert(web_users).values(username=username, created_at=_now(), **row))
            return True

    def get_user(self, username: str) -> WebUser | None:
        with self._transaction("read a user") as conn:
            r = conn.execute(select(web_users).where(web_users.c.username == username)).first()
        return None if r is None else WebUser(r.username, r.password_hash, r.source)

    # sessions ------------------------------------------------------------

    def create_session(
        self, token_hash: str, username: str, csrf_token: str, expires_at: datetime
    ) -> None:
        now = _now()
        with self._transaction("start a session", write=True) as conn:
            conn.execute(delete(web_sessions).where(web_sessions.c.expires_at < now))
            conn.execute(
                insert(web_sessions).values(
                    token_hash=token_hash,
                    username=username,
                    csrf_token=csrf_token,
                    created_at=now,
                    expires_at=expires_at,
                )
            )

    def get_session(self, token_hash: str, *, now: datetime) -> WebSession | None:
        with self._transaction("read a session") as conn:
            r = conn.execute(
                select(web_sessions).where(web_sessions.c.token_hash == token_hash)
            ).first()
        if r is None or r.expires_at <= now:
            return None
        return WebSession(r.username, r.csrf_token, r.expires_at)

    def end_session(self, token_hash: str) -> None:
        with self._transaction("end a session", write=True) as conn:
            conn.execute(delete(web_sessions).where(web_sessions.c.token_hash == token_hash))

    # opaque course references (no course id in a URL) ----------------------

    def course_ref(self, course_id: str) -> str:
        """The random reference the page uses for ``course_id`` in its URLs (made once)."""
        with self._transaction("read a course reference") as conn:
            found = conn.execute(
                select(web_course_refs.c.ref).where(web_course_refs.c.course_id == course_id)
            ).scalar_one_or_none()
        if found is not None:
            return str(found)
        ref = secrets.token_urlsafe(18)
        try:
            with self._transaction("make a course reference", write=True) as conn:
                conn.execute(insert(web_course_refs).values(ref=ref, course_id=course_id))
        except StorageError:  # a concurrent request made one first: use it
            with self._transaction("read a course reference") as conn:
                return str(
                    conn.execute(
                        select(web_course_refs.c.ref).where(
                            web_course_refs.c.course_id == course_id
                        )
                    ).scalar_one()
                )
        return ref

    def course_of_ref(self, ref: str) -> str | None:
        with self._transaction("read a course reference") as conn:
            found = conn.execute(
                select(web_course_refs.c.course_id).where(web_course_refs.c.ref == ref)
            ).scalar_one_or_none()
        return None if found is None else str(found)

    # access record ---------------------------------------------------------

    def record_access(self, username: str, action: str, course_id: str | None = None) -> None:
        with self._transaction("record an access", write=True) as conn:
            conn.execute(
                insert(web_access_log).values(
                    at=_now(), username=username, action=action, course_id=course_id
                )
            )

    def count_access(self, username: str, action: str, *, since: datetime) -> int:
        """How often ``username`` did ``action`` since ``since`` (e.g. failed sign-ins)."""
        query = (
            select(func.count())
            .select_from(web_access_log)
            .where(
                web_access_log.c.username == username,
                web_access_log.c.action == action,
                web_access_log.c.at >= since,
            )
        )
        with self._transaction("read the access record") as conn:
            return int(conn.execute(query).scalar_one())

    def list_access(self, course_id: str | None = None) -> list[AccessRecord]:
        query = select(web_access_log).order_by(web_access_log.c.log_id)
        if course_id is not None:
            query = query.where(web_access_log.c.course_id == course_id)
        with self._transaction("read the access record") as conn:
            rows = conn.execute(query).all()
        return [AccessRecord(r.at, r.username, r.action, r.course_id) for r in rows]


def _now() -> datetime:
    return datetime.now(UTC)

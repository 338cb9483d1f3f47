"""The service tables on the SQL store: ``jti`` replay cache and CDS Hooks feedback.

A mixin of ``SqlCourseStore`` so one engine (SQLite file or PostgreSQL) serves courses,
feedback and the replay cache; several service instances sharing one PostgreSQL thus
share the replay cache. A replay is detected by the primary key (``iss``, ``jti``):
the INSERT of a seen id fails inside the database, so two instances racing on the same
token cannot both accept it.

Durability of the replay cache is traded for speed (one insert per request): its commits
do not wait for the disk (PostgreSQL: ``synchronous_commit = off`` for the session of the
replay cache's own connection — ``SET LOCAL`` in a transaction with another driver; on
SQLite a second engine on the same file with ``synchronous=NORMAL``, WAL). A crash of the machine
may forget the last moments' token ids, which could then be replayed until they expire
(≤ 1 h, typically 5 min) — and only by someone who captured them over TLS. Courses and
feedback keep the store's full durability.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, event, insert, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from cmvrx.errors import StorageError
from cmvrx.store.port import FeedbackRecord
from cmvrx.store.tables import cds_feedback, seen_jtis

# Built once (one request = one replay-cache write: keep it cheap).
_PURGE = delete(seen_jtis).where(seen_jtis.c.expires_at < bindparam("now"))
_REMEMBER = insert(seen_jtis)
_SQLITE_REPLAY_LOCK = threading.Lock()
_PURGE_LOCK = threading.Lock()
_PURGE_SQL = f"DELETE FROM {seen_jtis.name} WHERE expires_at < ?"
_REMEMBER_SQL = f"INSERT INTO {seen_jtis.name} (iss, jti, expires_at) VALUES (?, ?, ?)"
# The same statements for psycopg (format paramstyle).
_PG_PURGE_SQL = _PURGE_SQL.replace("?", "%s")
_PG_REMEMBER_SQL = _REMEMBER_SQL.replace("?", "%s")
_PG_REPLAY_LOCK = threading.Lock()
#: at most one purge of expired token ids per process in this many seconds
REPLAY_PURGE_EVERY_S = 60.0


def _expiry_bind(engine: Engine) -> Any:
    """How the store's SQLAlchemy type writes an expiry on this engine's dialect."""
    bind = seen_jtis.c.expires_at.type.bind_processor(engine.dialect)
    return bind or (lambda value: value)


class ServiceTablesMixin:
    """``ServiceStore`` over the course store's engine and transactions."""

    _engine: Engine
    _replay_engine: Engine | None = None
    _replay_raw: Any = None
    _replay_bind: Any = None
    _replay_purged_at: float = float("-inf")
    _replay_pg: Any = None

    def _transaction(
        self, doing: str, *, write: bool = False
    ) -> AbstractContextManager[Connection]:
        raise NotImplementedError  # provided by SqlCourseStore

    @contextmanager
    def _replay_transaction(self) -> Iterator[Connection]:
        """A write transaction whose commit does not wait for the disk (see module doc)."""
        if self._engine.dialect.name == "postgresql":
            with self._transaction("record a token id", write=True) as conn:
                conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
                yield conn
            return
        if self._replay_engine is None:
            self._replay_engine = _relaxed_sqlite(self._engine)
        try:
            # One writer per process: threads queue on a lock instead of in SQLite's busy
            # handler, which sleeps up to 100 ms per retry.
            with (
                _SQLITE_REPLAY_LOCK,
                self._replay_engine.execution_options(cmvrx_write=True).begin() as conn,
            ):
                yield conn
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot record a token id: {type(exc).__name__}") from exc

    def _close_service_engines(self) -> None:
        raw, self._replay_raw = self._replay_raw, None
        if raw is not None:
            raw.close()
        self._drop_replay_pg()
        if self._replay_engine is not None and self._replay_engine is not self._engine:
            self._replay_engine.dispose()

    def remember_jti(self, iss: str, jti: str, expires_at: datetime, *, now: datetime) -> bool:
        purge = self._purge_due(now)
        if self._engine.dialect.name == "sqlite":
            if self._replay_engine is None:
                self._replay_engine = _relaxed_sqlite(self._engine)
            if self._replay_engine is not self._engine:  # a file: the lean path
                return self._remember_sqlite(iss, jti, expires_at, now, purge)
        elif self._engine.dialect.driver == "psycopg" and not getattr(self, "read_only", False):
            return self._remember_postgresql(iss, jti, expires_at, now, purge)
        try:
            with self._replay_transaction() as conn:
                if purge:
                    conn.execute(_PURGE, {"now": now})
                try:
                    conn.execute(_REMEMBER, {"iss": iss, "jti": jti, "expires_at": expires_at})
                except IntegrityError as exc:  # the primary key says: seen before
                    raise _ReplayedError from exc
        except _ReplayedError:
            return False
        return True

    def _purge_due(self, now: datetime) -> bool:
        """Expired ids are deleted at most once per ``REPLAY_PURGE_EVERY_S`` (of the
        caller's clock) per store: the DELETE scans the table (no index on the expiry),
        so not on every request. An id kept longer is harmless: its token no longer
        passes the time check."""
        at = now.timestamp()
        with _PURGE_LOCK:
            if abs(at - self._replay_purged_at) < REPLAY_PURGE_EVERY_S:
                return False
            self._replay_purged_at = at
            return True

    def _remember_sqlite(
        self, iss: str, jti: str, expires_at: datetime, now: datetime, purge: bool
    ) -> bool:
        """The replay-cache write on a SQLite file through the driver connection: the same
        statements and stored values as the SQLAlchemy path, without its per-call work."""
        assert self._replay_engine is not None
        try:
            with _SQLITE_REPLAY_LOCK:
                if self._replay_raw is None:
                    self._replay_raw = self._replay_engine.raw_connection()
                    self._replay_bind = _expiry_bind(self._replay_engine)
                conn: Any = self._replay_raw.driver_connection
                bind = self._replay_bind
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    if purge:
                        conn.execute(_PURGE_SQL, (bind(now),))
                    try:
                        conn.execute(_REMEMBER_SQL, (iss, jti, bind(expires_at)))
                    except sqlite3.IntegrityError:  # the primary key says: seen before
                        conn.execute("COMMIT")  # keeps the purge
                        return False
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:  # never leave the connection inside a transaction
                        conn.execute("ROLLBACK")
                    raise
        except sqlite3.Error as exc:
            raise StorageError(f"cannot record a token id: {type(exc).__name__}") from exc
        return True

    def _remember_postgresql(
        self, iss: str, jti: str, expires_at: datetime, now: datetime, purge: bool
    ) -> bool:
        """The replay-cache write on PostgreSQL (psycopg): the same statements and stored
        values as the SQLAlchemy path, each one round trip on a connection of its own
        (taken out of the pool: autocommit, ``synchronous_commit = off`` for the session)
        instead of BEGIN, SET LOCAL, INSERT and COMMIT. The INSERT is one transaction:
        the primary key still refuses the second of two instances racing on one token.
        A connection that fails in a call is dropped (that call is a ``StorageError``, the
        next one opens another connection)."""
        dbapi: Any = self._engine.dialect.dbapi
        try:
            with _PG_REPLAY_LOCK:
                conn = self._replay_pg_connection()
                bind = self._replay_bind
                if purge:
                    conn.execute(_PG_PURGE_SQL, (bind(now),))
                try:
                    conn.execute(_PG_REMEMBER_SQL, (iss, jti, bind(expires_at)))
                except dbapi.IntegrityError:  # the primary key says: seen before
                    return False
        except dbapi.Error as exc:
            self._drop_replay_pg()
            raise StorageError(f"cannot record a token id: {type(exc).__name__}") from exc
        return True

    def _replay_pg_connection(self) -> Any:
        """The replay cache's own psycopg connection (opened on first use, and again when
        it is known closed or broken)."""
        if self._replay_pg is not None and (self._replay_pg.closed or self._replay_pg.broken):
            self._drop_replay_pg()
        if self._replay_pg is None:
            raw = self._engine.raw_connection()
            conn: Any = raw.driver_connection
            raw.detach()  # never back to the pool: its session settings are not the pool's
            try:
                conn.rollback()
                conn.autocommit = True
                conn.execute("SET synchronous_commit = off")
            except BaseException:
                conn.close()
                raise
            self._replay_pg = conn
            self._replay_bind = _expiry_bind(self._engine)
        return self._replay_pg

    def _drop_replay_pg(self) -> None:
        conn, self._replay_pg = self._replay_pg, None
        if conn is not None:
            with suppress(Exception):  # a broken connection may fail to close
                conn.close()

    def record_feedback(self, items: Sequence[FeedbackRecord]) -> list[int]:
        now = datetime.now(UTC)
        ids: list[int] = []
        with self._transaction("record feedback", write=True) as conn:
            for item in items:
                result = conn.execute(
                    insert(cds_feedback)
                    .values(**_row(item), recorded_at=now)
                    .returning(cds_feedback.c.feedback_id)
                )
                ids.append(int(result.scalar_one()))
        return ids

    def list_feedback(self, service_id: str | None = None) -> list[FeedbackRecord]:
        query = select(cds_feedback).order_by(cds_feedback.c.feedback_id)
        if service_id is not None:
            query = query.where(cds_feedback.c.service_id == service_id)
        with self._transaction("list feedback") as conn:
            rows = conn.execute(query).all()
        return [_record(r) for r in rows]


def _relaxed_sqlite(engine: Engine) -> Engine:
    """The course store's SQLite file again, with ``synchronous=NORMAL`` connections (an
    in-memory database has no second connection: the same engine is used)."""
    url = engine.url.render_as_string(hide_password=False)
    if url in ("sqlite://", "sqlite:///:memory:") or "mode=memory" in url:
        return engine
    from cmvrx.store.sql import _sqlite_engine

    relaxed = _sqlite_engine(url)

    @event.listens_for(relaxed, "connect")
    def _normal(dbapi_connection: Any, _record: Any) -> None:  # after the store's own setup
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")

    return relaxed


class _ReplayedError(Exception):
    """Internal: the (iss, jti) pair is already in the cache."""


def _row(item: FeedbackRecord) -> dict[str, Any]:
    return {
        "service_id": item.service_id,
        "card_uuid": item.card_uuid,
        "outcome": item.outcome,
        "accepted_suggestions": json.dumps(list(item.accepted_suggestions))
        if item.accepted_suggestions
        else None,
        "override_code": item.override_code,
        "override_system": item.override_system,
        "override_display": item.override_display,
        "override_comment": item.override_comment,
        "outcome_at": item.outcome_at,
        "client_iss": item.client_iss,
    }


def _record(r: Any) -> FeedbackRecord:
    accepted = tuple(json.loads(r.accepted_suggestions)) if r.accepted_suggestions else ()
    return FeedbackRecord(
        service_id=r.service_id,
        card_uuid=r.card_uuid,
        outcome=r.outcome,
        outcome_at=r.outcome_at,
        accepted_suggestions=accepted,
        override_code=r.override_code,
        override_system=r.override_system,
        override_display=r.override_display,
        override_comment=r.override_comment,
        client_iss=r.client_iss,
        feedback_id=r.feedback_id,
        recorded_at=r.recorded_at,
    )

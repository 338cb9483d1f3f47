"""The SQLAlchemy implementation of ``CourseStore``: SQLite (embedded) and PostgreSQL.

Durability (argued in ``docs/course-storage.md``): every write is one transaction and a
call returns only after COMMIT returned. SQLite runs in WAL mode with
``synchronous=FULL`` (the WAL is fsynced at every commit) and starts write transactions
with ``BEGIN IMMEDIATE`` (writers queue instead of failing); PostgreSQL sessions run with
``synchronous_commit=on`` (COMMIT waits for the WAL flush) and lock the course row
before numbering its events.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from cmvrx.errors import CmvrxError, DuplicateCourseError, StorageError, UnknownCourseError
from cmvrx.model.course import EVENT_ADAPTER, Course, Event
from cmvrx.model.patient import Case
from cmvrx.store.port import CourseSummary, EventInput, StoredAssessment
from cmvrx.store.url import check_location, describe_url, sqlite_file
from cmvrx.store.validation import (
    case_json,
    check_assessment_json,
    check_course_id,
    check_knowledge_stamp,
    check_references,
    event_json,
    referenced_seqs,
    validate_case,
    validate_events,
)

try:
    from sqlalchemy import (
        Connection,
        Engine,
        create_engine,
        event,
        func,
        insert,
        make_url,
        select,
    )
    from sqlalchemy.exc import IntegrityError, SQLAlchemyError
    from sqlalchemy.pool import StaticPool
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise StorageError("the course store needs SQLAlchemy: pip install 'cmvrx[course]'") from exc

from cmvrx.store import migrate
from cmvrx.store.service_sql import ServiceTablesMixin
from cmvrx.store.tables import assessments, courses
from cmvrx.store.tables import events as events_table
from cmvrx.store.web_sql import WebTablesMixin

_WRITE = {"cmvrx_write": True}


class SqlCourseStore(ServiceTablesMixin, WebTablesMixin):
    """Courses in a SQL database (SQLite file or PostgreSQL), schema kept by Alembic;
    the service's replay cache and feedback too (``ServiceTablesMixin``)."""

    def __init__(self, engine: Engine, *, where: str, read_only: bool = False) -> None:
        self._engine = engine
        self._writer = engine.execution_options(**_WRITE)
        self.where = where
        #: Opened read-only (asked for, or the database cannot be written): reads work,
        #: every write is a ``StorageError`` saying so.
        self.read_only = read_only

    @classmethod
    def open(cls, url: str, *, read_only: bool = False) -> SqlCourseStore:
        """Connect, migrate to the current schema, and return the store. A SQLite file
        that exists but cannot be written (read-only file, directory or medium) is opened
        read-only instead; ``read_only=True`` asks for that on any backend."""
        where = describe_url(url)
        if read_only:
            return cls._open_read_only(url, where=where)
        check_location(url)
        try:
            return cls._open_writable(url, where=where)
        except StorageError as exc:
            path = sqlite_file(url)
            if path is None or not path.is_file() or not _read_only_failure(str(exc)):
                raise
        return cls._open_read_only(url, where=where)

    @classmethod
    def _open_read_only(cls, url: str, *, where: str) -> SqlCourseStore:
        engine = _read_only_engine(url, where=where)
        try:
            with engine.connect() as conn:
                revision = migrate.current_revision(conn)
        except SQLAlchemyError as exc:
            engine.dispose()
            raise _storage_error(exc, where, "open (read-only)") from exc
        if revision != migrate.HEAD_REVISION:
            engine.dispose()
            raise StorageError(
                f"the course database {where} is read-only and at schema revision {revision!r};"
                f" this cmvrx needs {migrate.HEAD_REVISION!r}: open it once writable to migrate"
            )
        return cls(engine, where=where, read_only=True)

    @classmethod
    def _open_writable(cls, url: str, *, where: str) -> SqlCourseStore:
        engine = _make_engine(url, where=where)
        try:
            # A write transaction: BEGIN IMMEDIATE on SQLite serialises concurrent openers.
            migrate.upgrade(engine.execution_options(**_WRITE), where=where)
        except CmvrxError:
            engine.dispose()
            raise
        except SQLAlchemyError as exc:
            engine.dispose()
            raise _storage_error(exc, where, "open") from exc
        return cls(engine, where=where)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._engine.dialect.name

    def close(self) -> None:
        self._close_service_engines()
        self._engine.dispose()

    def __enter__(self) -> SqlCourseStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ------------------------------------------------------------------ writes

    def create_course(
        self, course_id: str, baseline: Case, *, events: Sequence[EventInput] = ()
    ) -> list[int]:
        check_course_id(course_id)
        case = validate_case(baseline)
        validated = validate_events(events)
        now = _now()
        with self._transaction("create a course", write=True) as conn:
            if conn.execute(_course_row(course_id)).first() is not None:
                raise DuplicateCourseError(course_id)
            try:
                conn.execute(
                    insert(courses).values(
                        course_id=course_id,
                        case_id=case.case_id,
                        baseline=case_json(case),
                        created_at=now,
                    )
                )
            except IntegrityError as exc:  # a concurrent creator won the race
                raise DuplicateCourseError(course_id) from exc
            check_references(validated, {}, first_seq=1)
            return _insert_events(conn, course_id, validated, first_seq=1, now=now)

    def add_events(self, course_id: str, events: Sequence[EventInput]) -> list[int]:
        check_course_id(course_id)
        validated = validate_events(events)
        now = _now()
        with self._transaction("add events", write=True) as conn:
            # FOR UPDATE (PostgreSQL) serialises writers of one course so seqs stay dense;
            # SQLite's BEGIN IMMEDIATE already serialises all writers.
            if conn.execute(_course_row(course_id).with_for_update()).first() is None:
                raise UnknownCourseError(course_id)
            last = conn.execute(
                select(func.max(events_table.c.seq)).where(events_table.c.course_id == course_id)
            ).scalar_one()
            first = (last or 0) + 1
            check_references(validated, _kinds(conn, course_id, validated), first_seq=first)
            return _insert_events(conn, course_id, validated, first_seq=first, now=now)

    def record_assessment(
        self,
        course_id: str,
        as_of: datetime,
        knowledge_version: str,
        knowledge_hash: str,
        assessment_json: str,
        *,
        events_seen: int | None = None,
    ) -> int:
        check_course_id(course_id)
        _require_aware(as_of)
        check_knowledge_stamp(knowledge_version, knowledge_hash)
        check_assessment_json(assessment_json)
        with self._transaction("record an assessment", write=True) as conn:
            if conn.execute(_course_row(course_id)).first() is None:
                raise UnknownCourseError(course_id)
            result = conn.execute(
                insert(assessments)
                .values(
                    course_id=course_id,
                    as_of=as_of,
                    knowledge_version=knowledge_version,
                    knowledge_hash=knowledge_hash,
                    events_seen=events_seen,
                    assessment=assessment_json,
                    recorded_at=_now(),
                )
                .returning(assessments.c.assessment_id)
            )
            return int(result.scalar_one())

    # ------------------------------------------------------------------ reads

    def get_course(self, course_id: str) -> Course:
        check_course_id(course_id)
        with self._transaction("read a course") as conn:
            row = conn.execute(
                select(courses.c.baseline).where(courses.c.course_id == course_id)
            ).first()
            if row is None:
                raise UnknownCourseError(course_id)
            stored = conn.execute(
                select(events_table.c.seq, events_table.c.payload)
                .where(events_table.c.course_id == course_id)
                .order_by(events_table.c.seq)
            ).all()
        try:
            baseline = Case.model_validate_json(row.baseline)
        except ValidationError as exc:
            raise _stale(course_id, "baseline case", exc) from exc
        decoded: list[Event] = []
        for seq, payload in stored:
            try:
                decoded.append(EVENT_ADAPTER.validate_json(payload))
            except ValidationError as exc:
                raise _stale(course_id, f"event seq {seq}", exc) from exc
        return Course(course_id=course_id, baseline=baseline, events=decoded)

    def list_courses(self) -> list[CourseSummary]:
        query = (
            select(
                courses.c.course_id,
                courses.c.case_id,
                courses.c.created_at,
                func.count(events_table.c.seq).label("event_count"),
                func.min(events_table.c.at).label("first_at"),
                func.max(events_table.c.at).label("last_at"),
            )
            .select_from(courses.outerjoin(events_table))
            .group_by(courses.c.course_id, courses.c.case_id, courses.c.created_at)
            .order_by(courses.c.course_id)
        )
        with self._transaction("list courses") as conn:
            rows = conn.execute(query).all()
        return [
            CourseSummary(
                course_id=r.course_id,
                case_id=r.case_id,
                created_at=r.created_at,
                event_count=int(r.event_count),
                first_event_at=r.first_at,
                last_event_at=r.last_at,
            )
            for r in rows
        ]

    def list_assessments(self, course_id: str) -> list[StoredAssessment]:
        check_course_id(course_id)
        with self._transaction("list assessments") as conn:
            if conn.execute(_course_row(course_id)).first() is None:
                raise UnknownCourseError(course_id)
            rows = conn.execute(
                select(assessments)
                .where(assessments.c.course_id == course_id)
                .order_by(assessments.c.assessment_id)
            ).all()
        return [
            StoredAssessment(
                assessment_id=r.assessment_id,
                course_id=r.course_id,
                as_of=r.as_of,
                knowledge_version=r.knowledge_version,
                knowledge_hash=r.knowledge_hash,
                assessment_json=r.assessment,
                recorded_at=r.recorded_at,
                events_seen=r.events_seen,
            )
            for r in rows
        ]

    # ------------------------------------------------------------------ plumbing

    @contextmanager
    def _transaction(self, doing: str, *, write: bool = False) -> Iterator[Connection]:
        """One transaction; committed when the block ends, rolled back on any error."""
        if write and self.read_only:
            raise StorageError(f"cannot {doing}: the course database {self.where} is read-only")
        try:
            with (self._writer if write else self._engine).begin() as conn:
                yield conn
        except CmvrxError:
            raise
        except SQLAlchemyError as exc:
            raise _storage_error(exc, self.where, doing) from exc


def _course_row(course_id: str) -> Any:
    return select(courses.c.course_id).where(courses.c.course_id == course_id)


def _kinds(conn: Connection, course_id: str, validated: list[Event]) -> dict[int, str]:
    """The kinds of the stored events a batch refers to, by seq."""
    wanted = referenced_seqs(validated)
    if not wanted:
        return {}
    rows = conn.execute(
        select(events_table.c.seq, events_table.c.kind).where(
            events_table.c.course_id == course_id, events_table.c.seq.in_(sorted(wanted))
        )
    ).all()
    return {int(seq): str(kind) for seq, kind in rows}


def _insert_events(
    conn: Connection, course_id: str, validated: list[Event], *, first_seq: int, now: datetime
) -> list[int]:
    seqs = list(range(first_seq, first_seq + len(validated)))
    if validated:
        conn.execute(
            insert(events_table),
            [
                {
                    "course_id": course_id,
                    "seq": seq,
                    "at": item.at,
                    "kind": item.kind,
                    "payload": event_json(item),
                    "recorded_at": now,
                }
                for seq, item in zip(seqs, validated, strict=True)
            ],
        )
    return seqs


def _stale(course_id: str, what: str, exc: ValidationError) -> StorageError:
    return StorageError(
        f"course {course_id!r}: the stored {what} no longer validates against this cmvrx's"
        f" model ({exc.error_count()} problem(s)); a data migration is needed"
    )


def _make_engine(url: str, *, where: str) -> Engine:
    try:
        if url.startswith("sqlite"):
            return _sqlite_engine(url)
        options = make_url(url).query.get("options", "")
        return create_engine(
            url,
            pool_pre_ping=True,
            # COMMIT returns only once the WAL is flushed, whatever the server default
            # (appended last, so it wins over any synchronous_commit in the URL's options).
            connect_args={
                "options": f"{options} -c synchronous_commit=on".strip(),
                "application_name": "cmvrx",
            },
        )
    except ImportError as exc:
        raise StorageError(
            f"cannot use {where}: the PostgreSQL driver is missing: pip install 'cmvrx[postgres]'"
        ) from exc
    except SQLAlchemyError as exc:
        raise _storage_error(exc, where, "open") from exc


_READ_ONLY_SIGNS = ("readonly", "read-only", "unable to open database file", "permission denied")


def _read_only_failure(message: str) -> bool:
    return any(sign in message.lower() for sign in _READ_ONLY_SIGNS)


def _read_only_engine(url: str, *, where: str) -> Engine:
    """An engine that never writes: SQLite through ``mode=ro`` (``immutable=1`` on a
    read-only medium, where a WAL database cannot create its shared-memory file), or a
    PostgreSQL session with ``default_transaction_read_only``."""
    path = sqlite_file(url)
    if path is None:
        if url.startswith("sqlite"):
            raise StorageError(f"an in-memory database {where} cannot be opened read-only")
        options = make_url(url).query.get("options", "")
        try:
            return create_engine(
                url,
                pool_pre_ping=True,
                connect_args={
                    "options": f"{options} -c default_transaction_read_only=on".strip(),
                    "application_name": "cmvrx",
                },
            )
        except ImportError as exc:
            raise StorageError(
                f"cannot use {where}: the PostgreSQL driver is missing:"
                " pip install 'cmvrx[postgres]'"
            ) from exc
    if not path.is_file():
        raise StorageError(f"cannot open the course database {where} read-only: no such file")
    import sqlite3
    from urllib.parse import quote

    target = quote(str(path.resolve()))

    def connect() -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(f"file:{target}?mode=ro", uri=True, check_same_thread=False)
            conn.execute("SELECT 1 FROM sqlite_master LIMIT 1")
        except sqlite3.OperationalError:
            conn = sqlite3.connect(f"file:{target}?immutable=1", uri=True, check_same_thread=False)
        conn.isolation_level = None
        return conn

    engine = create_engine("sqlite://", creator=connect)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine


def _sqlite_engine(url: str) -> Engine:
    memory = url in ("sqlite://", "sqlite:///:memory:") or "mode=memory" in url
    engine = create_engine(
        url,
        connect_args={"timeout": 30.0, "check_same_thread": False},
        **({"poolclass": StaticPool} if memory else {}),
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy (the sqlite3 module otherwise commits
        # DDL implicitly and defers BEGIN); see _on_begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # WAL is a property of the file: switch once, not on every connection (the
            # switch needs an exclusive lock that a busy database may not grant at once).
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("cmvrx_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _storage_error(exc: SQLAlchemyError, where: str, doing: str) -> StorageError:
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    return StorageError(f"cannot {doing} in the course database {where}: {detail}")


def _require_aware(as_of: datetime) -> None:
    from cmvrx.errors import InputError

    if as_of.utcoffset() is None:
        raise InputError("as_of must carry a time zone", field="as_of")


def _now() -> datetime:
    # The store's own clock: when a row was recorded (never used clinically).
    return datetime.now(UTC)

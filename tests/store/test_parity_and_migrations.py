"""Both backends give identical courses; migrations; lazy imports; database URLs."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cmvrx.errors import InputError, StorageError
from cmvrx.model.course import EVENT_ADAPTER
from cmvrx.model.patient import Case
from cmvrx.store import CourseStore, describe_url, open_store, resolve_url
from cmvrx.store.migrate import HEAD_REVISION, MIGRATIONS


def _same_operations(store: CourseStore, baseline: Case, events: list[dict[str, Any]]) -> None:
    store.create_course("p-1", baseline, events=events[:3])
    store.add_events("p-1", events[3:7])
    with pytest.raises(InputError):
        store.add_events("p-1", [events[7], {"kind": "lab", "at": "2026-11-30T06:00Z"}])
    store.add_events("p-1", events[7:])
    store.create_course("p-2", baseline)
    store.record_assessment("p-1", datetime(2026, 12, 1, 9, tzinfo=UTC), "k1", "h1",
                            '{"phase": "induction"}', events_seen=len(events))  # fmt: skip


@pytest.mark.postgres
def test_sqlite_and_postgresql_give_identical_results(
    tmp_path: Path, postgres_server: Any, baseline: Case, every_kind: list[dict[str, Any]]
) -> None:
    results = []
    for url in (f"sqlite:///{tmp_path / 'parity.sqlite'}", postgres_server.create_database()):
        store = open_store(url)
        try:
            _same_operations(store, baseline, every_kind)
            course = store.get_course("p-1")
            results.append({
                "course": course,
                "json": [EVENT_ADAPTER.dump_json(e) for e in course.events],
                "timeline": [EVENT_ADAPTER.dump_json(e) for e in course.timeline()],
                "baseline": course.baseline.model_dump_json(),
                "courses": [(c.course_id, c.case_id, c.event_count, c.first_event_at,
                             c.last_event_at) for c in store.list_courses()],
                "assessments": [(a.as_of, a.knowledge_version, a.knowledge_hash,
                                 a.assessment_json, a.events_seen)
                                for a in store.list_assessments("p-1")],
            })  # fmt: skip
        finally:
            store.close()
    sqlite, postgresql = results
    assert sqlite == postgresql
    assert len(sqlite["course"].events) == len(every_kind)


def test_the_head_revision_constant_matches_the_migrations() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD_REVISION


def test_migrations_go_down_and_up_again(tmp_path: Path, baseline: Case) -> None:
    from alembic import command
    from alembic.config import Config

    url = f"sqlite:///{tmp_path / 'm.sqlite'}"
    open_store(url).close()
    config = Config(str(MIGRATIONS.parent / "alembic.ini"))
    config.cmd_opts = None
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = None
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    with engine.connect() as conn:
        assert sqlalchemy.inspect(conn).get_table_names() == ["alembic_version"]
    engine.dispose()
    store = open_store(url)  # upgrades to head again
    try:
        store.create_course("again", baseline)
        assert store.get_course("again").baseline == baseline
    finally:
        store.close()


def test_a_database_from_a_newer_cmvrx_is_refused(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "future.sqlite"
    open_store(str(path)).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(StorageError, match="9999"):
        open_store(str(path))


def test_sqlite_runs_wal_with_full_sync(tmp_path: Path) -> None:
    from sqlalchemy import text

    from cmvrx.store.sql import SqlCourseStore

    store = SqlCourseStore.open(resolve_url(str(tmp_path / "w.sqlite")))
    try:
        with store._engine.connect() as conn:  # the store's own connections
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        store.close()


@pytest.mark.postgres
def test_postgresql_sessions_commit_synchronously(postgres_server: Any) -> None:
    from sqlalchemy import text

    from cmvrx.store.sql import SqlCourseStore

    store = SqlCourseStore.open(postgres_server.create_database())
    try:
        with store._engine.connect() as conn:
            assert conn.execute(text("SHOW synchronous_commit")).scalar() == "on"
    finally:
        store.close()


def test_an_unreachable_server_is_a_storage_error_without_the_password() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once closed
    with pytest.raises(StorageError) as caught:
        open_store(f"postgresql+psycopg://cmvrx:s3cret@127.0.0.1:{port}/courses")
    assert "s3cret" not in str(caught.value)
    assert f"127.0.0.1:{port}" in str(caught.value)


def _fresh_python(code: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout))


def test_importing_cmvrx_does_not_import_sqlalchemy() -> None:
    loaded = _fresh_python(
        "import json, sys, cmvrx, cmvrx.store, cmvrx.errors\n"
        "print(json.dumps({m: m in sys.modules for m in ('sqlalchemy', 'alembic', 'psycopg')}))"
    )
    assert loaded == {"sqlalchemy": False, "alembic": False, "psycopg": False}


def test_a_missing_extra_names_the_pip_install() -> None:
    result = _fresh_python(
        "import json, sys\n"
        "sys.modules['sqlalchemy'] = None  # as if the [course] extra were not installed\n"
        "from cmvrx.store import open_store\n"
        "from cmvrx.errors import StorageError\n"
        "try:\n    open_store('sqlite:///never.sqlite')\n"
        "except StorageError as exc:\n    print(json.dumps({'message': str(exc)}))\n"
    )
    assert "pip install 'cmvrx[course]'" in result["message"]


def test_database_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CMVRX_DB_URL", raising=False)
    assert resolve_url(None) == f"sqlite:///{tmp_path / 'cmvrx-courses.sqlite'}"
    assert resolve_url("sub/c.sqlite") == f"sqlite:///{tmp_path / 'sub' / 'c.sqlite'}"
    monkeypatch.setenv("CMVRX_DB_URL", "postgres://u:p@db:5432/cmvrx")
    assert resolve_url(None) == "postgresql+psycopg://u:p@db:5432/cmvrx"
    assert resolve_url("sqlite:///x.sqlite") == "sqlite:///x.sqlite"  # --db beats the env
    with pytest.raises(StorageError, match="unsupported"):
        resolve_url("mysql://u:hidden@db/x")
    assert describe_url("postgresql+psycopg://u:p4ss@db:5432/x") == (
        "postgresql+psycopg://u:***@db:5432/x"
    )

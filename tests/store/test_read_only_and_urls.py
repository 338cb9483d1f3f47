"""Issue 6 item 12: a read-only database can be shown and assessed (not recorded, said so);
every accepted database URL form opens the file it names — sqlite:/// is relative,
sqlite://// absolute, a plain path is the recommended form."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cmvrx.cli.main import app
from cmvrx.errors import StorageError
from cmvrx.model.patient import Case
from cmvrx.store import open_store, resolve_url

EXAMPLES = Path(__file__).parents[2] / "examples"
AS_OF = "2026-12-15T12:00:00Z"
NOTE = {"kind": "note", "at": "2026-11-25T08:00:00Z", "text": "x"}


def cmvrx(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def _ok(result: Any) -> str:
    assert result.exit_code == 0, result.output
    return str(result.output)


def _example_db(tmp_path: Path) -> Path:
    db = tmp_path / "ro" / "c.sqlite"
    db.parent.mkdir()
    _ok(cmvrx("course", "import", str(EXAMPLES / "course-cns.yaml"), "--db", str(db)))
    return db


def test_read_only_store_reads_and_refuses_every_write(tmp_path: Path, baseline: Case) -> None:
    db = _example_db(tmp_path)
    before = db.read_bytes()
    store = open_store(str(db), read_only=True)
    try:
        assert store.read_only
        assert len(store.get_course("example-course-cns").events) == 53
        assert [c.course_id for c in store.list_courses()] == ["example-course-cns"]
        for write in (
            lambda: store.add_events("example-course-cns", [NOTE]),
            lambda: store.create_course("other", baseline),
            lambda: store.record_assessment(
                "example-course-cns", __import__("datetime").datetime.now().astimezone(),
                "v", "h", "{}",
            ),
        ):  # fmt: skip
            with pytest.raises(StorageError, match="read-only"):
                write()
    finally:
        store.close()
    assert db.read_bytes() == before


def test_cli_assesses_a_read_only_database_without_recording_and_says_so(tmp_path: Path) -> None:
    db = str(_example_db(tmp_path))
    course = "example-course-cns"
    report = _ok(cmvrx("course", "assess", course, "--as-of", AS_OF, "--read-only", "--db", db))
    assert "read-only database: this assessment was NOT recorded" in report
    assert "recorded as assessment" not in report
    document = json.loads(
        _ok(cmvrx("course", "assess", course, "--as-of", AS_OF, "--read-only", "--json",
                  "--db", db))
    )  # fmt: skip
    assert document["assessment_id"] is None
    assert "NOT recorded" in document["note"]
    _ok(cmvrx("course", "show", course, "--read-only", "--db", db))
    _ok(cmvrx("course", "list", "--read-only", "--db", db))
    png = tmp_path / "c.png"
    _ok(cmvrx("course", "chart", course, "--as-of", AS_OF, "--read-only", "--png", str(png),
              "--db", db))  # fmt: skip
    store = open_store(db)
    try:
        assert store.list_assessments(course) == []
    finally:
        store.close()


@pytest.fixture
def unwritable_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory holding a course database that this process cannot write: chmod for an
    ordinary user, the immutable attribute for root (whom permissions do not stop)."""
    db = _example_db(tmp_path)
    folder = db.parent
    if os.geteuid() == 0:
        done = subprocess.run(["chattr", "+i", str(db), str(folder)], capture_output=True)
        undo = ["chattr", "-i", str(db), str(folder)]
    else:
        folder.chmod(0o555)
        db.chmod(0o444)
        done, undo = subprocess.CompletedProcess([], 0), []
    try:
        (folder / "probe").touch()
    except OSError:
        pass
    else:
        if undo:
            subprocess.run(undo, check=False)
        pytest.skip(f"cannot make a read-only directory here (chattr: {done.stderr!r})")
    try:
        yield db
    finally:
        if undo:
            subprocess.run(undo, check=False)
        folder.chmod(0o755)


def test_an_unwritable_sqlite_file_opens_read_only_by_itself(unwritable_dir: Path) -> None:
    db = str(unwritable_dir)
    store = open_store(db)
    try:
        assert store.read_only
        assert len(store.get_course("example-course-cns").events) == 53
    finally:
        store.close()
    course = "example-course-cns"
    report = _ok(cmvrx("course", "assess", course, "--as-of", AS_OF, "--db", db))
    assert "NOT recorded" in report
    assert "example-course-cns" in _ok(cmvrx("course", "show", course, "--db", db))
    result = cmvrx("course", "retract", course, "3", "--reason", "x", "--db", db)
    assert result.exit_code == 5
    assert "read-only" in result.output


@pytest.mark.postgres
def test_postgresql_opens_read_only_on_request(postgres_server: Any, baseline: Case) -> None:
    url = postgres_server.create_database()
    writable = open_store(url)
    writable.create_course("c", baseline, events=[NOTE])
    writable.close()
    store = open_store(url, read_only=True)
    try:
        assert store.read_only
        assert len(store.get_course("c").events) == 1
        with pytest.raises(StorageError, match="read-only"):
            store.add_events("c", [NOTE])
    finally:
        store.close()


# ----------------------------------------------------------------------------- URL forms


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CMVRX_DB_URL", raising=False)
    return tmp_path


def _creates(url: str | None, expected: Path) -> None:
    store = open_store(url)
    store.close()
    assert expected.is_file(), (url, expected)


def test_a_plain_relative_path_is_the_file_in_the_working_directory(in_tmp: Path) -> None:
    _creates("rel.sqlite", in_tmp / "rel.sqlite")
    assert resolve_url("rel.sqlite") == f"sqlite:///{in_tmp / 'rel.sqlite'}"


def test_a_plain_absolute_path_is_that_file(in_tmp: Path) -> None:
    target = in_tmp / "sub" / "abs.sqlite"
    target.parent.mkdir()
    _creates(str(target), target)


def test_a_home_path_is_expanded(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(in_tmp))
    _creates("~/home.sqlite", in_tmp / "home.sqlite")


def test_three_slashes_are_relative_to_the_working_directory(in_tmp: Path) -> None:
    (in_tmp / "data").mkdir()
    _creates("sqlite:///data/three.sqlite", in_tmp / "data" / "three.sqlite")


def test_four_slashes_are_absolute(in_tmp: Path) -> None:
    target = in_tmp / "four.sqlite"
    _creates(f"sqlite:///{target}", target)  # f"sqlite:///" + "/abs…" = four slashes
    assert f"sqlite:///{target}".startswith("sqlite:////")


def test_three_slashes_meant_as_absolute_are_refused_with_the_four_slash_hint(
    in_tmp: Path,
) -> None:
    absolute = in_tmp / "meant.sqlite"  # /tmp/…/meant.sqlite exists as a directory path
    three = f"sqlite:///{str(absolute).lstrip('/')}"  # what the old help suggested
    with pytest.raises(StorageError, match="four slashes") as caught:
        open_store(three)
    assert str(absolute) in str(caught.value)
    assert not absolute.exists()
    assert not (in_tmp / str(absolute).lstrip("/")).exists()


def test_a_missing_directory_is_named(in_tmp: Path) -> None:
    with pytest.raises(StorageError, match="does not exist") as caught:
        open_store(str(in_tmp / "nowhere" / "c.sqlite"))
    assert str(in_tmp / "nowhere") in str(caught.value)


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_in_memory_forms(url: str, baseline: Case) -> None:
    store = open_store(url)
    try:
        store.create_course("m", baseline, events=[NOTE])
        assert len(store.get_course("m").events) == 1
    finally:
        store.close()


@pytest.mark.parametrize(
    ("given", "resolved"),
    [
        ("postgres://u@db:5432/x", "postgresql+psycopg://u@db:5432/x"),
        ("postgresql://u@db/x", "postgresql+psycopg://u@db/x"),
        ("postgresql+psycopg://u@db/x", "postgresql+psycopg://u@db/x"),
        ("sqlite+pysqlite:///x.sqlite", "sqlite+pysqlite:///x.sqlite"),
    ],
)
def test_server_and_driver_forms(given: str, resolved: str) -> None:
    assert resolve_url(given) == resolved


def test_the_cli_accepts_a_plain_path_and_documents_the_forms(in_tmp: Path) -> None:
    _ok(cmvrx("course", "import", str(EXAMPLES / "course-cns.yaml"), "--db", "plain.sqlite"))
    assert (in_tmp / "plain.sqlite").is_file()
    help_text = " ".join(_ok(cmvrx("course", "list", "--help")).split())
    assert "four slashes" in help_text

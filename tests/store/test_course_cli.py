"""`cmvrx course new|add|import|show|list` against a real SQLite file (and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from cmvrx.cli.course import course_app
from cmvrx.cli.main import app
from cmvrx.store import open_store
from cmvrx.store.documents import course_from_document

EXAMPLES = Path(__file__).parents[2] / "examples"
EXAMPLE_COURSE = EXAMPLES / "course-cns.yaml"
EXAMPLE_CASE = EXAMPLES / "cns-encephalitis-hiv.yaml"


def cmvrx(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(app, list(args), input=stdin, env=env)


def _ok(result: Any) -> str:
    assert result.exit_code == 0, result.output
    return str(result.output)


def test_import_then_show_the_example_course(store_url: str) -> None:
    imported = _ok(cmvrx("course", "import", str(EXAMPLE_COURSE), "--db", store_url))
    assert "example-course-cns imported: 53 event(s)" in imported

    shown = _ok(cmvrx("course", "show", "example-course-cns", "--db", store_url))

    assert "Course example-course-cns" in shown
    assert "CMV PCR 125,000 IU/mL (LLOQ 35)" in shown
    assert "CMV PCR detected < LLOQ" in shown
    # The creatinine that arrived last is shown in its clinical place.
    lines = shown.splitlines()
    late = next(i for i, line in enumerate(lines) if "resulted late" in line)
    assert "2026-12-05" in lines[late]
    assert "2026-12-04" in lines[late - 1]
    assert "2026-12-07" in lines[late + 1]


def test_new_add_and_show_json_round_trip(tmp_path: Path) -> None:
    db = str(tmp_path / "c.sqlite")
    _ok(cmvrx("course", "new", "cli-1", "--case", str(EXAMPLE_CASE), "--db", db))
    batch = tmp_path / "labs.yaml"
    batch.write_text(yaml.safe_dump([
        {"kind": "lab", "at": "2026-11-26T06:00:00Z", "analyte": "anc", "value": 900,
         "unit": "cells/uL"},
        {"kind": "cmv_pcr", "at": "2026-11-25T06:00:00Z", "result": "not_detected",
         "lower_limit": 35},
    ]))  # fmt: skip
    assert "added 2 event(s) to cli-1 (seq 1–2)" in _ok(
        cmvrx("course", "add", "cli-1", str(batch), "--db", db)
    )
    one = '{kind: note, at: "2026-11-27T08:00Z", text: "[bold] is not markup here"}'
    assert "(seq 3)" in _ok(cmvrx("course", "add", "cli-1", "-", "--db", db, stdin=one))
    assert "[bold] is not markup here" in _ok(cmvrx("course", "show", "cli-1", "--db", db))

    exported = json.loads(_ok(cmvrx("course", "show", "cli-1", "--json", "--db", db)))
    exported["course_id"] = "cli-1-copy"
    copy = tmp_path / "copy.json"
    copy.write_text(json.dumps(exported))
    _ok(cmvrx("course", "import", str(copy), "--db", db))

    store = open_store(db)
    try:
        original, imported = store.get_course("cli-1"), store.get_course("cli-1-copy")
    finally:
        store.close()
    assert imported.events == original.events
    assert imported.baseline == original.baseline
    assert "cli-1-copy" in _ok(cmvrx("course", "list", "--db", db))


def test_the_database_comes_from_the_environment(tmp_path: Path) -> None:
    env = {"CMVRX_DB_URL": f"sqlite:///{tmp_path / 'env.sqlite'}"}
    _ok(cmvrx("course", "import", str(EXAMPLE_COURSE), env=env))
    assert (tmp_path / "env.sqlite").exists()
    assert "example-course-cns" in _ok(cmvrx("course", "list", env=env))


def test_a_malformed_event_is_exit_2_and_stores_nothing(tmp_path: Path) -> None:
    db = str(tmp_path / "c.sqlite")
    _ok(cmvrx("course", "new", "cli-2", "--case", str(EXAMPLE_CASE), "--db", db))
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump([
        {"kind": "note", "at": "2026-11-25T08:00:00Z", "text": "fine"},
        {"kind": "note", "at": "2026-11-25T09:00:00Z", "text": "fine too"},
        {"kind": "dose_given", "at": "2026-11-25T10:00:00Z", "drug": "aciclovir", "dose_mg": 5},
    ]))  # fmt: skip

    result = cmvrx("course", "add", "cli-2", str(bad), "--db", db)

    assert result.exit_code == 2
    assert "events[2].drug" in result.output
    assert "Traceback" not in result.output
    assert "No events recorded yet." in _ok(cmvrx("course", "show", "cli-2", "--db", db))


def test_a_course_file_with_a_bad_event_imports_nothing(tmp_path: Path) -> None:
    data = yaml.safe_load(EXAMPLE_COURSE.read_text())
    data["events"][30]["value"] = "high"
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(data))
    db = str(tmp_path / "c.sqlite")

    result = cmvrx("course", "import", str(broken), "--db", db)

    assert result.exit_code == 2
    assert "events[30].value" in result.output
    assert "No courses in this database." in _ok(cmvrx("course", "list", "--db", db))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["course", "show", "nobody"], "no course 'nobody'"),
        (
            ["course", "add", "nobody", str(EXAMPLE_CASE)],
            "event.kind: missing; one of: plan_started",
        ),
        (["course", "new", "x", "--case", "missing.yaml"], "missing.yaml"),
        (["course", "import", str(EXAMPLE_CASE)], "unknown key"),
    ],
)
def test_input_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = cmvrx(*args, "--db", str(tmp_path / "c.sqlite"))
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_duplicate_course_is_exit_2(tmp_path: Path) -> None:
    db = str(tmp_path / "c.sqlite")
    _ok(cmvrx("course", "import", str(EXAMPLE_COURSE), "--db", db))
    result = cmvrx("course", "import", str(EXAMPLE_COURSE), "--db", db)
    assert result.exit_code == 2
    assert "already exists" in result.output


def test_a_database_that_cannot_be_opened_is_a_storage_error(tmp_path: Path) -> None:
    for db in (str(tmp_path), "mysql://someone:secret@db/x"):  # a directory; a foreign URL
        result = cmvrx("course", "list", "--db", db)
        assert result.exit_code == 5, result.output
        assert "storage error" in result.output
        assert "secret" not in result.output
        assert "Traceback" not in result.output


def test_the_example_course_is_a_valid_course_document() -> None:
    course_id, baseline, events = course_from_document(yaml.safe_load(EXAMPLE_COURSE.read_text()))
    assert course_id == "example-course-cns"
    assert "encephalitis" in {s.value for s in baseline.disease.sites}
    span = max(e.at for e in events) - min(e.at for e in events)
    assert span.days >= 20
    assert {"cmv_pcr", "lab", "plan_started", "regimen_changed"} <= {e.kind for e in events}


def test_every_course_command_has_help_and_an_example() -> None:
    for command in course_app.registered_commands:
        name = command.name or ""
        assert command.callback is not None and command.callback.__doc__, name
        assert command.epilog and "Example: cmvrx course" in command.epilog, name
        assert _ok(cmvrx("course", name, "--help"))


def test_assess_prints_and_records_the_assessment(store_url: str) -> None:
    _ok(cmvrx("course", "import", str(EXAMPLE_COURSE), "--db", store_url))
    as_of = "2026-12-15T12:00Z"

    report = _ok(
        cmvrx("course", "assess", "example-course-cns", "--as-of", as_of, "--db", store_url)
    )
    document = json.loads(
        _ok(cmvrx("course", "assess", "example-course-cns", "--as-of", as_of, "--json",
                  "--db", store_url))
    )  # fmt: skip

    assert "induction day" in report
    assert "recorded as assessment #1" in report
    assert document["assessment_id"] == 2
    assert document["course_id"] == "example-course-cns"
    store = open_store(store_url)
    try:
        recorded = store.list_assessments("example-course-cns")
    finally:
        store.close()
    assert [a.assessment_id for a in recorded] == [1, 2]
    assert all(a.as_of.isoformat() == "2026-12-15T12:00:00+00:00" for a in recorded)
    assert recorded[1].knowledge_version == document["provenance"]["knowledge_version"]
    assert recorded[1].knowledge_hash == document["provenance"]["knowledge_hash"]
    assert recorded[1].events_seen == 53
    stored = json.loads(recorded[1].assessment_json)
    assert stored == {k: v for k, v in document.items() if k != "assessment_id"}


@pytest.mark.parametrize("as_of", ["yesterday", "2026-12-15T12:00"])
def test_assess_refuses_an_unusable_as_of(tmp_path: Path, as_of: str) -> None:
    db = str(tmp_path / "c.sqlite")
    _ok(cmvrx("course", "import", str(EXAMPLE_COURSE), "--db", db))
    result = cmvrx("course", "assess", "example-course-cns", "--as-of", as_of, "--db", db)
    assert result.exit_code == 2
    assert "--as-of" in result.output

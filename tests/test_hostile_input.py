"""Hostile input (issue 6): the checked-in corpus under ``tests/hostile/`` and the
reproducers of the issue, through the CLI and the library.

Every hostile input is refused with the field or the reader limit named: exit 2 (or 3
for a drug the label refuses), one line on stderr, no traceback, no exit 70, no dose.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

import cmvrx
from cmvrx import api, reader
from cmvrx.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = Path(__file__).parent / "hostile"
EXAMPLE = ROOT / "examples" / "cns-encephalitis-hiv.yaml"
COURSE = ROOT / "examples" / "course-cns.yaml"
AS_OF = "2026-11-24T08:00:00Z"
AS_OF_DT = datetime(2026, 11, 24, 8, tzinfo=UTC)
EXPECTED: dict[str, str] = yaml.safe_load((HOSTILE / "expected.yaml").read_text())
ARGV: list[dict[str, Any]] = yaml.safe_load((HOSTILE / "argv.yaml").read_text())


def cmvrx_cli(*args: str, stdin: str | bytes | None = None) -> Any:
    return CliRunner().invoke(app, list(args), input=stdin)


def assert_refused(result: Any, code: int, says: str) -> None:
    assert result.exit_code == code, (result.exit_code, result.output)
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert says in " ".join(result.stderr.split()), result.stderr
    # a dose shows as a table cell "│ 350 mg │"; a refusal prints "NOT RECOMMENDED" or
    # "NO DOSE" instead (or nothing at all)
    assert not re.search(r"│\s*[\d.,]+ mg\s", result.stdout), result.stdout
    assert not result.stdout or re.search(r"NOT RECOMMENDED|NO DOSE", result.stdout)


def test_every_corpus_file_has_an_expectation() -> None:
    assert sorted(p.name for p in (HOSTILE / "cases").iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hostile_case_file_is_refused_by_the_cli(name: str) -> None:
    result = cmvrx_cli("plan", str(HOSTILE / "cases" / name), "--as-of", AS_OF, "--json")
    assert_refused(result, 2, EXPECTED[name])
    assert result.stdout == ""


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hostile_case_file_is_an_input_error_in_the_library(name: str) -> None:
    with pytest.raises(cmvrx.InputError):
        cmvrx.plan(HOSTILE / "cases" / name, as_of=AS_OF_DT)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hostile_case_file_is_refused_on_stdin(name: str) -> None:
    data = (HOSTILE / "cases" / name).read_bytes()
    result = cmvrx_cli("plan", "-", "--as-of", AS_OF, stdin=data)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("vector", ARGV, ids=[" ".join(v["argv"])[:60] for v in ARGV])
def test_hostile_command_line(vector: dict[str, Any], tmp_path: Path) -> None:
    values = {
        "example": str(EXAMPLE),
        "course": str(COURSE),
        "db": str(tmp_path / "courses.sqlite"),
        "tmp": str(tmp_path),
    }
    argv = [arg.format(**values) for arg in vector["argv"]]
    result = cmvrx_cli(*argv)
    assert_refused(result, vector["exit"], vector["says"].format(**values))
    assert not (tmp_path / "etc").exists() and not Path("../../etc/passwd.png").exists()


# --------------------------------------------------------------------------- reader limits


def test_a_50_mb_case_is_refused_by_the_size_limit(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as handle:
        handle.write(b"case_id: ")
        handle.truncate(50 * 1024 * 1024)  # sparse: 50 MB without writing them
    result = cmvrx_cli("plan", str(big), "--as-of", AS_OF)
    assert_refused(result, 2, "size limit")


def test_a_huge_case_id_is_refused_not_echoed(tmp_path: Path) -> None:
    text = EXAMPLE.read_text().replace(
        "case_id: example-cns-encephalitis-hiv", "case_id: " + "x" * 200_000
    )
    path = tmp_path / "huge-id.yaml"
    path.write_text(text)
    result = cmvrx_cli("plan", str(path), "--as-of", AS_OF)
    assert result.exit_code == 2
    assert len(result.output) < 2_000


def test_stdin_is_bounded_too() -> None:
    result = cmvrx_cli("plan", "-", "--as-of", AS_OF, stdin=b"a" * (reader.MAX_BYTES + 10))
    assert_refused(result, 2, "size limit")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo (POSIX)")
def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "case.yaml"
    os.mkfifo(fifo)
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # so that open() for reading returns
    try:
        result = cmvrx_cli("plan", str(fifo), "--as-of", AS_OF)
    finally:
        os.close(fd)
    assert_refused(result, 2, "not a regular file")


def test_course_documents_go_through_the_same_reader(tmp_path: Path) -> None:
    db = str(tmp_path / "c.sqlite")
    dup = "{kind: note, at: 2026-11-25T08:00:00Z, text: a, text: b}"
    assert cmvrx_cli("course", "import", str(COURSE), "--db", db).exit_code == 0
    result = cmvrx_cli("course", "add", "example-course-cns", "-", "--db", db, stdin=dup)
    assert_refused(result, 2, "duplicate key 'text'")
    weight = "{kind: weight, at: 2026-11-25T08:00:00Z, value: true, unit: kg}"
    result = cmvrx_cli("course", "add", "example-course-cns", "-", "--db", db, stdin=weight)
    assert_refused(result, 2, "value: Input should be a valid number")
    deep = "[" * 100_000
    result = cmvrx_cli("course", "add", "example-course-cns", "-", "--db", db, stdin=deep)
    assert_refused(result, 2, "depth limit")


def test_chart_into_a_missing_folder_is_a_clean_error(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="the chart needs the optional 'course' extra")
    db = str(tmp_path / "c.sqlite")
    assert cmvrx_cli("course", "import", str(COURSE), "--db", db).exit_code == 0
    missing = tmp_path / "no" / "such" / "folder" / "c.png"
    result = cmvrx_cli(
        "course", "chart", "example-course-cns", "--as-of", "2026-12-15T12:00:00Z",
        "--png", str(missing), "--db", db,
    )  # fmt: skip
    assert_refused(result, 2, "does not exist")
    assert not missing.parent.exists()


def test_case_id_rules_match_course_id_rules() -> None:
    from cmvrx.identifiers import check_text_id

    for bad in ("a\u202eb", "a\x00b", "a\nb", "a\tb", "x" * 201, "a\u2066b", "a\u200fb"):
        with pytest.raises(cmvrx.InputError):
            check_text_id(bad, field="case_id")
        with pytest.raises(cmvrx.InputError):
            api.load_case({**yaml.safe_load(EXAMPLE.read_text()), "case_id": bad})


# --------------------------------------------------------------------------- strict types


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("patient", "weight", "value"), True),
        (("patient", "age", "value"), "42"),
        (("renal", "serum_creatinine", "value"), False),
        (("blood_counts", "anc", "value"), "1450"),
    ],
)
def test_numbers_are_numbers_in_a_case_mapping(path: tuple[str, ...], value: object) -> None:
    data = yaml.safe_load(EXAMPLE.read_text())
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(cmvrx.InputError, match=re.escape(".".join(path))):
        cmvrx.plan(data, as_of=AS_OF_DT)


@pytest.mark.parametrize(
    "event",
    [
        {"kind": "weight", "at": AS_OF, "value": True, "unit": "kg"},
        {"kind": "lab", "at": AS_OF, "analyte": "creatinine", "value": True, "unit": "mg/dL"},
        {"kind": "lab", "at": AS_OF, "analyte": "creatinine", "value": "1.2", "unit": "mg/dL"},
        {"kind": "dose_given", "at": AS_OF, "drug": "ganciclovir", "dose_mg": True},
        {"kind": "cmv_pcr", "at": AS_OF, "result": "detected", "value": True, "lower_limit": 35},
    ],
)
def test_numbers_are_numbers_in_course_events(event: dict[str, object]) -> None:
    from cmvrx.store.validation import validate_event

    with pytest.raises(cmvrx.InputError, match="valid number"):
        validate_event(event)


def test_json_and_yaml_give_the_same_case() -> None:
    data = yaml.safe_load(EXAMPLE.read_text())
    as_json = json.dumps(data, default=str)
    assert api.load_case(as_json) == api.load_case(EXAMPLE)

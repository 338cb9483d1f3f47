"""``cmvrx audit`` end to end on the vignette export with the bad-data corpus: exactly the
expected findings, bad data counted with file and line, outputs in their formats."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cmvrx.audit.columns import FINDING_COLUMNS
from cmvrx.cli.main import app
from cmvrx.model.plan import DISCLAIMER

runner = CliRunner()


def _rows(out: Path) -> list[dict[str, str]]:
    with (out / "findings.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_findings_are_the_answer(
    audited: tuple[Path, str], expected: set[tuple[str, str, str]]
) -> None:
    out, _ = audited
    found = {(r["patient_id"], r["order_id"], r["kind"]) for r in _rows(out)}
    assert found == expected


def test_no_dose_without_a_correction(audited: tuple[Path, str]) -> None:
    for row in _rows(audited[0]):
        if row["kind"] in ("insufficient_data", "not_recommended", "test_overdue"):
            assert row["corrected_dose"] == ""
        assert row["as_of"] == "2026-03-10T12:00:00Z"
        json.loads(row["data_used"])


def test_bad_data_counted_with_file_and_line(audited: tuple[Path, str]) -> None:
    out, output = audited
    with (out / "skipped.csv").open(newline="", encoding="utf-8") as fh:
        skips = list(csv.DictReader(fh))
    where = {(s["kind"], s["where"]) for s in skips}
    assert all(int(s["count"]) >= 1 for s in skips)
    assert ("malformed line", "Bad.ndjson:1") in where
    assert ("malformed line", "Bad.ndjson:2") in where
    assert ("malformed line", "Bad.ndjson:3") in where
    assert ("malformed line", "Bad.ndjson:12") in where
    assert ("resource type not read", "Bad.ndjson:4") in where
    assert ("missing patient", "Bad.ndjson:6") in where
    assert any(k.startswith("mapping: ") and w == "Bad.ndjson:9" for k, w in where)
    assert "malformed line" in output and "missing patient" in output


def test_output_formats(audited: tuple[Path, str]) -> None:
    import polars as pl

    out, output = audited
    with (out / "findings.csv").open(newline="", encoding="utf-8") as fh:
        assert tuple(next(csv.reader(fh))) == FINDING_COLUMNS
    frame = pl.read_parquet(out / "findings.parquet")
    assert tuple(frame.columns) == FINDING_COLUMNS
    assert set(frame.schema.values()) == {pl.String}
    assert frame.height == len(_rows(out))
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<svg" in page and DISCLAIMER in page
    assert not re.search(r"https?://|<script|\bsrc=|url\(|<link", page, re.IGNORECASE)
    summary = (out / "summary.txt").read_text(encoding="utf-8")
    assert summary in output
    assert "2026.12.1" in summary and DISCLAIMER in summary
    assert "manifest transactionTime" in summary
    assert len(summary.splitlines()) <= 24


def test_as_of_option_wins(export: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "audit",
            str(export / "Patient.ndjson"),
            "--as-of",
            "2026-03-11T00:00Z",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "as of 2026-03-11T00:00:00Z (--as-of)" in result.output
    assert (tmp_path / "findings.csv").read_text().strip() == ",".join(FINDING_COLUMNS)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/nonexistent/export"], "does not exist"),
        (["{export}", "--as-of", "yesterday"], "--as-of"),
        (["{export}", "--as-of", "2026-03-10T12:00"], "time zone"),
        (["{export}", "--engine", "hadoop"], "--engine"),
        (["{export}", "--master", "local[2]"], "--master"),
    ],
)
def test_bad_input_exits_2(export: Path, tmp_path: Path, args: list[str], message: str) -> None:
    argv = ["audit", *(a.replace("{export}", str(export)) for a in args), "--out", str(tmp_path)]
    result = runner.invoke(app, argv)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_spark_missing_is_a_clear_error(
    export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    real = importlib.import_module

    def no_pyspark(name: str, package: str | None = None) -> object:
        if name == "pyspark":
            raise ImportError("No module named 'pyspark'")
        return real(name, package)

    monkeypatch.setattr("cmvrx.audit.runner.importlib.import_module", no_pyspark)
    result = runner.invoke(app, ["audit", str(export), "--engine", "spark", "--out", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert "cmvrx[spark]" in result.output

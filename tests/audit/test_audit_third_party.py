"""The third-party NDJSON in the ``pathling`` wheel (Synthea patients, no CMV therapy)
audits cleanly: no finding, no crash, what was not read is counted. Fetched by
``scripts/third-party-data`` (PyPI); offline the test is skipped naming what is missing —
in CI (``CI`` set) a failed download fails."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

import cmvrx.api as api

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def pathling_resources(pathling_data: Path) -> Path:
    return pathling_data / "resources"


def test_pathling_ndjson_audits_cleanly(pathling_resources: Path, tmp_path: Path) -> None:
    files = sorted(pathling_resources.glob("*.ndjson"))
    assert files
    run = api.audit(files, out=tmp_path, workers=1)
    assert run.findings == 0
    assert run.facts.patients > 0
    assert run.facts.selected == 0
    assert "as of" in run.summary and run.facts.as_of_source == "now"
    with (tmp_path / "findings.csv").open(newline="") as fh:
        assert len(list(csv.reader(fh))) == 1  # the header only
    assert (tmp_path / "report.html").is_file() and (tmp_path / "findings.parquet").is_file()

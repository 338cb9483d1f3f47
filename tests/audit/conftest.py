"""A Bulk Data export of every vignette (one patient each) plus the bad-data corpus,
audited once per test session through the CLI."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner
from vignette_support import VIGNETTES, load, write_export

from cmvrx.cli.main import app

BAD = Path(__file__).parent / "bad_data" / "Bad.ndjson"
AS_OF = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
#: what the bad-data corpus must give: never a dose, always a finding naming what to record
BAD_EXPECT = {
    ("ghost", "ghost-gcv", "insufficient_data"),  # no Patient resource: no case
    ("bd1", "bd1-gcv", "insufficient_data"),  # creatinine in kg: not used, and no CBC
    ("bd1", "", "test_overdue"),  # CBC, creatinine, PCR never recorded
}


def prefix(path: Path) -> str:
    return path.stem.split("_", 1)[0] + "-"


@pytest.fixture(scope="session")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("export")
    records = []
    for path in VIGNETTES:
        resources, as_of, _ = load(path)
        assert as_of == AS_OF
        records.append((prefix(path), resources))
    write_export(folder, records, AS_OF)
    shutil.copy(BAD, folder / "Bad.ndjson")
    manifest = (folder / "manifest.json").read_text()
    (folder / "manifest.json").write_text(
        manifest.replace('"output": [', '"output": [{"type": "Mixed", "url": "Bad.ndjson"}, ')
    )
    return folder


@pytest.fixture(scope="session")
def expected() -> set[tuple[str, str, str]]:
    """The (patient_id, order_id, kind) set the exported vignettes and bad data must give."""
    out = set(BAD_EXPECT)
    for path in VIGNETTES:
        _, _, expect = load(path)
        p = prefix(path)
        out |= {(f"{p}p1", f"{p}{oid}" if oid else "", kind) for oid, kind in expect}
    return out


@pytest.fixture(scope="session")
def audited(export: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("audit")
    result = CliRunner().invoke(app, ["audit", str(export), "--out", str(out), "--workers", "1"])
    assert result.exit_code == 0, result.output
    return out, result.output

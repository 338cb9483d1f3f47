"""The Spark engine's parts that need no Spark: which inputs it reads and scans, and its
refusal of knowledge the executors would not have (hazard H103)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

import cmvrx
from cmvrx.audit.spark import input_files, run
from cmvrx.errors import CmvrxError


def test_uri_folders_become_ndjson_globs_and_only_medication_files_are_scanned() -> None:
    files, scan = input_files(
        [
            "hdfs:///exports/e1",
            "s3a://bucket/e2/Observation.ndjson",
            "s3a://bucket/e2/MedicationRequest.ndjson",
        ]
    )
    assert files == [
        "hdfs:///exports/e1/*.ndjson",
        "s3a://bucket/e2/Observation.ndjson",
        "s3a://bucket/e2/MedicationRequest.ndjson",
    ]
    assert scan == ["hdfs:///exports/e1/*.ndjson", "s3a://bucket/e2/MedicationRequest.ndjson"]


def test_a_local_export_is_read_through_its_manifest(tmp_path: Path) -> None:
    out = tmp_path / "export"
    cmvrx.api.synthesize_cohort(out, patients=10, seed=1, treated_share=0.2)
    files, scan = input_files([str(out)])
    names = sorted(Path(f).name for f in files)
    assert names == sorted(p.name for p in out.glob("*.ndjson"))
    assert sorted(Path(f).name for f in scan) == [
        "MedicationAdministration.ndjson",
        "MedicationRequest.ndjson",
    ]


def test_changed_knowledge_is_refused_before_any_spark_work() -> None:
    changed = cmvrx.load_knowledge(overrides={"anc_delta_max_fold": 8.0})
    with pytest.raises(CmvrxError, match="bundled knowledge"):
        run(
            ["/nonexistent"], as_of=datetime(2026, 12, 1, tzinfo=UTC), knowledge=changed, sink=print
        )

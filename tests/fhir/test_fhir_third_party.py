"""Third-party FHIR no one here wrote: the Synthea bundles and NDJSON shipped in the
``pathling`` wheel go through the inbound mapping without a crash, every resource is
accounted for (used, reported or counted as skipped) and every problem names its
resource. The data are fetched by ``scripts/third-party-data`` (PyPI); offline, the test
is skipped naming what is missing — in CI (``CI`` set) a failed download fails."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from cmvrx.fhir import inbound
from cmvrx.fhir.inbound import InboundResult
from cmvrx.fhir.resources import collect, from_ndjson

ROOT = Path(__file__).parents[2]
AS_OF = datetime(2026, 1, 1, tzinfo=UTC)


def _accounted(result: InboundResult, total: int) -> None:
    refs = {m.resource for m in result.matched} | {p.resource for p in result.problems}
    patients = 1 if result.patient_id else 0
    assert patients + len(refs - {""}) + sum(result.skipped.values()) >= total
    for p in result.problems:
        assert p.message and (p.resource or p.kind in ("missing_fact", "conflict", "malformed"))
    assert not result.orders  # no structured CMV antiviral order in Synthea data


def test_bundles(pathling_data: Path) -> None:
    bundles = sorted((pathling_data / "bundles").glob("*.json"))
    assert len(bundles) == 2
    for path in bundles:
        data = json.loads(path.read_text())
        items, _ = collect(data)
        result = inbound.read(data, as_of=AS_OF)
        assert result.patient_id
        _accounted(result, len(items))
        assert result.case is None  # no CMV disease: sites missing, reported
        assert any(p.kind == "missing_fact" and p.field == "disease.sites" for p in result.problems)
        json.dumps(result.to_dict())


def test_ndjson(pathling_data: Path) -> None:
    files = {
        p.name: p.read_text().splitlines()
        for p in sorted((pathling_data / "resources").glob("*.ndjson"))
    }
    assert {"Patient.ndjson", "Condition.ndjson"} <= set(files)
    total = sum(len(from_ndjson(lines, name)[0]) for name, lines in files.items())
    results = inbound.read_ndjson(files, as_of=AS_OF)
    assert len(results) >= 2
    seen = 0
    for result in results:
        refs = {m.resource for m in result.matched} | {p.resource for p in result.problems}
        seen += (1 if result.patient_id else 0) + len(refs - {""}) + sum(result.skipped.values())
        json.dumps(result.to_dict())
    assert seen >= total


def test_ndjson_bad_lines_are_reported() -> None:
    lines = ['{"resourceType": "Patient", "id": "a"}', "not json", "", "[1, 2]"]
    results = inbound.read_ndjson({"Patient.ndjson": lines}, as_of=AS_OF)
    where = {p.where for r in results for p in r.problems if p.kind == "malformed"}
    assert where == {"Patient.ndjson:2", "Patient.ndjson:4"}

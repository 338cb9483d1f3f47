"""The embedded engine's selection, partitioning and resilience on small exports."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from vignette_support import VIGNETTES, load, write_export

import cmvrx.api as api
from cmvrx.audit import embedded
from cmvrx.audit.columns import Row
from cmvrx.audit.sources import Source, blocks, discover
from cmvrx.errors import InputError

AS_OF = datetime(2026, 3, 10, 12, tzinfo=UTC)
WRONG = next(p for p in VIGNETTES if p.name.startswith("02_"))


def _audit(folder: Path, **kw: Any) -> tuple[list[Row], embedded.AuditStats]:
    rows: list[Row] = []
    stats = embedded.run(
        discover([folder]), as_of=AS_OF, knowledge=api.load_knowledge(), sink=rows.extend, **kw
    )
    return rows, stats


def test_medication_reference_is_followed(tmp_path: Path) -> None:
    """A request naming its drug through a Medication resource is selected and audited."""
    resources, _, _ = load(WRONG)
    request = next(r for r in resources if r["resourceType"] == "MedicationRequest")
    request.pop("medicationCodeableConcept")
    request["medicationReference"] = {"reference": "Medication/m1"}
    medication = {
        "resourceType": "Medication",
        "id": "m1",
        "code": {"text": "ganciclovir 500 mg injection"},
    }
    write_export(tmp_path, [("", [*resources, medication])], AS_OF)
    rows, stats = _audit(tmp_path, workers=1)
    assert stats.selected_patients == 1
    assert {(r["order_id"], r["kind"]) for r in rows} == {("gcv", "dose_too_high")}


def _by_reference(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = [dict(r) for r in resources]
    for r in out:
        if r["resourceType"] == "MedicationRequest":
            r.pop("medicationCodeableConcept")
            r["medicationReference"] = {"reference": "Medication/m1"}
    return out


def test_many_patients_in_partitions_and_processes(tmp_path: Path) -> None:
    """Partitions in two processes: the same rows as one process, in the same order; the
    Medication resources reach the processes too."""
    resources, _, _ = load(WRONG)
    medication = {"resourceType": "Medication", "id": "m1", "code": {"text": "ganciclovir"}}
    records = [(f"x{i:03d}-", resources if i % 2 else _by_reference(resources)) for i in range(120)]
    write_export(tmp_path, records, AS_OF)
    (tmp_path / "Medication.ndjson").write_text(json.dumps(medication) + "\n")
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["output"].append({"type": "Medication", "url": "Medication.ndjson"})
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    rows, stats = _audit(tmp_path, workers=2)
    assert stats.partitions >= 2 and stats.audited_patients == 120
    assert {r["kind"] for r in rows} == {"dose_too_high"}
    assert len({r["patient_id"] for r in rows}) == 120
    assert rows == _audit(tmp_path, workers=1)[0]  # the same rows in the same order


def test_one_patient_failing_never_stops_the_audit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    resources, _, _ = load(WRONG)
    write_export(tmp_path, [("a-", resources), ("b-", resources)], AS_OF)
    import cmvrx.audit.patient as patient

    real = patient.review_lines

    def flaky(lines: Any, **kw: Any) -> Any:
        pairs = list(lines)
        if any('"a-p1"' in line for _, line in pairs):
            raise RuntimeError("boom")
        return real(pairs, **kw)

    monkeypatch.setattr(patient, "review_lines", flaky)
    rows, stats = _audit(tmp_path, workers=1)
    assert {r["patient_id"] for r in rows} == {"b-p1"}
    assert stats.skips.counts["not audited (internal error)"] == 1


def test_control_characters_and_crlf(tmp_path: Path) -> None:
    resources, _, _ = load(WRONG)
    write_export(tmp_path, [("", resources)], AS_OF)
    path = tmp_path / "Observation.ndjson"
    text = path.read_text().replace("\n", "\r\n")
    path.write_text(
        text + '{"resourceType": "Observation", "subject": {"reference": "Patient/p\x1f1"}}\r\n'
    )
    rows, stats = _audit(tmp_path, workers=1)
    assert {(r["order_id"], r["kind"]) for r in rows} == {("gcv", "dose_too_high")}
    assert stats.skips.counts["no patient"] == 1
    assert stats.skips.counts["malformed line"] == 0


def test_blocks_keep_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "x.ndjson"
    path.write_text("".join(f'{{"n": {i}}}\n' for i in range(1, 1001)) + '{"n": 1001}')
    seen = []
    for first, lines in blocks(path, block_bytes=100):
        seen += [(first + i, json.loads(line)["n"]) for i, line in enumerate(lines) if line]
    assert seen == [(n, n) for n in range(1, 1002)]


def test_manifest_problems_are_input_errors(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(
        json.dumps(
            {
                "transactionTime": "2026-03-10T12:00:00Z",
                "output": [{"type": "Patient", "url": "https://x.example/Patient.ndjson"}],
            }
        )
    )
    with pytest.raises(InputError, match="remote"):
        discover([tmp_path])
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(InputError, match="manifest"):
        discover([tmp_path])
    (tmp_path / "manifest.json").unlink()
    with pytest.raises(InputError, match="no NDJSON"):
        discover([tmp_path])


def test_declared_types_decide_what_is_scanned() -> None:
    assert not embedded.may_hold_medications(Source(Path("O.ndjson"), "Observation"))
    assert embedded.may_hold_medications(Source(Path("M.ndjson"), "MedicationRequest"))
    assert embedded.may_hold_medications(Source(Path("x.ndjson"), None))


def test_file_uris_are_local_paths(tmp_path: Path) -> None:
    """``cmvrx audit file:///path`` without ``--as-of`` takes the manifest's time."""
    from cmvrx.audit.runner import resolve_as_of

    resources, as_of, _ = load(VIGNETTES[0])
    write_export(tmp_path / "my export", [("p-", resources)], as_of)
    uri = (tmp_path / "my export").as_uri()
    assert resolve_as_of(None, [uri]) == (as_of, "manifest transactionTime")
    assert discover([uri]).sources == discover([tmp_path / "my export"]).sources
    assert discover(["file:" + str(tmp_path / "my export")]).transaction_time == as_of
    with pytest.raises(InputError, match="another host"):
        discover(["file://elsewhere/x"])


def test_patient_index_in_buckets_counts_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The patient index spilled to many buckets (as for a large export) counts the same
    patients and reports the same missing ones, at their first reference, in file order."""
    resources, _, _ = load(WRONG)
    records = [(f"x{i:03d}-", resources) for i in range(40)]
    write_export(tmp_path, records, AS_OF)
    orphans = [
        {
            "resourceType": "Observation",
            "id": f"o{i}",
            "subject": {"reference": f"Patient/gone{i % 7}"},
        }
        for i in range(30)
    ]
    (tmp_path / "Orphans.ndjson").write_text("".join(json.dumps(o) + "\n" for o in orphans))
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["output"].append({"type": "Observation", "url": "Orphans.ndjson"})
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))

    def missing(stats: embedded.AuditStats) -> list[tuple[str, str]]:
        rows = stats.skips.examples
        return [(r["where"], r["resource"]) for r in rows if r["kind"] == "missing patient"]

    _, one = _audit(tmp_path, workers=1)
    monkeypatch.setattr(embedded, "INDEX_BUCKET_BYTES", 256)
    assert embedded.index_buckets(discover([tmp_path]).total_bytes) > 8
    _, many = _audit(tmp_path, workers=1)
    assert one.patients == many.patients == 40
    assert missing(one) == missing(many)
    assert missing(one) == [(f"Orphans.ndjson:{i + 1}", f"Patient/gone{i}") for i in range(7)]
    assert one.skips.counts == many.skips.counts

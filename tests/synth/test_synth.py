"""``cmvrx synth``: a deterministic Bulk Data export whose codes are the bound ones, with
a manifest that counts its lines and an answer key of the planted problems."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import cmvrx
from cmvrx.cli.main import app
from cmvrx.fhir import inbound
from cmvrx.knowledge.terminology import SYSTEM_URI
from cmvrx.synth.profiles import PLANTED_KINDS
from cmvrx.synth.writer import ANSWER_KEY, MANIFEST, RESOURCE_TYPES, transaction_time

runner = CliRunner()


def _write(out: Path, seed: int = 5, patients: int = 120) -> Path:
    cmvrx.api.synthesize_cohort(
        out, patients=patients, seed=seed, treated_share=0.25, planted_share=0.5
    )
    return out


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write(tmp_path_factory.mktemp("synth") / "a")


def _resources(export: Path) -> list[dict[str, object]]:
    return [
        json.loads(line)
        for t in RESOURCE_TYPES
        if (export / f"{t}.ndjson").exists()
        for line in (export / f"{t}.ndjson").read_text(encoding="utf-8").splitlines()
    ]


def test_same_seed_same_bytes_other_seed_other_bytes(export: Path, tmp_path: Path) -> None:
    assert _digest(_write(tmp_path / "b")) == _digest(export)
    assert _digest(_write(tmp_path / "c", seed=6)) != _digest(export)


def test_manifest_is_a_bulk_data_manifest_counting_the_lines(export: Path) -> None:
    manifest = json.loads((export / MANIFEST).read_text(encoding="utf-8"))
    assert set(manifest) == {"transactionTime", "request", "requiresAccessToken", "output", "error"}
    assert manifest["transactionTime"].endswith("Z") and manifest["error"] == []
    for entry in manifest["output"]:
        lines = (export / entry["url"]).read_text(encoding="utf-8").splitlines()
        assert entry["count"] == len(lines)
        assert {json.loads(x)["resourceType"] for x in lines} == {entry["type"]}
    assert sum(e["count"] for e in manifest["output"] if e["type"] == "Patient") == 120


def test_every_code_written_is_bound_in_the_terminology(export: Path) -> None:
    t = cmvrx.load_knowledge().terminology
    assert t is not None
    bound = {
        *((SYSTEM_URI["loinc"], o.code) for o in t.observation),
        *((SYSTEM_URI[c.system], c.code) for c in t.condition),
        *((SYSTEM_URI[m.system], m.code) for m in t.medication),
        *((SYSTEM_URI["snomed"], r.code) for r in t.route),
    }
    written = set()
    for r in _resources(export):
        for key in ("code", "medicationCodeableConcept"):
            for coding in (r.get(key) or {}).get("coding", []):  # type: ignore[union-attr]
                written.add((coding["system"], coding["code"]))
    assert written and written <= bound


def test_the_answer_key_names_planted_orders_of_its_patients(export: Path) -> None:
    with (export / ANSWER_KEY).open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and set(rows[0]) == {"patient_id", "order_id", "kind"}
    orders = {str(r["id"]) for r in _resources(export) if r["resourceType"] == "MedicationRequest"}
    for row in rows:
        assert row["kind"] in (*PLANTED_KINDS, "interaction")
        assert row["order_id"] == "" or (
            row["order_id"] in orders and row["order_id"].startswith(row["patient_id"] + "-")
        )


def test_treated_records_map_to_complete_cases(export: Path) -> None:
    """Every patient on therapy reads, through the FHIR mapping, as a complete case."""
    by_patient: dict[str, list[dict[str, object]]] = {}
    for r in _resources(export):
        pid = r["id"] if r["resourceType"] == "Patient" else r["subject"]["reference"][8:]  # type: ignore[index]
        by_patient.setdefault(str(pid), []).append(r)
    treated = [
        rs
        for rs in by_patient.values()
        if any(r["resourceType"] == "MedicationRequest" for r in rs)
    ]
    assert len(treated) == 30
    manifest = json.loads((export / MANIFEST).read_text(encoding="utf-8"))
    as_of = transaction_time(manifest["transactionTime"])
    for resources in treated:
        result = inbound.read(resources, as_of=as_of, no_dialysis_unless_recorded=True)
        assert result.case is not None, [p.message for p in result.problems]


def test_cli_writes_and_refuses_bad_input(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    done = runner.invoke(app, ["synth", "--patients", "40", "--seed", "2", "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert "40 patients" in done.output and (out / ANSWER_KEY).is_file()
    bad = runner.invoke(
        app, ["synth", "--patients", "4", "--treated-share", "2", "--out", str(tmp_path / "x")]
    )
    assert bad.exit_code == 2 and "treated_share" in bad.output
    on_file = runner.invoke(app, ["synth", "--patients", "4", "--out", str(out / MANIFEST)])
    assert on_file.exit_code == 2 and "not a folder" in on_file.output
    naive = runner.invoke(
        app,
        ["synth", "--patients", "4", "--out", str(out), "--transaction-time", "2026-01-01T00:00"],
    )
    assert naive.exit_code == 2 and "time zone" in naive.output

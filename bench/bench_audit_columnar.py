"""Benchmark: the columnar step of the embedded audit engine, Polars against DuckDB.

The step (``cmvrx.audit.embedded.gather``): read every NDJSON line, extract its resource
type and patient id by regex, keep the lines of the selected patients (here: every
patient whose MedicationRequest names a CMV antiviral). Both engines do exactly that on
the same files; the figures decided which one the audit uses (docs/architecture.md).
Also times the whole embedded audit of the export (``--full``).

    python bench/bench_audit_columnar.py --patients 100000        # writes a throwaway export
    python bench/bench_audit_columnar.py --export /tmp/cohort     # an existing export
    python bench/bench_audit_columnar.py --patients 100000 --full # + the whole audit, peak RSS

It never fails on a figure. Needs ``cmvrx[audit]`` and ``duckdb`` (dev extra).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "tests" / "audit" / "vignettes" / "_base.yaml"
LABS = [
    ("2160-0", "mg/dL", 0.9),
    ("29463-7", "kg", 70),
    ("751-8", "10*3/uL", 3.1),
    ("777-3", "10*9/L", 200),
    ("718-7", "g/dL", 13.0),
    ("2823-3", "mmol/L", 4.0),
]


def write_export(folder: Path, patients: int, share: float = 0.05, seed: int = 1) -> None:
    """A synthetic-like export: ~20 lines a patient; ``share`` of them on IV ganciclovir
    (the audit vignettes' base record)."""
    import yaml

    base = yaml.safe_load(BASE.read_text())["resources"]
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    kinds = ("Patient", "Observation", "Condition", "MedicationRequest", "Encounter")
    files = {k: (folder / f"{k}.ndjson").open("w") for k in kinds}
    for i in range(patients):
        pid = f"pt{i:08d}"
        if rng.random() < share:
            for r in base:
                text = json.dumps(r).replace('"Patient/p1"', f'"Patient/{pid}"')
                r2 = json.loads(text)
                r2["id"] = pid if r2["resourceType"] == "Patient" else f"{pid}-{r2['id']}"
                files[r2["resourceType"]].write(json.dumps(r2) + "\n")
            continue
        files["Patient"].write(
            json.dumps(
                {
                    "resourceType": "Patient",
                    "id": pid,
                    "gender": "female",
                    "birthDate": "1970-01-01",
                }
            )
            + "\n"
        )
        for j in range(18):
            code, unit, value = LABS[j % len(LABS)]
            obs = {
                "resourceType": "Observation",
                "id": f"{pid}-o{j}",
                "status": "final",
                "subject": {"reference": f"Patient/{pid}"},
                "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                "effectiveDateTime": f"2026-0{1 + j % 2}-1{j % 9}T06:00:00Z",
                "valueQuantity": {"value": value, "unit": unit, "code": unit},
            }
            files["Observation"].write(json.dumps(obs) + "\n")
        files["Encounter"].write(
            json.dumps({"resourceType": "Encounter", "id": f"{pid}-e", "status": "finished",
                        "subject": {"reference": f"Patient/{pid}"}}) + "\n"
        )  # fmt: skip
    for f in files.values():
        f.close()
    manifest = {
        "transactionTime": "2026-03-10T12:00:00Z",
        "request": "$export",
        "requiresAccessToken": False,
        "output": [{"type": k, "url": f"{k}.ndjson"} for k in kinds],
        "error": [],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))


def polars_gather(files: list[Path], selected: set[str]) -> int:
    """The engine's own columnar step (``embedded._frame``) and its filter."""
    import polars as pl

    from cmvrx.audit.embedded import _frame
    from cmvrx.audit.sources import blocks

    wanted = pl.Series(sorted(selected), dtype=pl.String).implode()
    kept = 0
    for path in files:
        for first, lines in blocks(path):
            kept += _frame(pl, lines, first).filter(pl.col("pid").is_in(wanted)).height
    return kept


def duckdb_gather(files: list[Path], selected: set[str]) -> int:
    import duckdb

    from cmvrx.audit.embedded import _OWN_ID as OWN_ID
    from cmvrx.audit.embedded import _PATIENT_REF as PATIENT_REF
    from cmvrx.audit.embedded import _RTYPE as RTYPE

    con = duckdb.connect()
    con.execute("CREATE TABLE wanted(pid VARCHAR)")
    con.executemany("INSERT INTO wanted VALUES (?)", [(p,) for p in sorted(selected)])
    kept = 0
    for path in files:
        query = f"""
            WITH t AS (
              SELECT line, regexp_extract(line, '{RTYPE}', 1) AS type
              FROM read_csv('{path}', columns={{'line': 'VARCHAR'}}, delim='\x1f', quote='',
                            escape='', header=false, auto_detect=false)
            )
            SELECT count(*) FROM t WHERE
              (CASE WHEN type = 'Patient' THEN regexp_extract(line, '{OWN_ID}', 1)
                    ELSE regexp_extract(line, '{PATIENT_REF}', 1) END) IN (SELECT pid FROM wanted)
        """
        row = con.execute(query).fetchone()
        kept += int(row[0]) if row else 0
    return kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--export", type=Path, default=None)
    parser.add_argument("--full", action="store_true", help="also the whole embedded audit")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from cmvrx.api import load_knowledge
    from cmvrx.audit import embedded
    from cmvrx.audit.sources import discover

    with tempfile.TemporaryDirectory(prefix="cmvrx-bench-") as tmp:
        folder = args.export or Path(tmp) / "export"
        if args.export is None:
            t = time.perf_counter()
            write_export(folder, args.patients)
            print(f"wrote {args.patients} patients in {time.perf_counter() - t:.1f} s")
        if args.full:  # first, in a fresh process: its peak RSS is the audit's alone
            full_audit(folder, Path(tmp) / "out", args.workers)
        export = discover([folder])
        files = [s.path for s in export.sources]
        k = load_knowledge()
        t = time.perf_counter()
        selected = embedded.select_patients(export.sources, k)
        print(f"select: {len(selected)} patients in {time.perf_counter() - t:.2f} s")
        mb = export.total_bytes / 1e6
        for name, gather in (("polars", polars_gather), ("duckdb", duckdb_gather)):
            t = time.perf_counter()
            kept = gather(files, selected)
            s = time.perf_counter() - t
            print(
                f"gather {name}: {kept} lines kept of {mb:.0f} MB in {s:.2f} s ({mb / s:.0f} MB/s)"
            )


def full_audit(folder: Path, out: Path, workers: int | None) -> None:
    import subprocess

    argv = [sys.executable, "-m", "cmvrx", "audit", str(folder), "--out", str(out)]
    if workers:
        argv += ["--workers", str(workers)]
    t = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    s = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(done.stdout.splitlines()[2] if done.returncode == 0 else done.stderr[-500:])
    print(f"audit (cmvrx audit, fresh process): {s:.1f} s wall, peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()

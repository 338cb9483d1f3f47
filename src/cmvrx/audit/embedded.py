"""The embedded audit engine: Polars, streaming, flat memory (docs/architecture.md says
why Polars and not DuckDB).

1. **Select** — only the medication files (or files of unknown type) are scanned, line
   by line with a cheap text test (``select.may_be_cmv_antiviral``); candidate lines are
   parsed and matched by the FHIR layer's drug matching. Result: the ids of the patients
   with a CMV antiviral medication resource.
2. **Gather** — every file is read in blocks of whole lines into Polars: each line's
   resource type and patient id are extracted columnar (regex), bad lines counted with
   file and line, and only the selected patients' lines are spilled to partition files
   on disk (by a hash of the patient id), so no more than one partition is ever held.
3. **Audit** — each partition is grouped by patient and each patient's lines go to
   ``patient.review_lines`` (the one clinical step), partitions in parallel processes.

Bad data never stops the audit: malformed lines, unknown resource types, lines naming
no patient, references to patients missing from the export and every problem of the
FHIR mapping are counted and listed with file and line (``Skips``).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cmvrx.audit.columns import Row
from cmvrx.audit.select import (
    MED_TYPES,
    is_cmv_antiviral,
    is_cmv_antiviral_order,
    may_be_cmv_antiviral,
    medication_reference,
    patient_of,
)
from cmvrx.audit.sources import Export, Source, blocks
from cmvrx.knowledge.bundle import Knowledge

PATIENTS_PER_PARTITION = 2000
MAX_PARTITIONS = 512
EXAMPLES_PER_KIND = 200
_SEP = "\x1f"  # never in valid JSON: separates where, patient id and line in spill files
_RTYPE = r'"resourceType"\s*:\s*"([^"]*)"'
_PATIENT_REF = r'"reference"\s*:\s*"(?:[^"]*/)?Patient/([^"/]+)"'
_URN_REF = r'"reference"\s*:\s*"urn:uuid:([^"]+)"'
_OWN_ID = r'"id"\s*:\s*"([^"]+)"'

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class Skips:
    """Everything not audited or not usable, counted by kind, with examples (file:line)."""

    counts: Counter[str] = field(default_factory=Counter)
    examples: list[dict[str, str]] = field(default_factory=list)
    _shown: Counter[str] = field(default_factory=Counter)

    def add(
        self,
        kind: str,
        where: str,
        message: str,
        *,
        resource: str = "",
        fld: str = "",
        count: int = 1,
    ) -> None:
        self.counts[kind] += count
        if self._shown[kind] < EXAMPLES_PER_KIND:
            self._shown[kind] += 1
            self.examples.append(
                {
                    "kind": kind,
                    "where": where,
                    "resource": resource,
                    "field": fld,
                    "message": message,
                    "count": str(count),
                }
            )

    def merge(self, other: Skips) -> None:
        for row in other.examples:
            self.add(
                row["kind"],
                row["where"],
                row["message"],
                resource=row["resource"],
                fld=row["field"],
                count=0,
            )
        self.counts.update(other.counts)


@dataclass
class AuditStats:
    files: int = 0
    bytes: int = 0
    lines: int = 0
    patients: int = 0
    selected_patients: int = 0
    audited_patients: int = 0
    findings: int = 0
    partitions: int = 0
    seconds: float = 0.0
    skips: Skips = field(default_factory=Skips)


RowSink = Callable[[list[Row]], None]


def run(
    export: Export,
    *,
    as_of: datetime,
    knowledge: Knowledge,
    sink: RowSink,
    workers: int | None = None,
    progress: Progress | None = None,
    no_dialysis_unless_recorded: bool = True,
) -> AuditStats:
    """Audit ``export`` at ``as_of``; finding rows go to ``sink`` (patients in a stable
    order: partition by partition, patient id within). Returns the counts."""
    import time

    started = time.perf_counter()
    stats = AuditStats(files=len(export.sources), bytes=export.total_bytes)
    selected = select_patients(export.sources, knowledge)
    stats.selected_patients = len(selected)
    parts = partitions(len(selected), workers)
    stats.partitions = parts
    with tempfile.TemporaryDirectory(prefix="cmvrx-audit-") as tmp:
        paths = gather(export.sources, selected, parts, Path(tmp), stats, progress)
        for rows, skips, audited in _audit_partitions(
            paths, as_of, workers, no_dialysis_unless_recorded
        ):
            stats.audited_patients += audited
            stats.findings += len(rows)
            stats.skips.merge(skips)
            sink(rows)
            if progress:
                progress("audit", stats.audited_patients, len(selected))
    stats.seconds = time.perf_counter() - started
    return stats


def partitions(selected: int, workers: int | None) -> int:
    """Enough partitions to hold ~``PATIENTS_PER_PARTITION`` patients each, and at least
    two per worker (when there are patients enough to share)."""
    cores = workers if workers is not None else (os.cpu_count() or 1)
    by_size = math.ceil(selected / PATIENTS_PER_PARTITION)
    by_workers = min(2 * cores, selected // 50)
    return max(1, min(MAX_PARTITIONS, max(by_size, by_workers)))


# --- 1. select --------------------------------------------------------------------------


def select_patients(sources: Sequence[Source], k: Knowledge) -> set[str]:
    """Ids of the patients with a CMV antiviral medication resource."""
    selected: set[str] = set()
    antiviral_meds: set[str] = set()
    pending: list[tuple[str, str]] = []  # (Medication reference, patient id)
    scan = [s for s in sources if may_hold_medications(s)]
    scan.sort(key=lambda s: s.declared_type != "Medication")  # Medication first
    for source in scan:
        for _, lines in blocks(source.path):
            for line in lines:
                if not may_be_cmv_antiviral(line, k):
                    continue
                try:
                    resource = json.loads(line)
                except (ValueError, RecursionError):
                    continue  # counted with its line by the gather pass
                if not isinstance(resource, dict):
                    continue
                _select_one(resource, k, selected, antiviral_meds, pending)
    for ref, pid in pending:
        if "/".join(ref.rsplit("/", 2)[-2:]) in antiviral_meds:
            selected.add(pid)
    return selected


#: Declared types whose files are not scanned for medications (a line of another type in
#: such a file is reported by the gather pass as not the declared type).
NOT_MEDICATION_TYPES = frozenset(
    {
        "Patient",
        "Observation",
        "Condition",
        "Procedure",
        "AllergyIntolerance",
        "Encounter",
        "Claim",
        "ExplanationOfBenefit",
        "DiagnosticReport",
        "DocumentReference",
        "Immunization",
        "CarePlan",
        "CareTeam",
        "Device",
        "ImagingStudy",
        "Provenance",
        "Organization",
        "Practitioner",
        "PractitionerRole",
        "Location",
        "Goal",
        "Coverage",
    }
)


def may_hold_medications(source: Source) -> bool:
    return source.declared_type not in NOT_MEDICATION_TYPES


def _select_one(
    resource: dict[str, Any],
    k: Knowledge,
    selected: set[str],
    antiviral_meds: set[str],
    pending: list[tuple[str, str]],
) -> None:
    kind = resource.get("resourceType")
    if kind == "Medication":
        if is_cmv_antiviral(resource.get("code"), k):
            antiviral_meds.add(f"Medication/{resource.get('id')}")
        return
    pid = patient_of(resource)
    if pid is None or kind not in MED_TYPES:
        return
    if is_cmv_antiviral_order(resource, k):
        selected.add(pid)
        return
    ref = medication_reference(resource)
    if ref is not None:
        pending.append((ref, pid))


# --- 2. gather --------------------------------------------------------------------------


def gather(
    sources: Sequence[Source],
    selected: set[str],
    parts: int,
    folder: Path,
    stats: AuditStats,
    progress: Progress | None = None,
) -> list[Path]:
    """Spill the selected patients' lines to ``parts`` partition files; count the rest."""
    import polars as pl

    from cmvrx.fhir.inbound import READ_TYPES

    wanted = pl.Series("pid", sorted(selected), dtype=pl.String)
    paths = [folder / f"part-{i:04d}.txt" for i in range(parts)]
    handles = [p.open("w", encoding="utf-8") for p in paths]
    patients: list[pl.DataFrame] = []
    referenced: list[pl.DataFrame] = []
    done = 0
    try:
        for source in sources:
            for first, lines in blocks(source.path):
                frame = _frame(pl, lines, first)
                stats.lines += frame.height
                _count_bad(pl, frame, source, READ_TYPES, stats.skips)
                patients.append(
                    frame.filter(pl.col("type") == "Patient").select(pl.col("pid").unique())
                )
                referenced.append(
                    frame.filter((pl.col("type") != "Patient") & pl.col("pid").is_not_null())
                    .group_by("pid")
                    .agg(pl.col("n").min())
                    .with_columns(pl.lit(source.name).alias("file"))
                )
                _spill(pl, frame, wanted, parts, source.name, handles)
                done += sum(len(x) + 1 for x in lines)
                if progress:
                    progress("read", done, stats.bytes)
                if len(referenced) > 64:
                    patients = [pl.concat(patients).unique()]
                    referenced = [_first_refs(pl, referenced)]
    finally:
        for h in handles:
            h.close()
    _missing_patients(pl, patients, referenced, stats)
    return paths


def _frame(pl: Any, lines: list[str], first: int) -> Any:
    line = pl.col("line")
    rtype = line.str.extract(_RTYPE, 1)
    own = line.str.extract(_OWN_ID, 1)
    ref = pl.coalesce(line.str.extract(_PATIENT_REF, 1), line.str.extract(_URN_REF, 1))
    return (
        pl.DataFrame({"line": lines}, schema={"line": pl.String})
        .with_row_index("n", offset=first)
        .filter(line.str.strip_chars() != "")
        .with_columns(rtype.alias("type"))
        .with_columns(pl.when(pl.col("type") == "Patient").then(own).otherwise(ref).alias("pid"))
    )


def _count_bad(pl: Any, frame: Any, source: Source, read: frozenset[str], skips: Skips) -> None:
    text = pl.col("line").str.strip_chars()
    bad = frame.filter(
        ~text.str.starts_with("{") | ~text.str.ends_with("}") | pl.col("type").is_null()
    )
    for n in bad.get_column("n").to_list():
        skips.add(
            "malformed line", f"{source.name}:{n}", "not one JSON resource with a resourceType"
        )
    unknown = (
        frame.filter(pl.col("type").is_not_null() & ~pl.col("type").is_in(sorted(read)))
        .group_by("type")
        .agg(pl.len().alias("count"), pl.col("n").min().alias("first"))
        .sort("type")
    )
    for kind, count, first in unknown.iter_rows():
        skips.add(
            "resource type not read",
            f"{source.name}:{first}",
            f"{kind}: not read by cmvrx ({count} line(s) in this block from here)",
            resource=kind,
            count=count,
        )
    if source.declared_type is not None:
        other = frame.filter(
            pl.col("type").is_not_null() & (pl.col("type") != source.declared_type)
        )
        for n, kind in other.select("n", "type").iter_rows():
            skips.add(
                "not the declared type",
                f"{source.name}:{n}",
                f"a {kind} in a file the manifest declares {source.declared_type}",
                resource=kind,
            )
    orphans = frame.filter(
        pl.col("type").is_not_null()
        & pl.col("type").is_in(sorted(read))
        & (pl.col("type") != "Medication")
        & pl.col("pid").is_null()
    )
    for n in orphans.get_column("n").to_list():
        skips.add("no patient", f"{source.name}:{n}", "names no patient (subject/patient)")


def _spill(pl: Any, frame: Any, wanted: Any, parts: int, name: str, handles: Sequence[Any]) -> None:
    keep = frame.filter(pl.col("pid").is_in(wanted.implode())).with_columns(
        (pl.col("pid").hash(seed=0) % parts).alias("part")
    )
    for part, n, pid, line in keep.select("part", "n", "pid", "line").iter_rows():
        handles[part].write(f"{name}:{n}{_SEP}{pid}{_SEP}{line}\n")


def _first_refs(pl: Any, frames: list[Any]) -> Any:
    return pl.concat(frames).sort("file", "n").unique("pid", keep="first")


def _missing_patients(
    pl: Any, patients: list[Any], referenced: list[Any], stats: AuditStats
) -> None:
    known = pl.concat(patients).unique() if patients else pl.DataFrame({"pid": []})
    stats.patients = known.height
    if not referenced:
        return
    refs = _first_refs(pl, referenced)
    missing = refs.join(known, on="pid", how="anti").sort("file", "n")
    for pid, n, name in missing.select("pid", "n", "file").iter_rows():
        stats.skips.add(
            "missing patient",
            f"{name}:{n}",
            f"Patient/{pid} is referenced but not in the export",
            resource=f"Patient/{pid}",
        )


# --- 3. audit ---------------------------------------------------------------------------


def _audit_partitions(
    paths: Sequence[Path], as_of: datetime, workers: int | None, no_dialysis: bool
) -> Iterator[tuple[list[Row], Skips, int]]:
    jobs = [str(p) for p in paths if p.stat().st_size > 0]
    n = workers if workers is not None else min(len(jobs), os.cpu_count() or 1)
    if n <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield audit_partition(job, as_of, no_dialysis)
        return
    import multiprocessing

    context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    with ProcessPoolExecutor(max_workers=n, mp_context=context) as pool:
        yield from pool.map(audit_partition, jobs, [as_of] * len(jobs), [no_dialysis] * len(jobs))


def audit_partition(path: str, as_of: datetime, no_dialysis: bool) -> tuple[list[Row], Skips, int]:
    """One partition file: each patient's lines reviewed; (rows, skips, patients)."""
    from cmvrx.api import load_knowledge
    from cmvrx.audit.patient import review_lines

    k = load_knowledge()
    groups: dict[str, list[tuple[str, str]]] = {}
    with Path(path).open(encoding="utf-8") as fh:
        for raw in fh:
            where, pid, line = raw.rstrip("\n").split(_SEP, 2)
            groups.setdefault(pid, []).append((where, line))
    rows: list[Row] = []
    skips = Skips()
    for pid in sorted(groups):
        review = review_lines(
            groups[pid], as_of=as_of, knowledge=k, no_dialysis_unless_recorded=no_dialysis
        )
        rows += [f.to_row() for f in review.findings]
        for p in review.problems:
            where = p.where or groups[pid][0][0]
            skips.add(f"mapping: {p.kind}", where, p.message, resource=p.resource, fld=p.field)
    return rows, skips, len(groups)

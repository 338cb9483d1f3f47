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
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cmvrx.audit.columns import Row
from cmvrx.audit.jsonline import LONG_NUMBER, MAX_OPEN, loads_fast, loads_for_selection, plain
from cmvrx.audit.select import (
    MED_TYPES,
    is_cmv_antiviral,
    is_cmv_antiviral_order,
    may_be_cmv_antiviral,
    medication_reference,
    patient_of,
)
from cmvrx.audit.sources import Export, Source, blocks
from cmvrx.fhir.inbound import subject_of
from cmvrx.knowledge.bundle import Knowledge

PATIENTS_PER_PARTITION = 2000
MAX_PARTITIONS = 512
EXAMPLES_PER_KIND = 200
_SEP = "\x1f"  # never in valid JSON: separates where, patient id and line in spill files
_RTYPE = r'"resourceType"\s*:\s*"([^"]*)"'
_PATIENT_REF = r'Patient/([^"/\x00-\x1f]+)"'  # a literal prefix: fast (a reference's tail)
_URN_REF = r'"reference"\s*:\s*"urn:uuid:([^"\x00-\x1f]+)"'
_OWN_ID = r'"id"\s*:\s*"([^"\x00-\x1f]+)"'

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
            if self._shown[row["kind"]] < EXAMPLES_PER_KIND:
                self._shown[row["kind"]] += 1
                self.examples.append(row)
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
    found = select(export.sources, knowledge)
    selected = found.patients
    stats.selected_patients = len(selected)
    parts = partitions(len(selected), workers)
    stats.partitions = parts
    # the worker processes are forked now, before Polars starts its threads (a fork of a
    # multithreaded process can deadlock), and load the knowledge while the gather runs
    with (
        tempfile.TemporaryDirectory(prefix="cmvrx-audit-") as tmp,
        _pool(_worker_count(workers, parts)) as pool,
    ):
        paths = gather(export.sources, selected, parts, Path(tmp), stats, progress)
        meds = Path(tmp) / "medications.txt"
        with meds.open("w", encoding="utf-8") as fh:
            for ref, (where, line) in sorted(found.medications.items()):
                fh.write(f"{where}{_SEP}{ref}{_SEP}{line}\n")
        for rows, skips, audited in _audit_partitions(
            pool, paths, str(meds), as_of, no_dialysis_unless_recorded
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


@dataclass
class Selection:
    """The patients to audit, and the CMV antiviral Medication resources (by reference
    ``Medication/<id>``: (where, line)) that their requests may point to."""

    patients: set[str] = field(default_factory=set)
    medications: dict[str, tuple[str, str]] = field(default_factory=dict)


def select_patients(sources: Sequence[Source], k: Knowledge) -> set[str]:
    """Ids of the patients with a CMV antiviral medication resource."""
    return select(sources, k).patients


def select(sources: Sequence[Source], k: Knowledge) -> Selection:
    """The patients with a CMV antiviral medication resource, and the Medications."""
    found = Selection()
    pending: list[tuple[str, str]] = []  # (Medication reference, patient id)
    scan = [s for s in sources if may_hold_medications(s)]
    scan.sort(key=lambda s: s.declared_type != "Medication")  # Medication first
    for source in scan:
        for first, lines in blocks(source.path):
            for offset, line in enumerate(lines):
                if not may_be_cmv_antiviral(line, k):
                    continue
                try:
                    resource = loads_for_selection(line)
                except (ValueError, RecursionError):
                    continue  # counted with its line by the gather pass
                if isinstance(resource, dict) and not _known(resource, found.patients):
                    where = f"{source.name}:{first + offset}"
                    _select_one(resource, k, found, pending, (where, line))
    for ref, pid in pending:
        if medication_key(ref) in found.medications:
            found.patients.add(pid)
    return found


def medication_key(ref: str) -> str:
    """``Medication/<id>`` from a reference (relative, absolute or versioned tails kept)."""
    return "/".join(ref.split("/_history/")[0].rsplit("/", 2)[-2:])


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


def _known(resource: dict[str, Any], patients: set[str]) -> bool:
    """A medication resource of a patient already selected: ``_select_one`` could only
    select that patient again (the drug matching, most of the cost, is skipped)."""
    if resource.get("resourceType") not in MED_TYPES:
        return False
    pid = subject_of(resource)
    return pid is not None and pid in patients


def _select_one(
    resource: dict[str, Any],
    k: Knowledge,
    found: Selection,
    pending: list[tuple[str, str]],
    at: tuple[str, str],
) -> None:
    kind = resource.get("resourceType")
    if kind == "Medication":
        if is_cmv_antiviral(resource.get("code"), k):
            found.medications[f"Medication/{resource.get('id')}"] = at
        return
    pid = patient_of(resource)
    if pid is None or kind not in MED_TYPES:
        return
    if is_cmv_antiviral_order(resource, k):
        found.patients.add(pid)
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
    index = PatientIndex(folder, buckets=index_buckets(stats.bytes))
    done = 0
    try:
        for source in sources:
            for first, lines in blocks(source.path):
                frame = _frame(pl, lines, first)
                stats.lines += frame.height
                _count_bad(pl, frame, source, READ_TYPES, stats.skips)
                index.add(pl, frame, source.name)
                _spill(pl, frame, wanted, parts, source.name, handles)
                done += sum(map(len, lines)) + len(lines)
                if progress:
                    progress("read", done, stats.bytes)
    finally:
        for h in handles:
            h.close()
        index.close()
    index.missing_patients(pl, stats)
    return paths


INDEX_BUCKET_BYTES = 64 * 1024 * 1024  # of export per bucket of the patient index
MAX_INDEX_BUCKETS = 128


def index_buckets(export_bytes: int) -> int:
    """Buckets of the patient index: one per ~``INDEX_BUCKET_BYTES`` of export, so the
    ids held at once stay about the same however large the export."""
    return max(1, min(MAX_INDEX_BUCKETS, math.ceil(export_bytes / INDEX_BUCKET_BYTES)))


class PatientIndex:
    """The Patient ids an export holds and the patients its other lines reference (first
    file:line each), spilled to disk by a hash of the patient id so that counting the
    patients and finding the missing ones holds one bucket at a time — memory stays
    flat as the cohort grows."""

    def __init__(self, folder: Path, buckets: int) -> None:
        self.buckets = buckets
        self.patient_paths = [folder / f"patients-{i:04d}.csv" for i in range(buckets)]
        self.ref_paths = [folder / f"refs-{i:04d}.csv" for i in range(buckets)]
        self._patients = [p.open("wb") for p in self.patient_paths]
        self._refs = [p.open("wb") for p in self.ref_paths]

    def add(self, pl: Any, frame: Any, name: str) -> None:
        """One block's Patient ids and (patient, first line, file) references."""
        bucket = (pl.col("pid").hash(seed=0) % self.buckets).alias("bucket")
        own = frame.filter(pl.col("type") == "Patient").select(pl.col("pid").unique())
        refs = (
            frame.filter((pl.col("type") != "Patient") & pl.col("pid").is_not_null())
            .group_by("pid")
            .agg(pl.col("n").min())
            .with_columns(pl.lit(name).alias("file"))
        )
        for data, handles in ((own, self._patients), (refs, self._refs)):
            if data.height == 0:
                continue
            for (b,), part in (
                data.with_columns(bucket)
                .partition_by("bucket", as_dict=True, include_key=False)
                .items()
            ):
                part.write_csv(handles[b], include_header=False, separator=_SEP)

    def close(self) -> None:
        for h in (*self._patients, *self._refs):
            h.close()

    def missing_patients(self, pl: Any, stats: AuditStats) -> None:
        """Count the patients (``stats.patients``) and report each referenced patient
        missing from the export at its first reference (file order, then line)."""
        stats.patients = 0
        missing = []
        for own_path, ref_path in zip(self.patient_paths, self.ref_paths, strict=True):
            known = _read(pl, own_path, {"pid": pl.String}).unique()
            stats.patients += known.height
            refs = _read(pl, ref_path, {"pid": pl.String, "n": pl.Int64, "file": pl.String})
            if refs.height:
                missing.append(_first_refs(pl, [refs]).join(known, on="pid", how="anti"))
        if not missing:
            return
        for pid, n, name in (
            pl.concat(missing).sort("file", "n").select("pid", "n", "file").iter_rows()
        ):
            stats.skips.add(
                "missing patient",
                f"{name}:{n}",
                f"Patient/{pid} is referenced but not in the export",
                resource=f"Patient/{pid}",
            )


def _read(pl: Any, path: Path, schema: dict[str, Any]) -> Any:
    if path.stat().st_size == 0:
        return pl.DataFrame(schema=schema)
    return pl.read_csv(path, has_header=False, separator=_SEP, schema=schema)


def _frame(pl: Any, lines: list[str], first: int) -> Any:
    """Lines with their number, resource type and patient id (the Patient's own id, else
    the patient it references). Each regex runs only on the rows that need it."""
    line = pl.col("line")
    frame = (
        pl.DataFrame({"line": lines}, schema={"line": pl.String})
        .with_row_index("n", offset=first)
        .filter(line.str.len_bytes() > 0)
        .with_columns(line.str.extract(_RTYPE, 1).alias("type"))
    )
    patients = frame.filter(pl.col("type") == "Patient")
    others = frame.filter((pl.col("type") != "Patient") | pl.col("type").is_null())
    patients = patients.with_columns(line.str.extract(_OWN_ID, 1).alias("pid"))
    others = others.with_columns(line.str.extract(_PATIENT_REF, 1).alias("pid"))
    urn = others.filter(pl.col("pid").is_null() & line.str.contains("urn:uuid:", literal=True))
    if urn.height:
        urn = urn.with_columns(line.str.extract(_URN_REF, 1).alias("pid"))
        others = pl.concat([others.filter(~pl.col("n").is_in(urn.get_column("n").implode())), urn])
    return pl.concat([patients, others]).sort("n")


def _count_bad(pl: Any, frame: Any, source: Source, read: frozenset[str], skips: Skips) -> None:
    text = pl.col("line").str.strip_chars_end()
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
    keep = frame.filter(pl.col("pid").is_in(wanted.implode()))
    if keep.height == 0:
        return
    # each spilled line ``file:n<SEP>pid<SEP>plain<SEP>line`` built columnar, written per
    # partition in frame (line) order; ``plain`` ("1"/"0"): ``jsonline.plain`` of the line
    line = pl.col("line")
    opening = line.str.count_matches("{", literal=True) + line.str.count_matches("[", literal=True)
    is_plain = ~line.str.contains(LONG_NUMBER) & (opening < MAX_OPEN)
    spilled = keep.select(
        (pl.col("pid").hash(seed=0) % parts).alias("part"),
        pl.concat_str(
            pl.lit(f"{name}:"),
            pl.col("n").cast(pl.String),
            pl.lit(_SEP),
            pl.col("pid"),
            pl.lit(_SEP),
            pl.when(is_plain).then(pl.lit("1")).otherwise(pl.lit("0")),
            pl.lit(_SEP),
            line,
        ).alias("out"),
    )
    for (part,), rows in spilled.partition_by("part", as_dict=True, maintain_order=True).items():
        handles[part].write("\n".join(rows.get_column("out").to_list()) + "\n")


def _first_refs(pl: Any, frames: list[Any]) -> Any:
    return pl.concat(frames).sort("file", "n").unique("pid", keep="first")


# --- 3. audit ---------------------------------------------------------------------------


def _worker_count(workers: int | None, parts: int) -> int:
    if workers is not None:
        return min(workers, parts)
    return min(parts, os.cpu_count() or 1)


@contextmanager
def _pool(n: int) -> Iterator[ProcessPoolExecutor | None]:
    """``n`` worker processes, all started (and loading the knowledge) on entry; None for one."""
    if n <= 1:
        yield None
        return
    import multiprocessing

    context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    with ProcessPoolExecutor(max_workers=n, mp_context=context) as pool:
        for _ in range(n):
            pool.submit(_warm)
        yield pool


def _warm() -> None:
    from cmvrx.api import load_knowledge

    load_knowledge()


def _audit_partitions(
    pool: ProcessPoolExecutor | None,
    paths: Sequence[Path],
    meds: str,
    as_of: datetime,
    no_dialysis: bool,
) -> Iterator[tuple[list[Row], Skips, int]]:
    jobs = [str(p) for p in paths if p.stat().st_size > 0]
    if pool is None:
        for job in jobs:
            yield audit_partition(job, as_of, no_dialysis, meds)
        return
    n = len(jobs)
    yield from pool.map(audit_partition, jobs, [as_of] * n, [no_dialysis] * n, [meds] * n)


def audit_partition(
    path: str, as_of: datetime, no_dialysis: bool, meds: str | None = None
) -> tuple[list[Row], Skips, int]:
    """One partition file: each patient's lines (with the Medication resources they
    reference) reviewed; (rows, skips, patients)."""
    from cmvrx.api import load_knowledge
    from cmvrx.audit.patient import review_lines

    k = load_knowledge()
    groups: dict[str, list[tuple[str, str]]] = {}
    exact: set[str] = set()  # patients with a line ``jsonline.plain`` does not hold
    with Path(path).open(encoding="utf-8") as fh:
        for raw in fh:
            where, pid, flag, line = raw.rstrip("\n").split(_SEP, 3)
            groups.setdefault(pid, []).append((where, line))
            if flag != "1":
                exact.add(pid)
    medications = _medications(meds)
    rows: list[Row] = []
    skips = Skips()
    for pid in sorted(groups):
        try:
            referenced = _referenced(groups[pid], medications)
            lines = groups[pid] + referenced
            fast = pid not in exact and all(plain(line) for _, line in referenced)
            review = review_lines(
                lines,
                as_of=as_of,
                knowledge=k,
                no_dialysis_unless_recorded=no_dialysis,
                loads=loads_fast if fast else json.loads,
            )
        except Exception as exc:  # one patient never stops the audit
            skips.add(
                "not audited (internal error)",
                groups[pid][0][0],
                f"Patient/{pid}: {type(exc).__name__} — report it; the others were audited",
                resource=f"Patient/{pid}",
            )
            continue
        rows += [f.to_row() for f in review.findings]
        for p in review.problems:
            where = p.where or groups[pid][0][0]
            skips.add(f"mapping: {p.kind}", where, p.message, resource=p.resource, fld=p.field)
    return rows, skips, len(groups)


_MED_REF = re.compile(r'"reference"\s*:\s*"([^"]*Medication/[^"]+)"')


def _medications(path: str | None) -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    if path is None or not Path(path).is_file():
        return out
    with Path(path).open(encoding="utf-8") as fh:
        for raw in fh:
            where, ref, line = raw.rstrip("\n").split(_SEP, 2)
            out[ref] = (where, line)
    return out


def _referenced(
    lines: Sequence[tuple[str, str]], medications: dict[str, tuple[str, str]]
) -> list[tuple[str, str]]:
    """The Medication lines the patient's lines reference (each once)."""
    if not medications:
        return []
    refs = {medication_key(m) for _, line in lines for m in _MED_REF.findall(line)}
    return [medications[r] for r in sorted(refs) if r in medications]

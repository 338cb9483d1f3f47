"""The Spark audit engine (``cmvrx audit --engine spark [--master URL]``, extra
``cmvrx[spark]``; imported only then): the same audit as the embedded engine, on PySpark,
``local[*]`` or a cluster, from local paths or any Hadoop-compatible URI (``hdfs://``,
``s3a://``, ``abfs://`` …).

1. **Read** every NDJSON file as text lines (Spark SQL), with each line's resource type
   and patient id extracted in the JVM by the embedded engine's own regexes.
2. **Select** — the lines that may be CMV antiviral medication resources (the same
   cheap text test, ``select.line_pattern``) are parsed and matched by the FHIR layer's
   drug matching on the executors; the ids of the patients with a CMV antiviral
   medication resource come back to the driver (small) and are broadcast.
3. **Audit** — only those patients' lines are kept (a broadcast join), partitioned by
   patient id and grouped; each patient's lines, in file order, go to
   ``patient.review_lines`` — the one clinical step both engines share — in parallel.
   Finding rows (few) return to the driver and go to the caller's ``sink`` (the audit's
   writers: findings.csv, findings.parquet, summary, report).

The clinical work is per patient and embarrassingly parallel: on a cluster it scales
with the executors' cores; the driver only holds the selected ids and the findings.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cmvrx.audit.columns import FINDING_COLUMNS, Row
from cmvrx.audit.embedded import (
    _OWN_ID,
    _PATIENT_REF,
    _RTYPE,
    _URN_REF,
    NOT_MEDICATION_TYPES,
    AuditStats,
    Selection,
    _referenced,
    _select_one,
    may_hold_medications,
    medication_key,
)
from cmvrx.audit.select import line_pattern
from cmvrx.errors import CmvrxError
from cmvrx.knowledge.bundle import Knowledge

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

RowSink = Callable[[list[Row]], None]
APP_NAME = "cmvrx-audit"
PATIENTS_PER_TASK = 500
_URI = ("hdfs:", "s3:", "s3a:", "s3n:", "gs:", "abfs:", "abfss:", "wasb:", "wasbs:", "viewfs:")


# ------------------------------------------------------------------------------- session


def session(master: str | None = None) -> SparkSession:
    """The Spark session (``master``: ``local[*]`` when not given and none is running;
    with ``spark-submit`` the master comes from the submission). Executors run this
    Python (``PYSPARK_PYTHON`` overrides it)."""
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(APP_NAME)
    if master is None and not _submitted():
        master = "local[*]"
    if master is not None:
        builder = builder.master(master)
    if master is not None and master.startswith("local"):
        # one machine: a few shuffle partitions, not the cluster default of 200
        builder = builder.config("spark.sql.shuffle.partitions", "4")
    spark = builder.config("spark.ui.showConsoleProgress", "false").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")  # Spark's WARN chatter would bury the summary
    return spark


def _submitted() -> bool:
    """Running under spark-submit (which sets the master itself)?"""
    return "SPARK_ENV_LOADED" in os.environ or "SPARK_SUBMIT" in os.environ


# ------------------------------------------------------------------------------- inputs


def input_files(paths: Sequence[str]) -> tuple[list[str], list[str]]:
    """(all NDJSON inputs, those to scan for CMV antiviral medications). Local paths go
    through the audit's ``discover`` (manifest, folders); a URI is a file, a glob, or a
    folder (``/*.ndjson``). Files whose manifest type (or name) is a non-medication
    resource type are not scanned for the selection."""
    from cmvrx.audit.sources import discover

    files: list[str] = []
    scan: list[str] = []
    local = [p for p in paths if not _is_uri(p)]
    if local:
        for s in discover(local).sources:
            uri = s.path.resolve().as_uri()
            files.append(uri)
            if may_hold_medications(s):
                scan.append(uri)
    for p in paths:
        if not _is_uri(p):
            continue
        target = (
            p
            if p.endswith((".ndjson", ".ndjson.gz", ".json", "*"))
            else p.rstrip("/") + "/*.ndjson"
        )
        files.append(target)
        name = target.rsplit("/", 1)[-1].split(".", 1)[0]
        if name not in NOT_MEDICATION_TYPES:  # by the file's name, as Bulk Data names them
            scan.append(target)
    return files, scan


def _is_uri(path: str) -> bool:
    return path.startswith(_URI) or path.startswith("file:")


def _lines(spark: SparkSession, files: Sequence[str]) -> DataFrame:
    """file, n (file order), lineno, line, type, pid — type and pid by the embedded
    regexes; ``lineno`` the line's number in its file, as the embedded engine counts."""
    from pyspark.sql import functions as sf

    line = sf.col("line")
    rtype = sf.regexp_extract(line, _RTYPE, 1)
    own = sf.regexp_extract(line, _OWN_ID, 1)
    ref = sf.regexp_extract(line, _PATIENT_REF, 1)
    urn = sf.regexp_extract(line, _URN_REF, 1)
    pid = sf.when(rtype == "Patient", own).otherwise(sf.when(ref != "", ref).otherwise(urn))
    raw = spark.read.text(list(files)).select(
        sf.input_file_name().alias("file"),
        sf.input_file_block_start().alias("block"),
        sf.monotonically_increasing_id().alias("n"),
        sf.col("value").alias("line"),
    )
    return (
        raw.join(sf.broadcast(_block_offsets(spark, raw)), on=["file", "block"])
        .withColumn("lineno", sf.col("n") + sf.col("offset"))
        .drop("block", "offset")
        .where(sf.length(sf.col("line")) > 0)
        .withColumn("type", rtype)
        .withColumn("pid", sf.when(pid == "", sf.lit(None)).otherwise(pid))
    )


def _block_offsets(spark: SparkSession, raw: DataFrame) -> DataFrame:
    """(file, block, offset): ``n + offset`` is a line's number in its file.

    Spark does not number lines, but each block (split) of a file is read whole by one
    task, whose row ids (``n``) run consecutively; so a line's number is the lines of the
    file's earlier blocks, plus its place in its block. One small aggregate (a row per
    block) is brought to the driver for the sums."""
    from pyspark.sql import functions as sf

    blocks = raw.groupBy("file", "block").agg(
        sf.min("n").alias("first"), sf.count(sf.lit(1)).alias("rows")
    )
    out: list[tuple[str, int, int]] = []
    before: dict[str, int] = {}
    for row in sorted(blocks.collect(), key=lambda r: (r["file"], r["block"])):
        done = before.get(row["file"], 0)
        out.append((row["file"], row["block"], done + 1 - row["first"]))
        before[row["file"]] = done + row["rows"]
    return spark.createDataFrame(out, "file string, block long, offset long")


# ------------------------------------------------------------------------------- select


def _select_partition(rows: Iterable[Any]) -> Iterator[tuple[str, ...]]:
    """Executor side of the selection: ("sel", pid) | ("med", ref, where, line) |
    ("pend", ref, pid) — as the embedded engine's ``select``."""
    from cmvrx.api import load_knowledge

    k = load_knowledge()
    found = Selection()
    pending: list[tuple[str, str]] = []
    for file, lineno, line in rows:
        try:
            resource = json.loads(line)
        except (ValueError, RecursionError):
            continue  # counted by the statistics pass
        if isinstance(resource, dict):
            _select_one(resource, k, found, pending, (_where(file, lineno), line))
    yield from (("sel", p) for p in found.patients)
    yield from (("med", ref, where, line) for ref, (where, line) in found.medications.items())
    yield from (("pend", ref, pid) for ref, pid in pending)


def _where(file: str, lineno: int) -> str:
    """Where a line came from: ``name:line`` (as the embedded engine writes it)."""
    return f"{Path(file).name}:{lineno}"


def select_patients(lines: DataFrame, k: Knowledge) -> Selection:
    """The patients with a CMV antiviral medication resource, and the CMV antiviral
    Medication resources their requests may reference (as the embedded ``select``)."""
    from pyspark.sql import functions as sf

    pattern = "(?i)" + line_pattern(k).pattern
    candidates = lines.where(
        sf.col("line").contains("Medication")
        & (sf.col("line").contains("medicationReference") | sf.col("line").rlike(pattern))
    ).select("file", "lineno", "line")
    found = sorted(candidates.rdd.mapPartitions(_select_partition).distinct().collect())
    selection = Selection()
    for t in found:
        if t[0] == "sel":
            selection.patients.add(t[1])
        elif t[0] == "med":
            selection.medications.setdefault(t[1], (t[2], t[3]))
    for t in found:
        if t[0] == "pend" and medication_key(t[1]) in selection.medications:
            selection.patients.add(t[2])
    return selection


# ------------------------------------------------------------------------------- audit


def _audit_group(
    as_of: datetime,
    no_dialysis: bool,
    medications: Any,
    rank: Any,
) -> Callable[[tuple[str, Iterable[tuple[str, int, str]]]], list[tuple[str, Any]]]:
    """The per-patient step: the patient's lines in file order (the inputs' order, then
    the line's place), with the Medication resources they reference, to ``review_lines``
    — the one clinical step both engines share. ``medications``/``rank``: broadcasts."""

    def audit(group: tuple[str, Iterable[tuple[str, int, str]]]) -> list[tuple[str, Any]]:
        from cmvrx.api import load_knowledge
        from cmvrx.audit.patient import review_lines

        pid, members = group
        order = rank.value
        ordered = sorted(members, key=lambda m: (order.get(m[0], len(order)), m[0], m[1]))
        lines = [(_where(f, lineno), line) for f, lineno, line in ordered]
        where = lines[0][0] if lines else ""
        try:
            lines += _referenced(lines, medications.value)
            review = review_lines(
                lines,
                as_of=as_of,
                knowledge=load_knowledge(),
                no_dialysis_unless_recorded=no_dialysis,
            )
        except Exception as exc:  # one patient never stops the audit (as embedded)
            message = f"Patient/{pid}: {type(exc).__name__} — report it; the others were audited"
            return [
                ("skip", ("not audited (internal error)", where, message, f"Patient/{pid}", ""))
            ]
        out: list[tuple[str, Any]] = [("row", f.to_row()) for f in review.findings]
        out += [
            (
                "skip",
                (f"mapping: {p.kind}", p.where or where, p.message, p.resource, p.field),
            )
            for p in review.problems
        ]
        return out

    return audit


def run(
    paths: list[str],
    *,
    as_of: datetime,
    knowledge: Knowledge,
    sink: RowSink,
    master: str | None = None,
    no_dialysis_unless_recorded: bool = True,
    spark: SparkSession | None = None,
) -> AuditStats:
    """Audit ``paths`` at ``as_of`` on Spark; finding rows go to ``sink`` (by patient
    id). ``spark``: an existing session (tests reuse one), else one for ``master``."""
    from pyspark.sql import functions as sf

    started = time.perf_counter()
    _same_knowledge(knowledge)
    spark = spark or session(master)
    files, scan = input_files(paths)
    stats = AuditStats(files=len(files))
    lines = _lines(spark, files)
    _statistics(lines, stats, files)
    scan_lines = lines if set(scan) == set(files) else _lines(spark, scan)
    selection = select_patients(scan_lines, knowledge)
    selected = selection.patients
    stats.selected_patients = len(selected)
    if selected:
        ids = spark.createDataFrame([(p,) for p in sorted(selected)], "pid string")
        medications = spark.sparkContext.broadcast(dict(selection.medications))
        rank = spark.sparkContext.broadcast({f: i for i, f in enumerate(files)})
        kept = lines.join(sf.broadcast(ids), on="pid", how="inner").select(
            "pid", "file", "lineno", "line"
        )
        parts = max(1, min(4096, -(-len(selected) // PATIENTS_PER_TASK)))
        parts = max(parts, spark.sparkContext.defaultParallelism)
        out = (
            kept.rdd.map(lambda r: (r[0], (r[1], r[2], r[3])))
            .groupByKey(numPartitions=parts)
            .flatMap(_audit_group(as_of, no_dialysis_unless_recorded, medications, rank))
            .collect()
        )
        rows = sorted(
            (r for tag, r in out if tag == "row"),
            key=lambda r: tuple(r[c] or "" for c in FINDING_COLUMNS),
        )
        versions = {r["knowledge_version"] for r in rows} - {knowledge.version}
        if versions:
            raise CmvrxError(
                f"the executors judged with knowledge {', '.join(sorted(map(str, versions)))},"
                f" the driver has {knowledge.version}: install the same cmvrx on every node"
            )
        for tag, s in out:
            if tag == "skip":
                kind, where, message, resource, fld = s
                stats.skips.add(kind, where, message, resource=resource, fld=fld)
        stats.audited_patients = len(selected)
        stats.findings = len(rows)
        sink(rows)
    stats.seconds = time.perf_counter() - started
    return stats


def _same_knowledge(knowledge: Knowledge) -> None:
    """Executors load the bundled knowledge: a run with other knowledge (overrides)
    would judge on the executors with values the caller did not choose — refused."""
    from cmvrx.api import load_knowledge

    if knowledge.content_hash != load_knowledge().content_hash:
        raise CmvrxError(
            "the Spark engine audits with the bundled knowledge only (overrides are not"
            " shipped to the executors): run the embedded engine for changed values"
        )


def _statistics(lines: DataFrame, stats: AuditStats, files: Sequence[str]) -> None:
    """Lines, patients, malformed lines and resource types not read (one pass), then
    the examples with their file and line (the first ones in input order, as the
    embedded engine shows them)."""
    from pyspark.sql import functions as sf

    from cmvrx.audit.embedded import EXAMPLES_PER_KIND
    from cmvrx.fhir.inbound import READ_TYPES

    text = sf.rtrim(sf.col("line"))
    bad = ~text.startswith("{") | ~text.endswith("}") | (sf.col("type") == "")
    unread = (sf.col("type") != "") & ~sf.col("type").isin(sorted(READ_TYPES))
    row = lines.agg(
        sf.count(sf.lit(1)).alias("lines"),
        sf.countDistinct(sf.when(sf.col("type") == "Patient", sf.col("pid"))).alias("patients"),
        sf.sum(sf.when(bad, 1).otherwise(0)).alias("bad"),
        sf.sum(sf.when(unread, 1).otherwise(0)).alias("unread"),
    ).first()
    if row is None:  # pragma: no cover - an aggregate always has a row
        return
    stats.lines = int(row["lines"] or 0)
    stats.patients = int(row["patients"] or 0)
    rank = sf.create_map(*[sf.lit(x) for i, f in enumerate(files) for x in (f, i)])
    ordered = lines.withColumn("rank", sf.coalesce(rank[sf.col("file")], sf.lit(len(files))))
    if row["bad"]:
        shown = (
            ordered.where(bad)
            .orderBy("rank", "file", "lineno")
            .select("file", "lineno")
            .limit(EXAMPLES_PER_KIND)
            .collect()
        )
        for r in shown:
            stats.skips.add(
                "malformed line",
                _where(r["file"], r["lineno"]),
                "not one JSON resource with a resourceType",
            )
        rest = int(row["bad"]) - len(shown)
        if rest > 0:  # counted; past the examples shown
            stats.skips.add(
                "malformed line", "", "not one JSON resource with a resourceType", count=rest
            )
    if row["unread"]:
        for r in (
            ordered.where(unread)
            .groupBy("type")
            .agg(
                sf.count(sf.lit(1)).alias("count"),
                sf.min(sf.struct("rank", "file", "lineno")).alias("first"),
            )
            .orderBy("type")
            .collect()
        ):
            first = r["first"]
            stats.skips.add(
                "resource type not read",
                _where(first["file"], first["lineno"]),
                f"{r['type']}: not read by cmvrx ({r['count']} line(s) from here on)",
                resource=r["type"],
                count=int(r["count"]),
            )

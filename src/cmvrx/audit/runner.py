"""One audit run: resolve ``as_of`` (``--as-of``, else the manifest's
``transactionTime``, else now), run the engine (embedded, or Spark imported only then),
write the outputs. ``api.audit`` calls this; the CLI calls ``api.audit``.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cmvrx.audit.embedded import AuditStats, Progress, RowSink
from cmvrx.audit.outputs import FindingWriter, RunFacts, report_html, summary_text, write_skips
from cmvrx.errors import CmvrxError, InputError
from cmvrx.knowledge.bundle import Knowledge

ENGINES = ("embedded", "spark")
SPARK_MODULE = "cmvrx.audit.spark"


@dataclass(frozen=True)
class AuditRun:
    """What a run wrote and counted."""

    out: Path
    facts: RunFacts
    findings: int
    by_kind: dict[str, int]
    summary: str


def resolve_as_of(as_of: datetime | None, paths: Sequence[str]) -> tuple[datetime, str]:
    """(as_of, where it came from)."""
    if as_of is not None:
        if as_of.tzinfo is None:
            raise InputError("as_of must carry a time zone", field="--as-of")
        return as_of, "--as-of"
    if all("://" not in p or p.startswith("file:") for p in paths):
        from cmvrx.audit.sources import discover

        when = discover(paths).transaction_time
        if when is not None:
            return when, "manifest transactionTime"
    return datetime.now(UTC), "now"


def run_audit(
    paths: Sequence[str],
    *,
    out: Path,
    knowledge: Knowledge,
    as_of: datetime | None = None,
    engine: str = "embedded",
    master: str | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    no_dialysis_unless_recorded: bool = True,
) -> AuditRun:
    if engine not in ENGINES:
        raise InputError(f"engine {engine!r}: use {' or '.join(ENGINES)}", field="--engine")
    if master is not None and engine != "spark":
        raise InputError("--master is for --engine spark", field="--master")
    if not paths:
        raise InputError("give at least one export path", field="PATH")
    if engine == "embedded":
        _require_polars()
    when, source = resolve_as_of(as_of, paths)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create {str(out)!r}: {exc.strerror}", field="--out") from exc
    writer = FindingWriter(out)
    try:
        if engine == "embedded":
            stats = _embedded(
                paths, when, knowledge, writer.write, workers, progress, no_dialysis_unless_recorded
            )
        else:
            stats = _spark(
                paths, when, knowledge, writer.write, master, no_dialysis_unless_recorded
            )
    finally:
        writer.close()
    return _finish(out, writer, stats, when, source, engine, knowledge)


def _require_polars() -> None:
    try:
        importlib.import_module("polars")
    except ImportError:
        raise CmvrxError("the audit needs Polars: pip install 'cmvrx[audit]'") from None


def _embedded(
    paths: Sequence[str],
    as_of: datetime,
    knowledge: Knowledge,
    sink: RowSink,
    workers: int | None,
    progress: Progress | None,
    no_dialysis: bool,
) -> AuditStats:
    from cmvrx.audit import embedded
    from cmvrx.audit.sources import discover

    return embedded.run(
        discover(paths),
        as_of=as_of,
        knowledge=knowledge,
        sink=sink,
        workers=workers,
        progress=progress,
        no_dialysis_unless_recorded=no_dialysis,
    )


def _spark(
    paths: Sequence[str],
    as_of: datetime,
    knowledge: Knowledge,
    sink: RowSink,
    master: str | None,
    no_dialysis: bool,
) -> AuditStats:
    """The Spark engine (``cmvrx.audit.spark.run``, extra ``cmvrx[spark]``), imported only now."""
    try:
        importlib.import_module("pyspark")
    except ImportError:
        raise CmvrxError(
            "--engine spark needs PySpark: pip install 'cmvrx[spark]' (and Java 17)"
        ) from None
    try:
        module = importlib.import_module(SPARK_MODULE)
    except ImportError as exc:
        raise CmvrxError(f"the Spark engine is not available here: {exc}") from None
    stats: AuditStats = module.run(
        list(paths),
        as_of=as_of,
        knowledge=knowledge,
        sink=sink,
        master=master,
        no_dialysis_unless_recorded=no_dialysis,
    )
    return stats


def _finish(
    out: Path,
    writer: FindingWriter,
    stats: AuditStats,
    as_of: datetime,
    source: str,
    engine: str,
    k: Knowledge,
) -> AuditRun:
    from cmvrx.model.plan import DISCLAIMER

    write_skips(out / "skipped.csv", stats.skips.examples)
    facts = RunFacts(
        as_of=as_of.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        as_of_source=source,
        engine=engine,
        knowledge_version=k.version,
        knowledge_hash=k.content_hash,
        disclaimer=DISCLAIMER,
        files=stats.files,
        lines=stats.lines,
        patients=stats.patients,
        selected=stats.selected_patients,
        audited=stats.audited_patients,
        seconds=stats.seconds,
        skipped=dict(stats.skips.counts),
    )
    text = summary_text(writer, facts)
    (out / "summary.txt").write_text(text, encoding="utf-8")
    (out / "report.html").write_text(report_html(writer, facts), encoding="utf-8")
    return AuditRun(out, facts, writer.count, dict(writer.by_kind), text)

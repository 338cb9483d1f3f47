"""``cmvrx audit``: a FHIR Bulk Data export audited — every CMV antiviral order checked
(a thin wrapper over ``cmvrx.api.audit``; docs/audit.md). Exit 0 when the audit ran
(findings or not); 2 for bad input (a path, ``--as-of``); 1 when the Spark engine is
asked for and not installed."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cmvrx import api
from cmvrx.cli.exits import FIELD_OPTIONS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

EPILOG = (
    "\b\nExample: cmvrx audit /data/export --out /tmp/audit\n"
    "  cmvrx audit Patient.ndjson MedicationRequest.ndjson --as-of 2026-03-10T12:00Z --out out\n"
    "  cmvrx audit hdfs:///exports/2026-03-10 --engine spark --master spark://host:7077 --out out\n"
    "\b\nOutputs in --out: findings.csv, findings.parquet, skipped.csv, summary.txt, report.html."
    "\nExit: 0 audited (findings or not), 2 bad input, 1 Spark engine not installed."
)


def audit(
    ctx: typer.Context,
    paths: Annotated[
        list[str],
        typer.Argument(
            metavar="PATH...",
            help="NDJSON files, folders of them, or an export folder with manifest.json.",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder for the outputs (created).")],
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            metavar="DATETIME",
            help="ISO 8601 with a time zone; default: the manifest's transactionTime, else now.",
        ),
    ] = None,
    engine: Annotated[
        str, typer.Option("--engine", help="embedded (default) or spark.")
    ] = "embedded",
    master: Annotated[
        str | None, typer.Option("--master", help="Spark master URL, e.g. local[2].")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers", min=1, help="Processes for the embedded engine (default: cores)."
        ),
    ] = None,
    require_dialysis_status: Annotated[
        bool,
        typer.Option(
            "--require-dialysis-status",
            help="Do not read 'no dialysis recorded' as no dialysis: such patients get "
            "insufficient_data.",
        ),
    ] = False,
) -> None:
    """Audit every CMV antiviral order of a FHIR Bulk Data export."""
    from cmvrx.cli.main import _parse_as_of

    ctx.meta[FIELD_OPTIONS] = {"as_of": "--as-of", "PATH": "PATH", "engine": "--engine"}
    when = _parse_as_of(as_of) if as_of is not None else None
    with _progress() as progress:
        run = api.audit(
            paths,
            out=out,
            as_of=when,
            engine=engine,
            master=master,
            workers=workers,
            progress=progress,
            no_dialysis_unless_recorded=not require_dialysis_status,
        )
    typer.echo(run.summary, nl=False)
    typer.echo(f"outputs: {run.out}")


class _Bar:
    """A Rich progress bar on stderr (only when stderr is a terminal)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self.tasks: dict[str, object] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        from rich.progress import TaskID

        if stage not in self.tasks:
            label = {"read": "reading export", "audit": "auditing patients"}.get(stage, stage)
            self.tasks[stage] = self.progress.add_task(label, total=max(total, 1), rate="")
        task = self.tasks[stage]
        assert isinstance(task, int)
        elapsed = self.progress.tasks[task].elapsed or 0.0
        unit = "MB" if stage == "read" else "patients"
        amount = done / 1e6 if stage == "read" else done
        rate = f"{amount / elapsed:,.1f} {unit}/s" if elapsed > 0 else ""
        self.progress.update(TaskID(task), completed=done, total=max(total, 1), rate=rate)


@contextmanager
def _progress() -> Iterator[Callable[[str, int, int], None] | None]:
    bar = _Bar() if sys.stderr.isatty() else None
    if bar is None:
        yield None
        return
    bar.progress.start()
    try:
        yield bar
    finally:
        bar.progress.stop()

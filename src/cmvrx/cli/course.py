"""`cmvrx course …`: follow one patient's treatment course (thin wrappers over cmvrx.api).

The store does the work (validation, transactions, migrations); these commands read
files, call it, and print. Errors are raised as cmvrx errors; ``cli.main`` maps them to
exit codes (input 2, storage 5).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cmvrx.errors import InputError

if TYPE_CHECKING:
    from rich.console import Console

    from cmvrx.model.course import Course

course_app = typer.Typer(
    help="Follow a patient's treatment course over weeks.", no_args_is_help=True
)

_DB_HELP = (
    "Database: a SQLite file path (recommended), or a URL: sqlite:///RELATIVE/PATH,"
    " sqlite:////ABSOLUTE/PATH (four slashes), postgresql+psycopg://USER@HOST/DB."
    " Default: $CMVRX_DB_URL, else ./cmvrx-courses.sqlite."
)
DbOption = Annotated[str | None, typer.Option("--db", metavar="URL|PATH", help=_DB_HELP)]
ReadOnlyOption = Annotated[
    bool,
    typer.Option(
        "--read-only",
        help="Open the database read-only (automatic when a SQLite file cannot be written).",
    ),
]
_NOT_RECORDED = "read-only database: this assessment was NOT recorded"


def _source(source: str) -> str | Path:
    """A file path, or the text of stdin for ``-`` (read by ``cmvrx.api`` through the one
    bounded reader)."""
    if source == "-":
        from cmvrx import reader

        return reader.read_stream(sys.stdin.buffer)
    return Path(source)


def _console() -> Console:
    from cmvrx.cli.render import console

    return console()


def _seq_range(seqs: list[int]) -> str:
    if not seqs:
        return "no events"
    return f"seq {seqs[0]}" if len(seqs) == 1 else f"seq {seqs[0]}–{seqs[-1]}"


@course_app.command(
    "new", epilog="Example: cmvrx course new cns-0001 --case examples/cns-encephalitis-hiv.yaml"
)
def new(
    course_id: Annotated[str, typer.Argument(help="A new, unique course id.")],
    case: Annotated[
        str, typer.Option("--case", metavar="CASE.yaml", help="The baseline case (YAML/JSON).")
    ],
    db: DbOption = None,
) -> None:
    """Start a course from a baseline case."""
    from cmvrx import api
    from cmvrx.store.validation import check_course_id

    check_course_id(course_id)  # before any file or database is touched
    baseline = api.load_case(Path(case))
    api.create_course(course_id, baseline, store=db)
    typer.echo(f"course {course_id} created (baseline case {baseline.case_id})")


@course_app.command(
    "add",
    epilog=(
        "Example: cmvrx course add cns-0001 pcr.yaml\n\n"
        "echo '{kind: note, at: 2026-11-25T08:00Z, text: MRI stable}' | cmvrx course add cns-0001 -"
    ),
)
def add(
    course_id: Annotated[str, typer.Argument(help="The course to add to.")],
    events: Annotated[
        str,
        typer.Argument(
            metavar="EVENT.yaml|-", help="One event or a list (YAML/JSON); - reads stdin."
        ),
    ],
    db: DbOption = None,
) -> None:
    """Record one event or a list of events (all or nothing)."""
    from cmvrx import api

    seqs = api.append_events(course_id, _source(events), store=db)
    typer.echo(f"added {len(seqs)} event(s) to {course_id} ({_seq_range(seqs)})")
    course, _ = api.get_course(course_id, store=db)
    _report_held(course, seqs, max(e.at for e in course.events))


def _report_held(course: Course, seqs: list[int], as_of: datetime) -> None:
    """Say which of the new events are stored but held for review (never used for a dose
    until confirmed or re-measured)."""
    from cmvrx import api

    for s in api.course_data_review(course, as_of=as_of):
        if s.seq in seqs and s.status == "held":
            typer.echo(
                f"seq {s.seq} ({s.what}) entered, HELD for review: {s.reason}; confirm with"
                f" `cmvrx course confirm {course.course_id} {s.seq}` or re-measure",
                err=True,
            )


@course_app.command(
    "retract",
    epilog=(
        "Example: cmvrx course retract cns-0001 7 --reason 'typed 50 for 1.1'"
        " (then add the corrected value)"
    ),
)
def retract(
    course_id: Annotated[str, typer.Argument(help="The course.")],
    seq: Annotated[int, typer.Argument(help="The seq of the event in error (course show).")],
    reason: Annotated[str, typer.Option("--reason", help="Why it is in error.")],
    at: Annotated[
        str | None,
        typer.Option("--at", metavar="ISO", help="When it was found (default: now, UTC)."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Mark an event entered in error: kept in the history, ignored by assess and chart."""
    event = {"kind": "entered_in_error", "at": _parse_as_of(at, field="--at"), "ref_seq": seq,
             "reason": reason}  # fmt: skip
    _append_reference(course_id, event, db, f"seq {seq} marked entered in error")


@course_app.command(
    "confirm", epilog="Example: cmvrx course confirm cns-0001 12 --note 're-weighed: 50 kg'"
)
def confirm(
    course_id: Annotated[str, typer.Argument(help="The course.")],
    seq: Annotated[int, typer.Argument(help="The seq of the held weight or lab.")],
    note: Annotated[str | None, typer.Option("--note", help="How it was confirmed.")] = None,
    at: Annotated[
        str | None,
        typer.Option("--at", metavar="ISO", help="When it was confirmed (default: now, UTC)."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Confirm a measurement held for review (implausible against the patient's own values)."""
    event: dict[str, object] = {
        "kind": "measurement_confirmed",
        "at": _parse_as_of(at, field="--at"),
        "ref_seq": seq,
    }
    if note:
        event["note"] = note
    _append_reference(course_id, event, db, f"seq {seq} confirmed")


def _append_reference(course_id: str, event: dict[str, object], db: str | None, done: str) -> None:
    from cmvrx import api

    (stored,) = api.append_events(course_id, [event], store=db)
    typer.echo(f"{done} in {course_id} (seq {stored})")


@course_app.command("import", epilog="Example: cmvrx course import examples/course-cns.yaml")
def import_course(
    file: Annotated[
        str,
        typer.Argument(
            metavar="FILE", help="course_id, baseline and events (YAML/JSON); - reads stdin."
        ),
    ],
    db: DbOption = None,
) -> None:
    """Import a whole course in one transaction (nothing is stored if any part is wrong)."""
    from cmvrx import api

    course_id, baseline, seqs = api.import_course(_source(file), store=db)
    typer.echo(
        f"course {course_id} imported: {len(seqs)} event(s) (baseline case {baseline.case_id})"
    )


@course_app.command("show", epilog="Example: cmvrx course show cns-0001")
def show(
    course_id: Annotated[str, typer.Argument(help="The course to show.")],
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the course as JSON (what `import` reads).")
    ] = False,
    db: DbOption = None,
    read_only: ReadOnlyOption = False,
) -> None:
    """The course's timeline in clinical order (with each event's seq), with its baseline."""
    from cmvrx import api

    course, assessed = api.get_course(course_id, store=db, read_only=read_only)
    if json_output:
        from cmvrx.store.documents import course_document

        typer.echo(json.dumps(course_document(course), indent=2, ensure_ascii=False))
        return
    from cmvrx.cli.course_render import render_course

    render_course(_console(), course, assessed)


@course_app.command(
    "assess",
    epilog="Example: cmvrx course assess example-course-cns --as-of 2026-12-15T12:00Z",
)
def assess(
    course_id: Annotated[str, typer.Argument(help="The course to assess.")],
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", metavar="ISO", help="Time of the assessment, with zone (default: now, UTC)."
        ),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print machine-readable JSON instead of the report.")
    ] = False,
    db: DbOption = None,
    read_only: ReadOnlyOption = False,
) -> None:
    """Where the course stands at --as-of; the assessment is recorded in the database
    (not on a read-only database: then the report says it was not recorded)."""
    from cmvrx import api

    when = _parse_as_of(as_of)
    result, assessment_id = api.assess_and_record(
        course_id, as_of=when, store=db, read_only=read_only
    )
    document = result.to_dict()
    note = _NOT_RECORDED if assessment_id is None else ""
    if json_output:
        extra: dict[str, object] = {"assessment_id": assessment_id}
        if note:
            extra["note"] = note
        typer.echo(json.dumps({**document, **extra}, indent=2, ensure_ascii=False))
        return
    from cmvrx.cli.course_render import render_assessment

    render_assessment(_console(), result, assessment_id=assessment_id, note=note)


@course_app.command(
    "chart",
    epilog=(
        "Example: cmvrx course chart example-course-cns --as-of 2026-12-15T12:00Z"
        " --png course.png --svg course.svg"
    ),
)
def chart(
    course_id: Annotated[str, typer.Argument(help="The course to draw.")],
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", metavar="ISO", help="Draw the course up to this time (default: now, UTC)."
        ),
    ] = None,
    png: Annotated[
        str | None, typer.Option("--png", metavar="FILE.png", help="Write a PNG here.")
    ] = None,
    svg: Annotated[
        str | None, typer.Option("--svg", metavar="FILE.svg", help="Write an SVG here.")
    ] = None,
    db: DbOption = None,
    read_only: ReadOnlyOption = False,
) -> None:
    """Chart the course: viral load (log10, detection limit), ANC, platelets, CrCl, therapy bands.

    Without --png/--svg, writes COURSE_ID.png and COURSE_ID.svg in the current directory.
    """
    from cmvrx import api

    when = _parse_as_of(as_of)
    if png is None and svg is None:
        from cmvrx.store.validation import check_course_id

        stem = check_course_id(course_id)  # a safe file-name stem: no '/', no '..'
        png, svg = f"{stem}.png", f"{stem}.svg"
    course, _ = api.get_course(course_id, store=db, read_only=read_only)
    written = api.chart_course(course, as_of=when, png_path=png, svg_path=svg)
    typer.echo("wrote " + ", ".join(str(path) for path in written))


def _parse_as_of(text: str | None, *, field: str = "--as-of") -> datetime:
    if text is None:
        return datetime.now(UTC)  # the CLI reads the clock; the engine never does
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"{text!r} is not an ISO 8601 date-time (e.g. 2026-11-24T08:00Z)", field=field
        ) from None
    if value.utcoffset() is None:
        raise InputError(f"{text!r} has no time zone (e.g. 2026-11-24T08:00Z)", field=field)
    return value


@course_app.command("list", epilog="Example: cmvrx course list --db courses.sqlite")
def list_courses(db: DbOption = None, read_only: ReadOnlyOption = False) -> None:
    """Every stored course with its event count and time span."""
    from cmvrx import api

    courses = api.list_courses(store=db, read_only=read_only)
    from cmvrx.cli.course_render import render_course_list

    render_course_list(_console(), courses)

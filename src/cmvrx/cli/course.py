"""`cmvrx course …`: follow one patient's treatment course (thin wrappers over cmvrx.store).

The store does the work (validation, transactions, migrations); these commands read
files, call it, and print. Errors are raised as cmvrx errors; ``cli.main`` maps them to
exit codes (input 2, storage 5).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cmvrx.errors import InputError

if TYPE_CHECKING:
    from rich.console import Console

    from cmvrx.store import CourseStore

course_app = typer.Typer(
    help="Follow a patient's treatment course over weeks.", no_args_is_help=True
)

_DB_HELP = (
    "Database: a SQLite file path or a URL (sqlite:///PATH, postgresql+psycopg://USER@HOST/DB)."
    " Default: $CMVRX_DB_URL, else ./cmvrx-courses.sqlite."
)
DbOption = Annotated[str | None, typer.Option("--db", metavar="URL|PATH", help=_DB_HELP)]


@contextmanager
def _store(db: str | None) -> Iterator[CourseStore]:
    from cmvrx.store import open_store

    store = open_store(db)
    try:
        yield store
    finally:
        store.close()


def _read(source: str) -> str:
    """A file's text, or stdin for ``-``."""
    from cmvrx import reader

    if source == "-":
        return reader.read_stream(sys.stdin.buffer)
    return reader.read_file(source)


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
    from cmvrx.api import load_case
    from cmvrx.store.validation import check_course_id

    check_course_id(course_id)  # before any file or database is touched
    baseline = load_case(Path(case))
    with _store(db) as store:
        store.create_course(course_id, baseline)
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
    from cmvrx.store.documents import events_from_document, parse_document

    parsed = events_from_document(parse_document(_read(events), name=events))
    with _store(db) as store:
        seqs = store.add_events(course_id, parsed)
    typer.echo(f"added {len(seqs)} event(s) to {course_id} ({_seq_range(seqs)})")


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
    from cmvrx.store.documents import course_from_document, parse_document

    course_id, baseline, events = course_from_document(parse_document(_read(file), name=file))
    with _store(db) as store:
        seqs = store.create_course(course_id, baseline, events=events)
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
) -> None:
    """The course's timeline in clinical order, with its baseline."""
    with _store(db) as store:
        course = store.get_course(course_id)
        assessed = store.list_assessments(course_id)
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
) -> None:
    """Where the course stands at --as-of; the assessment is recorded in the database."""
    from cmvrx import api

    when = _parse_as_of(as_of)
    with _store(db) as store:
        course = store.get_course(course_id)
        result = api.assess_course(course, as_of=when)
        document = result.to_dict()
        stamp = result.provenance
        assessment_id = store.record_assessment(
            course_id,
            when,
            stamp.knowledge_version,
            stamp.knowledge_hash,
            json.dumps(document, ensure_ascii=False),
            events_seen=len(course.events),
        )
    if json_output:
        typer.echo(
            json.dumps({**document, "assessment_id": assessment_id}, indent=2, ensure_ascii=False)
        )
        return
    from cmvrx.cli.course_render import render_assessment

    render_assessment(_console(), result, assessment_id=assessment_id)


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
    with _store(db) as store:
        course = store.get_course(course_id)
    written = api.chart_course(course, as_of=when, png_path=png, svg_path=svg)
    typer.echo("wrote " + ", ".join(str(path) for path in written))


def _parse_as_of(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)  # the CLI reads the clock; the engine never does
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"{text!r} is not an ISO 8601 date-time (e.g. 2026-11-24T08:00Z)", field="--as-of"
        ) from None
    if value.utcoffset() is None:
        raise InputError(f"{text!r} has no time zone (e.g. 2026-11-24T08:00Z)", field="--as-of")
    return value


@course_app.command("list", epilog="Example: cmvrx course list --db courses.sqlite")
def list_courses(db: DbOption = None) -> None:
    """Every stored course with its event count and time span."""
    with _store(db) as store:
        courses = store.list_courses()
    from cmvrx.cli.course_render import render_course_list

    render_course_list(_console(), courses)

"""Rich rendering of a stored course for `cmvrx course show|list` (display only)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cmvrx.model.assessment import CourseAssessment
from cmvrx.model.course import (
    ClinicalStatus,
    CmvPcr,
    Course,
    DialysisChanged,
    DoseGiven,
    DoseHeld,
    DrugOrder,
    EnteredInError,
    Event,
    Lab,
    MeasurementConfirmed,
    Note,
    PlanStarted,
    RegimenChanged,
    Weight,
)
from cmvrx.store.port import CourseSummary, StoredAssessment

_STYLE = {
    "plan_started": "bold green",
    "regimen_changed": "bold yellow",
    "dose_held": "red",
    "cmv_pcr": "bold cyan",
    "clinical_status": "magenta",
    "dialysis_changed": "yellow",
}


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M %z").replace("+0000", "UTC")


def _num(value: float) -> str:
    return f"{value:,.0f}" if value >= 1000 else f"{value:g}"


def _orders(orders: Sequence[DrugOrder]) -> str:
    parts = [
        f"{o.drug.value} {_num(o.dose_mg)} mg {o.interval}" + (f" {o.route}" if o.route else "")
        for o in orders
    ]
    return " + ".join(parts) or "no antiviral"


def describe(event: Event) -> str:
    """One line of Rich markup, in the clinic's words (recorded text is escaped)."""
    text = escape(_describe(event))
    if event.note and not isinstance(event, Note):
        text += f"  [dim]({escape(event.note)})[/dim]"
    return text


def _describe(event: Event) -> str:
    text: str
    if isinstance(event, PlanStarted):
        text = f"{event.phase.value}: {_orders(event.orders)}"
        text += f" (regimen {event.regimen_id})" if event.regimen_id else ""
    elif isinstance(event, RegimenChanged):
        text = f"→ {event.phase.value}: {_orders(event.orders)}"
        text += f" — {event.reason}" if event.reason else ""
    elif isinstance(event, DoseGiven):
        text = f"{event.drug.value} {_num(event.dose_mg)} mg given"
    elif isinstance(event, DoseHeld):
        text = f"{event.drug.value} held — {event.reason}"
    elif isinstance(event, Lab):
        text = _lab(event)
    elif isinstance(event, CmvPcr):
        text = _pcr(event)
    elif isinstance(event, Weight):
        text = f"weight {_num(event.value)} {event.unit}"
    elif isinstance(event, DialysisChanged):
        text = f"dialysis: {event.dialysis.value.replace('_', ' ')}"
    elif isinstance(event, ClinicalStatus):
        text = event.status
        if event.can_take_oral is not None:
            text += ", can take oral" if event.can_take_oral else ", cannot take oral"
        if event.can_absorb_oral is False:
            text += ", cannot absorb oral"
    elif isinstance(event, EnteredInError):
        text = f"seq {event.ref_seq} marked entered in error — {event.reason}"
    elif isinstance(event, MeasurementConfirmed):
        text = f"seq {event.ref_seq} confirmed"
    else:
        text = event.text if isinstance(event, Note) else ""
    return text


def _lab(event: Lab) -> str:
    name = event.analyte.value.replace("_", " ")
    if event.value is not None:
        shown = f"{name} {_num(event.value)} {event.unit or ''}".rstrip()
    elif event.dipstick is not None:
        shown = f"{name} dipstick {event.dipstick.value}"
    else:
        shown = f"{name} (no value)"
    return shown + (" (suppressed)" if event.suppressed else "")


def _pcr(event: CmvPcr) -> str:
    where = f" {event.specimen}" if event.specimen != "plasma" else ""
    limit = f"(LLOQ {_num(event.lower_limit)})"
    if event.result == "not_detected":
        return f"CMV PCR{where} not detected {limit}"
    if event.result == "detected_below_lloq":
        return f"CMV PCR{where} detected < LLOQ {limit}"
    value = f"{_num(event.value)} {event.unit}" if event.value is not None else "detected"
    return f"CMV PCR{where} {value} {limit}"


def render_course(out: Console, course: Course, assessed: Sequence[StoredAssessment]) -> None:
    """Header, the timeline in clinical order (day 0 = first event), and assessments."""
    case = course.baseline
    sites = ", ".join(s.value for s in case.disease.sites)
    out.print(
        f"[bold]Course {escape(course.course_id)}[/bold] — case {escape(case.case_id)};"
        f" disease: {sites}"
    )
    timeline = course.timeline()
    if not timeline:
        out.print("No events recorded yet.")
        return
    seq_of = {id(e): i + 1 for i, e in enumerate(course.events)}
    errors = {e.ref_seq for e in course.events if isinstance(e, EnteredInError)}
    start = timeline[0].at
    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    table.add_column("seq", justify="right")
    table.add_column("day", justify="right")
    table.add_column("when")
    table.add_column("event")
    table.add_column("details", overflow="fold")
    for event in timeline:
        style = _STYLE.get(event.kind, "")
        day = (event.at - start).days
        kind = event.kind.replace("_", " ")
        seq = seq_of[id(event)]
        details = describe(event)
        if seq in errors:  # kept in the history, struck through: the assessment ignores it
            details = f"[strike]{details}[/strike] [dim](entered in error)[/dim]"
        table.add_row(
            str(seq),
            str(day),
            _when(event.at),
            f"[{style}]{kind}[/]" if style else kind,
            details,
        )
    out.print(table)
    out.print(f"{len(timeline)} event(s), {_when(timeline[0].at)} → {_when(timeline[-1].at)}")
    for a in assessed:
        out.print(
            f"assessment #{a.assessment_id} as of {_when(a.as_of)}"
            f" (knowledge {escape(a.knowledge_version)}, recorded {_when(a.recorded_at)})"
        )


def render_course_list(out: Console, courses: Sequence[CourseSummary]) -> None:
    if not courses:
        out.print("No courses in this database.")
        return
    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    for name in ("course", "case", "events", "first event", "last event"):
        table.add_column(name)
    for c in courses:
        table.add_row(
            escape(c.course_id), escape(c.case_id), str(c.event_count),
            _when(c.first_event_at) if c.first_event_at else "—",
            _when(c.last_event_at) if c.last_event_at else "—",
        )  # fmt: skip
    out.print(table)


_SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}
_TEST_STYLE = {"ok": "green", "due": "yellow", "overdue": "bold red", "missing": "bold red"}


def render_assessment(
    out: Console, result: CourseAssessment, *, assessment_id: int | None, note: str = ""
) -> None:
    """The assessment for a clinician: phase, findings, orders, tests, response, footer."""
    out.print(f"[bold]Course {escape(result.course_id)}[/bold] — {escape(result.phase.text)}")
    if result.findings:
        out.print("[bold]Findings[/bold]")
        for f in result.findings:
            severity = str(f.severity)
            style = _SEVERITY_STYLE.get(severity, "")
            out.print(
                f"  [{style}]{severity}[/] {escape(f.message)}"
                f" [dim]\\[{escape(f.rule_id)}; {escape(', '.join(f.cite))}][/dim]"
            )
    else:
        out.print("No findings.")
    if result.orders:
        table = Table(title="Active orders", show_edge=False, pad_edge=False, header_style="bold")
        for name in ("drug", "ordered", "verdict", "change"):
            table.add_column(name, overflow="fold")
        for o in result.orders:
            ordered = f"{_num(o.ordered.dose_mg)} mg {o.ordered.interval}"
            table.add_row(o.ordered.drug, escape(ordered), o.verdict, escape(o.change or "—"))
        out.print(table)
    if result.tests:
        table = Table(title="Monitoring", show_edge=False, pad_edge=False, header_style="bold")
        for name in ("test", "status", "last", "due by"):
            table.add_column(name, overflow="fold")
        for t in result.tests:
            style = _TEST_STYLE.get(t.status, "")
            table.add_row(
                escape(t.test), f"[{style}]{t.status}[/]",
                _when(t.last_at) if t.last_at else "—", _when(t.due_at) if t.due_at else "—",
            )  # fmt: skip
        out.print(table)
    out.print(f"Response: {escape(result.response.text)}")
    if result.end_of_induction.applicable and not result.end_of_induction.met:
        remaining = "; ".join(result.end_of_induction.remaining)
        out.print(f"End of induction not yet: {escape(remaining)}")
    p = result.provenance
    out.print(
        f"[dim]as of {_when(p.as_of)} · knowledge {escape(p.knowledge_version)}"
        f" ({escape(p.knowledge_hash)}) · cmvrx {escape(p.cmvrx_version)}"
        + (f" · recorded as assessment #{assessment_id}" if assessment_id is not None else "")
        + "[/dim]"
    )
    if note:
        out.print(f"[bold yellow]{escape(note)}[/bold yellow]")
    out.print(f"[dim]{escape(p.disclaimer)}[/dim]")

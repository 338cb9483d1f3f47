"""Dose tables and per-drug administration details (plans and ``cmvrx dose``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from cmvrx.cli.render.common import bullets, cite, footer, num
from cmvrx.model.plan import DrugDose

STATUS_LABEL = {
    "dose": "dose",
    "not_recommended": "NOT RECOMMENDED",
    "insufficient_data": "NO DOSE — insufficient data",
    "no_label_dose": "NO LABEL DOSE",
}


def _rounding_rule(d: DrugDose) -> str:
    return d.rounding.split(" — ", 1)[0]


def _dose_cell(d: DrugDose) -> str:
    if d.dose_per_kg is None:
        return "—"
    return f"{num(d.dose_per_kg, 3)} {d.dose_unit}"


# --------------------------------------------------------------------------- doses


def dose_table(title: str | None, doses: Sequence[DrugDose]) -> Table:
    table = Table(title=title, title_justify="left", show_lines=True)
    table.add_column("drug", style="bold")
    table.add_column("dose", justify="right")
    table.add_column("mg exact", justify="right")
    table.add_column("practical mg", justify="right", style="bold green")
    table.add_column("interval")
    table.add_column("band")
    table.add_column("renal basis")
    for d in doses:
        name = f"{d.drug_name} ({d.route})" if d.route else d.drug_name
        if d.status != "dose":
            why = d.reason or d.measure or d.note
            table.add_row(
                name,
                Text(STATUS_LABEL[d.status], style="bold red"),
                "—",
                "—",
                "",
                d.band,
                Text(why + (f"\nmeasure: {d.measure}" if d.measure and d.measure != why else "")),
            )
            continue
        practical = f"{num(d.practical_mg)} mg" if d.practical_mg is not None else "—"
        if d.rounding:
            practical += f"\n({_rounding_rule(d)})"
        exact = f"{num(d.dose_mg, 1)} mg" if d.dose_mg is not None else "—"
        table.add_row(name, _dose_cell(d), exact, practical, d.interval, d.band, d.renal_basis)
    return table


def dose_details(out: Console, d: DrugDose) -> None:
    """Infusion, hydration, instructions and notes of one drug, as short bullets."""
    out.print(Text(f"{d.drug_name} — {d.schedule_title}", style="bold"))
    if d.infusion:
        out.print(Text("  infusion" if d.route == "IV" else "  product", style="dim"))
        bullets(out, d.infusion, indent=4)
    if d.hydration:
        out.print(Text("  hydration", style="dim"))
        bullets(out, d.hydration, indent=4)
    if d.instructions:
        out.print(Text("  administration", style="dim"))
        bullets(out, d.instructions, indent=4)
    if d.warnings:
        out.print(Text("  label warnings", style="yellow"))
        bullets(out, d.warnings, indent=4)
    table = Table.grid(padding=(0, 1))
    table.add_column(width=1)  # indent
    table.add_column(style="dim", no_wrap=True)
    table.add_column()
    if d.note:
        table.add_row("", "note", Text(d.note, style="italic"))
    if d.instead:
        table.add_row("", "instead", d.instead)
    table.add_row("", "rule", Text(f"{d.rule_id} · sources {cite(d.cite)}", style="dim"))
    out.print(table)


def render_dose(out: Console, d: DrugDose, stamp: Mapping[str, str]) -> None:
    """One quick dose calculation."""
    out.rule(Text(f"cmvrx dose — {d.drug_name}, {d.phase}", style="bold"))
    out.print(dose_table(None, (d,)))
    one_dose = d.dose_per_kg if d.dose_per_kg is not None else d.dose_mg
    # per day means something only for doses given at least daily (not weekly cidofovir)
    if d.status == "dose" and d.per_day is not None and d.per_day >= (one_dose or 0):
        daily = f"{num(d.per_day, 4)} {d.dose_unit}/day"
        if d.max_per_day is not None:
            daily += f" (label maximum {num(d.max_per_day, 4)} {d.dose_unit}/day)"
        out.print(Text(f"  daily: {daily}"))
    dose_details(out, d)
    if d.not_confirmed:
        out.print(
            Text(f"  NOT CONFIRMED values used: {', '.join(d.not_confirmed)}", style="yellow")
        )
    if d.not_checked:
        out.print(Text("  NOT CHECKED (input not given — use `cmvrx plan`):", style="yellow"))
        bullets(out, d.not_checked, indent=4)
    footer(out, stamp)

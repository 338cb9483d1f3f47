"""The knowledge summaries (``cmvrx knowledge check|show``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from cmvrx.cli.render.common import bullets, cite, heading, num, sources


def render_knowledge_check(out: Console, summary: Mapping[str, Any]) -> None:
    """Version, hash and counts of the validated knowledge."""
    out.print(
        Text(
            f"knowledge OK — version {summary['knowledge_version']},"
            f" hash {summary['knowledge_hash']}",
            style="bold green",
        )
    )
    table = Table(title="Counts", title_justify="left")
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("drugs", str(len(summary["drugs"])))
    for key, count in summary["counts"].items():
        table.add_row(key.replace("_", " "), str(count))
    out.print(table)
    table = Table(title="Drugs", title_justify="left")
    table.add_column("drug", style="bold")
    table.add_column("schedules")
    table.add_column("summary")
    for drug_id, d in summary["drugs"].items():
        table.add_row(drug_id, "\n".join(d["schedules"]), d["summary"])
    out.print(table)
    out.print(Text("NOT CONFIRMED (configurable with --override NAME=VALUE):", style="yellow"))
    bullets(out, summary["not_confirmed"])
    if summary.get("overridden"):
        out.print(Text(f"overridden: {', '.join(summary['overridden'])}", style="bold yellow"))


def render_knowledge_show(out: Console, summary: Mapping[str, Any]) -> None:
    """All drugs, or one drug's tables row by row with sources."""
    if "drug" not in summary:
        render_knowledge_check(out, summary)
        return
    out.rule(Text(f"{summary['name']} — knowledge {summary['knowledge_version']}", style="bold"))
    out.print(summary["summary"])
    if summary["warnings"]:
        heading(out, "Warnings")
        bullets(out, summary["warnings"])
    if summary.get("rounding"):
        r = summary["rounding"]
        out.print(Text(f"rounding: {num(r['step_mg'])} mg steps ({r['grade']}) — {r['note']}"))
    for s in summary["schedules"]:
        _schedule(out, s)
    sources(out, summary["sources"])


def _schedule(out: Console, s: Mapping[str, Any]) -> None:
    heading(out, f"{s['title']}  [{s['id']}]")
    maximum = (
        f" · label maximum {num(s['max_per_day'])} {s['dose_unit']}/day" if s["max_per_day"] else ""
    )
    out.print(
        Text(
            f"phase {s['phase']} · column {s['column']} · by {s['measure']} · grade {s['grade']}"
            f"{maximum} · sources {cite(s['cite'])}",
            style="dim",
        )
    )
    table = Table(show_lines=False)
    table.add_column("band")
    table.add_column("dose", justify="right")
    table.add_column("interval")
    table.add_column("note / reason")
    table.add_column("sources", style="dim")
    for row in s["rows"]:
        dose: str | Text
        if row["recommended"]:
            dose = f"{num(row['dose'], 3)} {s['dose_unit']}"
        else:
            dose = Text("not recommended", style="red")
        text = " ".join(filter(None, (row["reason"], row["note"])))
        table.add_row(row["band"], dose, row["interval"] or "", text, cite(row["cite"]))
    out.print(table)

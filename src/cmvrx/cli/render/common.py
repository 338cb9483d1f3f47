"""Shared pieces of the terminal rendering: console, headings, bullets, sources, footer."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from cmvrx.model.plan import DISCLAIMER

_MIN_WIDTH = 120


def console() -> Console:
    """A console for stdout; at least 120 columns when not a terminal (pipes, tests)."""
    out = Console(highlight=False)
    if not out.is_terminal and out.width < _MIN_WIDTH:
        out = Console(highlight=False, width=_MIN_WIDTH)
    return out


def num(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "—"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.{digits}f}".rstrip("0").rstrip(".")


def heading(out: Console, title: str) -> None:
    out.print()
    out.rule(Text(title, style="bold"), align="left")


def pairs(out: Console, rows: Iterable[tuple[str, str]]) -> None:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="dim", no_wrap=True)
    table.add_column()
    for key, value in rows:
        if value:
            table.add_row(key, value)
    out.print(table)


def bullets(out: Console, lines: Iterable[str], *, indent: int = 2) -> None:
    """Bullets whose wrapped lines hang under their text, not under the bullet."""
    table = Table.grid(padding=(0, 1, 0, 0))
    table.add_column(width=indent + 1, justify="right", no_wrap=True)
    table.add_column()
    for line in lines:
        table.add_row("•", Text(line))
    if table.row_count:
        out.print(table)


def cite(ids: Sequence[str]) -> str:
    return ", ".join(ids)


def sources(out: Console, sources: Mapping[str, str]) -> None:
    if not sources:
        return
    heading(out, "Sources")
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for key, title in sources.items():
        table.add_row(key, title)
    out.print(table)


def footer(out: Console, stamp: Mapping[str, str]) -> None:
    out.print()
    out.rule(style="dim")
    out.print(
        Text(
            f"cmvrx {stamp['cmvrx_version']} · knowledge {stamp['knowledge_version']}"
            f" (hash {stamp['knowledge_hash']}) · as of {stamp['as_of']}",
            style="dim",
        )
    )
    out.print(Text(DISCLAIMER, style="bold"))

"""The audit's outputs in ``--out DIR``: ``findings.csv`` (written as rows arrive),
``findings.parquet`` (from the CSV, streaming), ``skipped.csv`` (bad data with file and
line), ``summary.txt`` (one screen) and ``report.html`` (self-contained: inline CSS and
an inline SVG chart, no script, no external URL).
"""

from __future__ import annotations

import csv
import html
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from cmvrx.audit.columns import FINDING_COLUMNS, Row

SKIP_COLUMNS = ("kind", "where", "resource", "field", "message", "count")
REPORT_ROWS = 500


@dataclass
class FindingWriter:
    """Streams finding rows to findings.csv and keeps the counts the summary needs."""

    folder: Path
    by_kind: Counter[str] = field(default_factory=Counter)
    by_drug: Counter[str] = field(default_factory=Counter)
    by_severity: Counter[str] = field(default_factory=Counter)
    patients: set[str] = field(default_factory=set)
    first: list[Row] = field(default_factory=list)
    count: int = 0

    def __post_init__(self) -> None:
        self._fh: IO[str] = (self.folder / "findings.csv").open("w", newline="", encoding="utf-8")
        self._csv = csv.DictWriter(self._fh, fieldnames=FINDING_COLUMNS)
        self._csv.writeheader()

    def write(self, rows: list[Row]) -> None:
        for row in rows:
            self._csv.writerow(row)
            self.count += 1
            self.by_kind[row["kind"] or ""] += 1
            self.by_drug[row["drug"] or "(none)"] += 1
            self.by_severity[row["severity"] or ""] += 1
            self.patients.add(row["patient_id"] or "")
            if len(self.first) < REPORT_ROWS:
                self.first.append(row)

    def close(self) -> None:
        self._fh.close()
        write_parquet(self.folder / "findings.csv", self.folder / "findings.parquet")


def write_parquet(csv_path: Path, parquet_path: Path) -> None:
    """The CSV as Parquet, every column a string (empty cells are null)."""
    import polars as pl

    schema = dict.fromkeys(FINDING_COLUMNS, pl.String)
    pl.scan_csv(csv_path, schema=schema).sink_parquet(parquet_path)


def write_skips(path: Path, examples: Sequence[Mapping[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=SKIP_COLUMNS)
        w.writeheader()
        for row in examples:
            w.writerow({k: row.get(k, "") for k in SKIP_COLUMNS})


@dataclass(frozen=True)
class RunFacts:
    """What the summary and the report say about the run itself."""

    as_of: str
    as_of_source: str  # "--as-of", "manifest transactionTime", "now"
    engine: str
    knowledge_version: str
    knowledge_hash: str
    disclaimer: str
    files: int
    lines: int
    patients: int
    selected: int
    audited: int
    seconds: float
    skipped: Mapping[str, int]


def summary_text(w: FindingWriter, run: RunFacts) -> str:
    """One screen: counts by kind, drug and severity; skipped counts; the notice."""
    rate = run.patients / run.seconds if run.seconds > 0 else 0.0
    lines = [
        f"cmvrx population audit — as of {run.as_of} ({run.as_of_source}); engine {run.engine}",
        f"knowledge {run.knowledge_version} ({run.knowledge_hash[:12]})",
        f"{run.patients} patients in {run.files} file(s), {run.lines} lines; "
        f"{run.selected} on a CMV antiviral, {run.audited} audited; {run.seconds:.1f} s "
        f"({rate:,.0f} patients/s)",
        f"{w.count} finding(s) in {len(w.patients)} patient(s)",
        "",
        "by kind:     " + _counts(w.by_kind),
        "by drug:     " + _counts(w.by_drug),
        "by severity: " + _counts(w.by_severity),
        "",
        "skipped:     " + (_counts(run.skipped, 8) or "nothing"),
        "             (each with file and line in skipped.csv)",
        "",
        run.disclaimer,
    ]
    return "\n".join(lines) + "\n"


def _counts(counter: Mapping[str, int], top: int = 12) -> str:
    items = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = [f"{k} {v}" for k, v in items[:top]]
    if len(items) > top:
        shown.append(f"… {len(items) - top} more")
    return ", ".join(shown)


def report_html(w: FindingWriter, run: RunFacts) -> str:
    """A self-contained HTML report: no script, no external URL, an inline SVG chart."""
    e = html.escape
    rows = "".join(
        "<tr>" + "".join(f"<td>{e(r[c] or '')}</td>" for c in _REPORT_COLUMNS) + "</tr>"
        for r in w.first
    )
    head = "".join(f"<th>{e(c)}</th>" for c in _REPORT_COLUMNS)
    more = (
        f"<p>First {len(w.first)} of {w.count} findings; all are in findings.csv and "
        "findings.parquet.</p>"
        if w.count > len(w.first)
        else ""
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>cmvrx population audit — {e(run.as_of)}</title>
<style>{_CSS}</style></head><body>
<h1>cmvrx population audit</h1>
<p class="notice">{e(run.disclaimer)}</p>
<p>As of <b>{e(run.as_of)}</b> ({e(run.as_of_source)}); engine {e(run.engine)};
knowledge {e(run.knowledge_version)} ({e(run.knowledge_hash[:12])}).
{run.patients} patients, {run.selected} on a CMV antiviral, {run.audited} audited;
{w.count} findings in {len(w.patients)} patients.</p>
<h2>Findings by kind</h2>
{bar_chart(w.by_kind)}
<div class="cols">{_table("By drug", w.by_drug)}{_table("By severity", w.by_severity)}
{_table("Skipped (see skipped.csv)", run.skipped)}</div>
<h2>Findings</h2>{more}
<table class="findings"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>
</body></html>
"""


_REPORT_COLUMNS = ("patient_id", "order_id", "drug", "kind", "severity", "summary", "rule_id")
_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;margin:.5em 1em .5em 0}"
    "td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}"
    ".cols{display:flex;flex-wrap:wrap;align-items:flex-start}"
    ".notice{background:#fff4d6;border:1px solid #e0c060;padding:.5em}"
    ".findings td{font-size:.85em}"
)


def _table(title: str, counts: Mapping[str, int]) -> str:
    e = html.escape
    body = "".join(
        f"<tr><td>{e(k)}</td><td>{v}</td></tr>"
        for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    return f"<table><caption>{e(title)}</caption>{body or '<tr><td>none</td></tr>'}</table>"


def bar_chart(counts: Mapping[str, int], width: int = 640) -> str:
    """A horizontal bar chart as inline SVG (no script, no external reference)."""
    items: list[tuple[str, Any]] = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if not items:
        return "<p>No findings.</p>"
    bar_h, label_w, gap = 22, 220, 6
    top = max(v for _, v in items)
    height = len(items) * (bar_h + gap) + gap
    parts = [f'<svg width="{width}" height="{height}" role="img" aria-label="findings by kind">']
    for i, (label, value) in enumerate(items):
        y = gap + i * (bar_h + gap)
        length = max(1, round((width - label_w - 60) * value / top))
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="13">'
            f"{html.escape(label)}</text>"
            f'<rect x="{label_w}" y="{y}" width="{length}" height="{bar_h}" fill="#4a78b5"/>'
            f'<text x="{label_w + length + 4}" y="{y + 15}" font-size="13">{value}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)

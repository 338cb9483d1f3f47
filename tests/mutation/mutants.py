"""Enumerate the knowledge mutants: every number, flag and dosing interval in
``src/cmvrx/knowledge/data/*.toml``, each changed one way at a time.

A value is named stably by file + key path + mutation, never by line number: an element
of an array of tables is named by its ``id`` (or ``field``), else by its position, e.g.
``ganciclovir.toml schedule[ganciclovir.induction].band[1].dose -1``. Mutations:

- a number: one step up and one step down (a step is one unit of its last written
  digit: 1 for ``70``, 0.1 for ``3.5``, 0.001 for ``0.413``; at most 4 decimals);
- a band edge of a renal table (the value shared by one band's ``upper`` and the next
  band's ``lower``): the edge moved one step up and down on both sides at once, and the
  inclusive side flipped on both sides at once (a one-sided change only opens a gap or an
  overlap, which the loader refuses: those are enumerated too, as single-value mutants);
- a boolean: flipped (except ``upper_inclusive`` of a band running to ``inf``: no
  clearance equals infinity, so that flip is equivalent and not generated);
- a dosing ``interval``: replaced by a clinically plausible neighbour (twice → once daily).

Every mutant is checked to parse as TOML and to differ from the original exactly there.
"""

from __future__ import annotations

import re
import tomllib
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "src" / "cmvrx" / "knowledge" / "data"

_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.]+)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^(\s*)([A-Za-z0-9_]+)(\s*=\s*)(.*?)(\s*(#.*)?)$")
_NUMBER = re.compile(r"^-?\d[\d_]*(\.\d+)?$")
_NAME = re.compile(r'^\s*(id|field)\s*=\s*"([^"]+)"')

INTERVAL_SWAP = {
    "q8h": "q12h",
    "q12h": "q24h",
    "q24h": "q12h",
    "q48h": "q24h",
    "twice daily": "once daily",
    "once daily": "twice daily",
    "every 2 days": "once daily",
    "twice weekly": "once weekly",
    "once weekly": "twice weekly",
    "every 2 weeks": "once weekly",
    "3 times weekly, after hemodialysis": "twice weekly",
}


@dataclass(frozen=True)
class Site:
    """One literal in a file: where it is (line, column span) and what it is."""

    file: str
    path: str  # stable key path, e.g. schedule[ganciclovir.induction].band[1].dose
    key: str
    line: int
    start: int
    end: int
    text: str
    table: str  # the path of the table holding it


@dataclass(frozen=True)
class Mutant:
    file: str
    path: str
    mutation: str
    edits: tuple[tuple[int, int, int, str], ...]  # (line, start, end, new text)

    @property
    def name(self) -> str:
        return f"{self.file} {self.path} {self.mutation}"

    def apply(self, text: str) -> str:
        lines = text.split("\n")
        for line, start, end, new in sorted(self.edits, reverse=True):
            lines[line] = lines[line][:start] + new + lines[line][end:]
        return "\n".join(lines)


def sites(file: Path) -> list[Site]:
    """Every number, boolean and interval literal of a knowledge file, with its key path."""
    lines = file.read_text(encoding="utf-8").split("\n")
    current: dict[tuple[str, ...], str] = {}
    counters: dict[tuple[str, str], int] = defaultdict(int)
    table = ""
    out: list[Site] = []

    def base(parts: tuple[str, ...]) -> str:
        if not parts:
            return ""
        if parts in current:
            return current[parts]
        head = base(parts[:-1])
        return f"{head}.{parts[-1]}" if head else parts[-1]

    for i, line in enumerate(lines):
        header = _HEADER.match(line)
        if header:
            parts = tuple(header.group(2).split("."))
            parent = base(parts[:-1])
            prefix = f"{parent}.{parts[-1]}" if parent else parts[-1]
            for stale in [p for p in current if p[: len(parts)] == parts]:
                del current[stale]
            if header.group(1) == "[[":
                label = _element_name(lines, i + 1)
                index = counters[(parent, parts[-1])]
                counters[(parent, parts[-1])] += 1
                current[parts] = f"{prefix}[{label if label is not None else index}]"
            else:
                current[parts] = prefix
            table = current[parts]
            continue
        kv = _KEY.match(line)
        if not kv:
            continue
        key, raw = kv.group(2), kv.group(4)
        start = len(kv.group(1)) + len(key) + len(kv.group(3))
        path = f"{table}.{key}" if table else key
        if (
            raw in ("true", "false", "inf")
            or _NUMBER.match(raw)
            or (key == "interval" and raw.strip('"') in INTERVAL_SWAP)
        ):
            out.append(Site(file.name, path, key, i, start, start + len(raw), raw, table))
        elif raw.startswith("[") and raw.endswith("]") and '"' not in raw:
            offset = start + 1
            for j, item in enumerate(raw[1:-1].split(",")):
                literal = item.strip()
                at = offset + item.index(literal) if literal else offset
                if _NUMBER.match(literal):
                    out.append(
                        Site(
                            file.name, f"{path}[{j}]", key, i, at, at + len(literal), literal, table
                        )
                    )
                offset += len(item) + 1
    return out


def _element_name(lines: list[str], first: int) -> str | None:
    for line in lines[first:]:
        if _HEADER.match(line):
            return None
        found = _NAME.match(line)
        if found:
            return found.group(2)
    return None


def _step(text: str) -> Decimal:
    decimals = len(text.split(".")[1]) if "." in text else 0
    decimals = min(decimals, 4)  # a computed value (5/7) moves by 0.0001, not by 1e-16
    return Decimal(1).scaleb(-decimals)


def _shift(text: str, sign: int) -> str:
    value = Decimal(text.replace("_", "")) + sign * _step(text)
    return str(value.quantize(_step(text))) if "." in text else str(value)


def mutants_of(file: Path) -> list[Mutant]:
    """All mutants of one knowledge file."""
    found = sites(file)
    out: list[Mutant] = []
    edge_tables: dict[str, list[Site]] = defaultdict(list)
    for s in found:
        if re.search(r"\.band\[\d+\]$", s.table) and s.key in (
            "lower",
            "upper",
            "lower_inclusive",
            "upper_inclusive",
        ):
            edge_tables[s.table.rsplit(".band[", 1)[0]].append(s)
        if s.key == "upper_inclusive" and any(
            o.table == s.table and o.key == "upper" and o.text == "inf" for o in found
        ):
            continue  # no clearance equals ∞: an equivalent mutant, not generated
        out.extend(_single(s))
    for schedule, band_sites in edge_tables.items():
        out.extend(_edges(file.name, schedule, band_sites))
    return out


def _single(s: Site) -> list[Mutant]:
    if s.text == "inf":  # the open top of a band table: not a number to move
        return []

    def one(mutation: str, new: str) -> Mutant:
        return Mutant(s.file, s.path, mutation, ((s.line, s.start, s.end, new),))

    if s.text in ("true", "false"):
        return [one("flip", "false" if s.text == "true" else "true")]
    if s.key == "interval":
        new = INTERVAL_SWAP[s.text.strip('"')]
        return [one(f"interval={new}", f'"{new}"')]
    return [one("+1 step", _shift(s.text, +1)), one("-1 step", _shift(s.text, -1))]


def _edges(file: str, schedule: str, band_sites: list[Site]) -> list[Mutant]:
    """Move or flip each inner edge of a band table on both sides at once."""
    bands: dict[str, dict[str, Site]] = defaultdict(dict)
    for s in band_sites:
        bands[s.table][s.key] = s
    out: list[Mutant] = []
    uppers = {Decimal(b["upper"].text): b for b in bands.values() if "upper" in b and "lower" in b}
    for b in bands.values():
        if "lower" not in b or Decimal(b["lower"].text) == 0:
            continue
        edge = Decimal(b["lower"].text)
        below = uppers.get(edge)
        if below is None:
            continue
        lo, up = b["lower"], below["upper"]
        name = f"{schedule}.band.edge[{lo.text}]"
        for sign, label in ((+1, "+1 step"), (-1, "-1 step")):
            out.append(
                Mutant(
                    file,
                    name,
                    label,
                    (
                        (lo.line, lo.start, lo.end, _shift(lo.text, sign)),
                        (up.line, up.start, up.end, _shift(up.text, sign)),
                    ),
                )
            )
        flips = tuple(
            (s.line, s.start, s.end, "false" if s.text == "true" else "true")
            for s in (b.get("lower_inclusive"), below.get("upper_inclusive"))
            if s is not None
        )
        out.append(Mutant(file, name, "flip inclusive side", flips))
    return out


def all_mutants(data: Path = DATA) -> list[Mutant]:
    """Every mutant of every knowledge file, each checked to be valid, different TOML."""
    out: list[Mutant] = []
    for file in sorted(data.glob("*.toml")):
        text = file.read_text(encoding="utf-8")
        original = tomllib.loads(text)
        for mutant in mutants_of(file):
            changed = tomllib.loads(mutant.apply(text))
            if changed == original:
                raise AssertionError(f"mutant changes nothing: {mutant.name}")
            out.append(mutant)
    return out

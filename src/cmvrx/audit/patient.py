"""The one clinical step of the audit, pure: all NDJSON lines of ONE patient → finding rows.

Every engine (embedded, Spark) calls ``audit_lines`` per patient, so they agree row for
row. It only parses and delegates to ``api.review_record``'s core; the rows are
``FINDING_COLUMNS`` strings. The audit reads a record with no dialysis evidence as "no
dialysis" (``no_dialysis_unless_recorded``, docs/audit.md): a Bulk Data export has no
way to say "not on dialysis".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from cmvrx.audit.columns import Row
from cmvrx.audit.review import RecordReview, review_items
from cmvrx.fhir.problems import Problem
from cmvrx.fhir.resources import Item, collect
from cmvrx.knowledge.bundle import Knowledge


def audit_lines(
    lines: Sequence[str],
    *,
    as_of: datetime,
    knowledge: Knowledge,
    no_dialysis_unless_recorded: bool = True,
) -> list[Row]:
    """All NDJSON lines (raw text) of one patient, any resource types → finding rows."""
    review = review_lines(
        ((f"line {i}", line) for i, line in enumerate(lines, start=1)),
        as_of=as_of,
        knowledge=knowledge,
        no_dialysis_unless_recorded=no_dialysis_unless_recorded,
    )
    return [f.to_row() for f in review.findings]


def review_lines(
    lines: Iterable[tuple[str, str]],
    *,
    as_of: datetime,
    knowledge: Knowledge,
    no_dialysis_unless_recorded: bool = True,
    loads: Callable[[str], Any] = json.loads,
) -> RecordReview:
    """(where, line) pairs of one patient → the review (problems name the file and line).
    ``loads`` parses a line (``json.loads``; the embedded engine passes
    ``jsonline.loads_fast`` for a patient whose lines are all ``jsonline.plain``)."""
    items: list[Item] = []
    problems: list[Problem] = []
    for where, line in lines:
        if not line.strip():
            continue
        try:
            data = loads(line)
        except (ValueError, RecursionError) as exc:
            problems.append(Problem("malformed", "", "", f"not JSON: {exc}", where))
            continue
        if where and _plain_resource(data):
            items.append(Item(dict(data), where))  # what ``collect`` makes of it, directly
            continue
        got, bad = collect(data, where)
        items += got
        problems += bad
    return review_items(
        items,
        as_of=as_of,
        knowledge=knowledge,
        problems=problems,
        no_dialysis_unless_recorded=no_dialysis_unless_recorded,
    )


def _plain_resource(data: object) -> bool:
    """One resource with a resourceType and a string id (or none): ``collect`` would make
    exactly one ``Item`` of it and report nothing (an NDJSON line is one resource)."""
    if type(data) is not dict:
        return False
    kind, rid = data.get("resourceType"), data.get("id")
    return type(kind) is str and kind not in ("", "Bundle") and (rid is None or type(rid) is str)

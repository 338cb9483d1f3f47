"""Presentation helpers: arrange what the API returned for the page (group, order, lay
out a calendar). No clinical decision is made here; every number shown comes from the
API's plan, assessment or knowledge."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

SEVERITIES = ("critical", "warning", "info")
CALENDAR_DAYS_WITHOUT_DURATION = 28  # display window only, when the plan states no duration


def by_severity(items: Sequence[Mapping[str, Any]]) -> list[tuple[str, list[Mapping[str, Any]]]]:
    """Items grouped by ``severity``, critical first (empty groups left out)."""
    groups = [(s, [i for i in items if i.get("severity") == s]) for s in SEVERITIES]
    return [(s, g) for s, g in groups if g]


def monitoring_calendar(plan: Mapping[str, Any], start: datetime) -> dict[str, Any]:
    """The plan's periodic monitoring laid out on the days of induction: a mark on each
    day a test falls due by its ``every_days`` (from the plan); the rest listed by text."""
    days = plan["regimen"].get("duration_max_days") or CALENDAR_DAYS_WITHOUT_DURATION
    dates = [start + timedelta(days=d) for d in range(int(days))]
    rows, other = [], []
    for item in plan["monitoring"]:
        every = item.get("every_days")
        if every:
            per_day = max(1, round(1 / every)) if every < 1 else 1
            marks = [
                per_day if (every < 1 or (d % max(1, round(every)) == 0)) else 0
                for d in range(len(dates))
            ]
            rows.append({"item": item, "marks": marks})
        else:
            other.append(item)
    return {"dates": dates, "rows": rows, "other": other}


def source_titles(ids: Sequence[str], sources: Mapping[str, str]) -> list[tuple[str, str]]:
    return [(i, sources.get(i, "")) for i in ids]

"""A plain-data summary of the loaded knowledge (for ``cmvrx knowledge check|show``)."""

from __future__ import annotations

from typing import Any

from cmvrx.errors import InputError
from cmvrx.knowledge.bundle import Knowledge
from cmvrx.knowledge.schema import DoseRow, Schedule


def _row(row: DoseRow, band: str) -> dict[str, Any]:
    return {
        "band": band,
        "dose": row.dose if row.recommended else None,
        "interval": row.interval.value if row.interval else None,
        "recommended": row.recommended,
        "reason": row.reason,
        "note": row.note,
        "cite": list(row.cite),
    }


def _schedule(s: Schedule, dose_unit: str) -> dict[str, Any]:
    rows = [_row(b, b.describe(s.measure_unit)) for b in sorted(s.band, key=lambda b: -b.lower)]
    if s.hemodialysis is not None:
        rows.append(_row(s.hemodialysis, "intermittent hemodialysis"))
    if s.fixed is not None:
        rows.append(_row(s.fixed, "any renal function"))
    rows.extend(_row(m, "with " + "/".join(m.when_medication_any)) for m in s.modifier)
    return {
        "id": s.id,
        "title": s.title,
        "phase": s.phase,
        "column": s.column,
        "measure": s.measure,
        "dose_unit": dose_unit,
        "max_per_day": s.max_per_day,
        "grade": s.grade.value,
        "cite": list(s.cite),
        "rows": rows,
    }


def summarise(k: Knowledge, drug: str | None) -> dict[str, Any]:
    """All drugs with counts, or one drug's schedules row by row, with sources."""
    head = {"knowledge_version": k.version, "knowledge_hash": k.content_hash}
    if drug is None:
        return {
            **head,
            "drugs": {
                d.id: {
                    "name": d.name,
                    "summary": d.summary,
                    "schedules": [s.id for s in d.schedule],
                }
                for d in k.drugs.values()
            },
            "counts": {
                "sources": len(k.sources),
                "parameters": len(k.parameters),
                "schedules": len(k.schedules),
                "regimen_rules": len(k.rules),
                "refusals": len(k.refusals),
                "alerts": len(k.alerts),
                "monitoring_items": len(k.monitoring),
                "mutation_rules": len(k.resistance),
            },
            "not_confirmed": sorted(n for n, p in k.parameters.items() if not p.grade.confirmed),
            "overridden": list(k.overridden),
        }
    if drug not in k.drugs:
        raise InputError(f"unknown drug {drug!r}; known: {', '.join(k.drugs)}", field="drug")
    d = k.drugs[drug]
    cited = {c for s in d.schedule for c in s.cite} | set(d.cite)
    return {
        **head,
        "drug": d.id,
        "name": d.name,
        "summary": d.summary,
        "warnings": list(d.warning),
        "administration": d.administration.model_dump(exclude_none=True),
        "rounding": d.rounding.model_dump() if d.rounding else None,
        "schedules": [_schedule(s, d.dose_unit) for s in d.schedule],
        "sources": {c: k.sources[c].title for c in sorted(cited)},
    }

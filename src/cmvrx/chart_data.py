"""A course as chart data: the series a chart draws (viral load, ANC, platelets, CrCl,
therapy periods, thresholds) as plain JSON-ready values — what ``chart.py`` draws with
matplotlib and a web page can draw itself (``cmvrx.api.chart_series``). No plotting here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cmvrx.engine.course.state import BLOOD_SPECIMENS, ordered_events, therapy_periods
from cmvrx.engine.intake import read_facts
from cmvrx.engine.renal import assess as renal_assess
from cmvrx.knowledge.bundle import Knowledge
from cmvrx.model.course import CmvPcr, Course, Event, Lab
from cmvrx.model.plan import DISCLAIMER
from cmvrx.units import to_internal


def series(course: Course, k: Knowledge, as_of: datetime) -> dict[str, Any]:
    """Every series of the course chart up to ``as_of``; times as ISO 8601 strings."""
    events = [e for e in ordered_events(course) if e.at <= as_of]
    pcrs = [e for e in events if isinstance(e, CmvPcr) and e.specimen in BLOOD_SPECIMENS]

    def points(values: list[tuple[datetime, float]]) -> list[dict[str, Any]]:
        return [{"at": t.isoformat(), "value": v} for t, v in values]

    return {
        "course_id": course.course_id,
        "as_of": as_of.isoformat(),
        "viral_load": {
            "unit": "IU/mL",
            "axis": "log10",
            "detection_limit": pcrs[-1].lower_limit if pcrs else None,
            "points": [
                {
                    "at": p.at.isoformat(),
                    "result": p.result,
                    "value": p.value,
                    "lower_limit": p.lower_limit,
                }
                for p in pcrs
            ],
        },
        "anc": {
            "unit": "cells/µL",
            "threshold": k.number("ganciclovir_min_anc"),
            "points": points(lab_series(events, course, "anc")),
        },
        "platelets": {
            "unit": "cells/µL",
            "threshold": k.number("ganciclovir_min_platelets"),
            "points": points(lab_series(events, course, "platelets")),
        },
        "crcl": {
            "unit": "mL/min",
            "method": "Cockcroft–Gault",
            "points": points(crcl_series(course, k, events)),
        },
        "therapy": [
            {
                "start": p.start.isoformat(),
                "end": None if p.end is None else p.end.isoformat(),
                "phase": p.phase,
                "regimen_id": p.regimen_id,
                "orders": [
                    {
                        "drug": o.drug.value,
                        "dose_mg": o.dose_mg,
                        "interval": o.interval,
                        "route": o.route,
                    }
                    for o in p.orders
                ],
            }
            for p in therapy_periods(events)
        ],
        "knowledge_version": k.version,
        "knowledge_hash": k.content_hash,
        "disclaimer": DISCLAIMER,
    }


def lab_series(
    events: Sequence[Event], course: Course, analyte: str
) -> list[tuple[datetime, float]]:
    out: list[tuple[datetime, float]] = []
    base = getattr(course.baseline.blood_counts, analyte, None)
    if base is not None:
        out.append(
            (base.measured_at, to_internal(base.value, base.unit, "cell_count", field=analyte))
        )
    for e in events:
        if isinstance(e, Lab) and e.analyte.value == analyte and e.value is not None and e.unit:
            out.append((e.at, to_internal(e.value, e.unit, "cell_count", field=analyte)))
    return sorted(out)


def crcl_series(
    course: Course, k: Knowledge, events: Sequence[Event]
) -> list[tuple[datetime, float]]:
    """Cockcroft–Gault CrCl at each creatinine, with the weight known then."""
    from cmvrx.engine.course.state import build_state

    times = sorted(
        {
            e.at
            for e in events
            if isinstance(e, Lab) and e.analyte.value == "creatinine" and e.value is not None
        }
        | (
            {course.baseline.renal.serum_creatinine.measured_at}
            if course.baseline.renal.serum_creatinine
            else set()
        )
    )
    out = []
    for t in times:
        st = build_state(course, k, t)
        renal = renal_assess(read_facts(st.case, k, t), k)
        if renal.creatinine_clearance_ml_min is not None and math.isfinite(
            renal.creatinine_clearance_ml_min
        ):
            out.append((t, renal.creatinine_clearance_ml_min))
    return out

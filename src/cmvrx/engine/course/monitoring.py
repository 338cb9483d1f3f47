"""Tests due and overdue, from the monitoring cadences of ``monitoring.toml``.

An item applies when its predicates hold for the active drugs and its phase matches;
its ``tracks`` say which recorded results satisfy it and ``every_days`` the longest
allowed gap. A test never recorded is a finding (``CRS-TEST-MISSING``), never a silent
normal. Cidofovir's creatinine and urine protein are checked against each dose: within
48 h before the next dose, and before every dose already given.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from cmvrx.engine.course.orders import per_week
from cmvrx.engine.course.state import DAY, INDUCTION_PHASES, CourseState, finding
from cmvrx.engine.predicates import holds
from cmvrx.knowledge.schema import Monitoring
from cmvrx.model.assessment import Finding, MonitoringState, MonitoringStatus
from cmvrx.model.patient import Measurement


def monitoring_statuses(st: CourseState) -> tuple[tuple[MonitoringStatus, ...], list[Finding]]:
    current = st.current
    if current is None or current.phase == "stopped":
        return (), []
    phase = "induction" if current.phase in INDUCTION_PHASES else "maintenance"
    statuses: list[MonitoringStatus] = []
    findings: list[Finding] = []
    for item in st.knowledge.monitoring:
        if not item.tracks or item.every_days is None or not holds(st.situation, item.when):
            continue
        if item.phase == "before_each_dose":
            status, more = _before_each_dose(st, item)
            findings.extend(more)
        elif item.phase in ("all", phase):
            last = last_done(st, item.tracks)
            status = _status(
                st, item, last, last + timedelta(days=item.every_days) if last else None
            )
        else:
            continue
        statuses.append(status)
        f = _finding(st, item, status)
        if f is not None:
            findings.append(f)
    return tuple(statuses), findings


def last_done(
    st: CourseState, tracks: Iterable[str], before: datetime | None = None
) -> datetime | None:
    """When every tracked result was last recorded (the oldest of their latest times)."""
    times = [_last(st, t, before or st.as_of) for t in tracks]
    if any(t is None for t in times):
        return None
    return min(t for t in times if t is not None)


_GROUPS: dict[str, tuple[tuple[str, ...], ...]] = {
    "creatinine": (("creatinine", "measured_creatinine_clearance"),),
    "cbc": (("anc",), ("platelets",), ("hemoglobin",)),
    "electrolytes": (
        ("potassium",),
        ("magnesium",),
        ("calcium", "ionized_calcium"),
        ("phosphate",),
    ),
    "urine_protein": (("urine_protein",),),
    "cd4": (("cd4",),),
}
_SHOWN = {
    "anc": "ANC",
    "calcium": "calcium",
    "creatinine": "creatinine",
    "urine_protein": "urine protein",
    "cd4": "CD4",
}


def _last(st: CourseState, tracked: str, before: datetime) -> datetime | None:
    latest = [t for _, t in analyte_times(st, tracked, before)]
    if any(t is None for t in latest):
        return None
    return min(t for t in latest if t is not None)


def analyte_times(
    st: CourseState, tracked: str, before: datetime
) -> list[tuple[str, datetime | None]]:
    """Each analyte of a tracked test with when it was last recorded: due and overdue are
    per analyte (a CBC without its hemoglobin leaves the hemoglobin due)."""
    if tracked == "cmv_pcr":
        return [("CMV PCR", max((p.at for p in st.pcrs if p.at <= before), default=None))]
    return [
        (_SHOWN.get(names[0], names[0]), _latest_of(st, names, before))
        for names in _GROUPS[tracked]
    ]


def _late_analytes(
    st: CourseState, item: Monitoring, state: MonitoringState
) -> tuple[list[str], list[str]]:
    """(analytes in ``state`` — overdue, or due soon — and the others) of a test."""
    soon = timedelta(hours=st.knowledge.number("test_due_soon_hours"))
    every = timedelta(days=float(item.every_days or 0.0))
    late: list[str] = []
    fine: list[str] = []
    for tracked in item.tracks:
        for name, at in analyte_times(st, tracked, st.as_of):
            left = None if at is None else at + every - st.as_of  # as in _status
            is_late = left is None or (left < timedelta(0) if state == "overdue" else left <= soon)
            (late if is_late else fine).append(name)
    return late, fine


def _which(st: CourseState, item: Monitoring, state: MonitoringState) -> str:
    """' — hemoglobin (up to date: ANC, platelets)' when only some analytes are late."""
    late, fine = _late_analytes(st, item, state)
    if not fine or not late:
        return ""
    return f" — {', '.join(late)} (up to date: {', '.join(fine)})"


def _latest_of(st: CourseState, analytes: tuple[str, ...], before: datetime) -> datetime | None:
    times = [lab.at for a in analytes for lab in st.labs.get(a, ()) if lab.at <= before]
    times.extend(t for t in (_baseline_time(st, a) for a in analytes) if t and t <= before)
    return max(times, default=None)


def _baseline_time(st: CourseState, analyte: str) -> datetime | None:
    base = st.course.baseline
    m: Measurement | None = {
        "creatinine": base.renal.serum_creatinine,
        "measured_creatinine_clearance": base.renal.measured_creatinine_clearance,
        "anc": base.blood_counts.anc,
        "platelets": base.blood_counts.platelets,
        "hemoglobin": base.blood_counts.hemoglobin,
        "potassium": base.electrolytes.potassium,
        "magnesium": base.electrolytes.magnesium,
        "calcium": base.electrolytes.calcium,
        "ionized_calcium": base.electrolytes.ionized_calcium,
        "phosphate": base.electrolytes.phosphate,
        "cd4": base.hiv.cd4 if base.hiv else None,
    }.get(analyte)
    if analyte == "urine_protein":
        up = base.renal.urine_protein
        return up.measured_at if up else None
    return m.measured_at if m else None


def _status(
    st: CourseState, item: Monitoring, last: datetime | None, due: datetime | None
) -> MonitoringStatus:
    soon = timedelta(hours=st.knowledge.number("test_due_soon_hours"))
    every = float(item.every_days or 0.0)
    if last is None or due is None:
        return MonitoringStatus(item.id, item.test, every, None, None, "missing", item.cite)
    state: MonitoringState = (
        "overdue" if st.as_of > due else ("due" if due - st.as_of <= soon else "ok")
    )
    return MonitoringStatus(item.id, item.test, every, last, due, state, item.cite)


def _finding(st: CourseState, item: Monitoring, status: MonitoringStatus) -> Finding | None:
    k = st.knowledge
    every = f"every {status.every_days:g} days ({item.frequency})"
    if status.status == "missing":
        return finding(
            k,
            "CRS-TEST-MISSING",
            f"{item.test}: never recorded in this course — required {every}.",
            based_on=(item.id,),
            cite=item.cite,
        )
    if status.status == "overdue" and status.last_at and status.due_at:
        late = (st.as_of - status.due_at) / DAY
        return finding(
            k,
            "CRS-TEST-OVERDUE",
            f"{item.test}{_which(st, item, 'overdue')}: last {status.last_at:%Y-%m-%d %H:%M}, "
            f"due {status.due_at:%Y-%m-%d %H:%M} "
            f"({late:.1f} days overdue) — required {every}.",
            based_on=(item.id,),
            cite=item.cite,
        )
    if status.status == "due" and status.due_at:
        return finding(
            k,
            "CRS-TEST-DUE",
            f"{item.test}{_which(st, item, 'due')}: due by {status.due_at:%Y-%m-%d %H:%M} "
            f"({item.frequency}).",
            based_on=(item.id,),
            cite=item.cite,
        )
    return None


def _before_each_dose(st: CourseState, item: Monitoring) -> tuple[MonitoringStatus, list[Finding]]:
    """Cidofovir: labs within the window before the next dose, and before each past dose."""
    window = timedelta(days=float(item.every_days or 0.0))
    current = st.current
    assert current is not None  # checked by the caller
    order = next(o for o in current.orders if o.drug.value == "cidofovir")
    given = [d for d in st.doses_given if d.drug.value == "cidofovir"]
    findings = [
        finding(
            st.knowledge,
            "CRS-CIDOFOVIR-PREDOSE-LABS",
            f"cidofovir dose given {d.at:%Y-%m-%d %H:%M} without {item.test.lower()} in the "
            f"{window / timedelta(hours=1):g} h before it.",
            based_on=(item.id,),
            cite=item.cite,
            drug="cidofovir",
        )
        for d in given
        if (last := last_done(st, item.tracks, d.at)) is None or d.at - last > window
    ]
    since = [d.at for d in given if d.at >= current.start]
    weekly = per_week(order.interval)
    next_dose = since[-1] + timedelta(days=7 / weekly) if since and weekly else current.start
    if since and not weekly:
        next_dose = st.as_of
    last = last_done(st, item.tracks)
    every = float(item.every_days or 0.0)
    if last is not None and last >= next_dose - window and (not since or last > since[-1]):
        return MonitoringStatus(
            item.id, item.test, every, last, next_dose, "ok", item.cite
        ), findings
    if last is None:
        state: MonitoringState = "missing"
    elif st.as_of < next_dose - window:
        state = "ok"
    elif st.as_of <= next_dose:
        state = "due"
    else:
        state = "overdue"
    return MonitoringStatus(item.id, item.test, every, last, next_dose, state, item.cite), findings

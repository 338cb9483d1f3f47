"""Maintenance: the options and doses today, and (HIV) when it may stop, must restart,
or is lifelong — thresholds from parameters.toml (hiv_maintenance_stop_cd4,
hiv_maintenance_stop_months, hiv_maintenance_restart_cd4, hiv_lifelong_maintenance_cd4),
the criteria texts and sources from maintenance.toml.
"""

from __future__ import annotations

from datetime import datetime

from cmvrx.engine.course.state import DAY, DAYS_PER_MONTH, CourseState, finding, param_cite
from cmvrx.engine.dosing import dose_for
from cmvrx.engine.predicates import holds
from cmvrx.model.assessment import EndOfInduction, Finding, MaintenanceStatus
from cmvrx.units import to_internal

_HIV_PARAMS = (
    "hiv_maintenance_stop_cd4",
    "hiv_maintenance_stop_months",
    "hiv_maintenance_restart_cd4",
    "hiv_lifelong_maintenance_cd4",
)


def maintenance(st: CourseState, eoi: EndOfInduction) -> tuple[MaintenanceStatus, list[Finding]]:
    k, s, current = st.knowledge, st.situation, st.current
    hiv = st.case.hiv is not None and st.case.hiv.status == "positive"
    after_maintenance = any(p.phase == "maintenance" for p in st.periods)
    applicable = current is not None and (
        current.phase == "maintenance"
        or eoi.met
        or (current.phase == "stopped" and after_maintenance)
    )
    if not applicable or current is None:
        return MaintenanceStatus(False, (), hiv, None, (), False, False, ()), []
    options = tuple(
        dose_for(s, o.drug, "maintenance") for o in k.maintenance.option if holds(s, (), o.unless)
    )
    cd4 = _cd4_series(st, st.as_of)
    latest = cd4[-1][1] if cd4 else None
    findings: list[Finding] = []
    stop_ok, unmet = _stop_eligible(st, st.as_of) if hiv else (None, ())
    restart = (
        hiv
        and current.phase == "stopped"
        and latest is not None
        and latest < k.number("hiv_maintenance_restart_cd4")
    )
    lifelong = (
        hiv
        and current.phase == "maintenance"
        and latest is not None
        and latest < k.number("hiv_lifelong_maintenance_cd4")
    )
    crit = {c.id: c for kind in ("stop", "restart", "lifelong") for c in k.criteria(kind)}
    cite = param_cite(k, *_HIV_PARAMS)
    if hiv and current.phase == "maintenance" and stop_ok:
        findings.append(
            finding(
                k,
                "CRS-MAINTENANCE-HIV-STOP-ELIGIBLE",
                f"CD4 {latest:g} cells/µL, above {k.number('hiv_maintenance_stop_cd4'):g} for ≥ "
                f"{k.number('hiv_maintenance_stop_months'):g} months on ART with suppressed HIV "
                "RNA: maintenance may stop if lesions are inactive and ophthalmology agrees.",
                based_on=("STOP-HIV-IMMUNE-RECOVERY",),
                cite=(*crit["STOP-HIV-IMMUNE-RECOVERY"].cite, *cite),
            )
        )
    if restart:
        findings.append(
            finding(
                k,
                "CRS-MAINTENANCE-RESTART",
                f"CD4 {latest:g} cells/µL < {k.number('hiv_maintenance_restart_cd4'):g} with "
                "maintenance stopped: restart maintenance (options below).",
                based_on=("RESTART-HIV-CD4",),
                cite=(*crit["RESTART-HIV-CD4"].cite, *cite),
            )
        )
    if lifelong:
        findings.append(
            finding(
                k,
                "CRS-MAINTENANCE-LIFELONG",
                f"CD4 {latest:g} cells/µL < {k.number('hiv_lifelong_maintenance_cd4'):g}: "
                "continue maintenance for life unless immune reconstitution occurs on ART.",
                based_on=("LIFELONG-HIV-CD4-50",),
                cite=(*crit["LIFELONG-HIV-CD4-50"].cite, *cite),
            )
        )
    if not hiv and current.phase == "maintenance":
        findings.append(
            finding(
                k,
                "CRS-MAINTENANCE-IMMUNE-FUNCTION",
                "continue maintenance until adequate immune function has recovered "
                "(immunosuppression reduced, engraftment / T-cell recovery) — specialist judgement.",
                based_on=("STOP-IMMUNE-FUNCTION",),
                cite=crit["STOP-IMMUNE-FUNCTION"].cite,
            )
        )
    findings.extend(_stopped_early(st, hiv, cite))
    based_on = tuple(crit)
    status = MaintenanceStatus(
        True, options, hiv, stop_ok, tuple(unmet), restart, lifelong, based_on
    )
    return status, findings


def _cd4_series(st: CourseState, until: datetime) -> list[tuple[datetime, float]]:
    """CD4 counts (cells/µL) up to ``until``, oldest first: baseline case and labs."""
    out: list[tuple[datetime, float]] = []
    base = st.course.baseline.hiv.cd4 if st.course.baseline.hiv else None
    if base is not None and base.measured_at <= until:
        out.append(
            (base.measured_at, to_internal(base.value, base.unit, "cell_count", field="hiv.cd4"))
        )
    for lab in st.labs.get("cd4", ()):
        if lab.at <= until and lab.value is not None:
            unit = lab.unit or "cells/uL"
            out.append(
                (lab.at, to_internal(lab.value, unit, "cell_count", field="events.cd4.unit"))
            )
    return sorted(out)


def _run_start(series: list[tuple[datetime, bool]]) -> datetime | None:
    """When the current unbroken run of True values began (None if the latest is False)."""
    start: datetime | None = None
    for at, ok in series:
        start = (start or at) if ok else None
    return start


def _stop_eligible(st: CourseState, at: datetime) -> tuple[bool, tuple[str, ...]]:
    k = st.knowledge
    threshold = k.number("hiv_maintenance_stop_cd4")
    months = k.number("hiv_maintenance_stop_months")
    need_days = months * DAYS_PER_MONTH
    unmet: list[str] = []
    hiv = st.case.hiv
    if hiv is None or hiv.on_art is not True:
        unmet.append("not recorded as on ART")
    cd4 = _cd4_series(st, at)
    cd4_start = _run_start([(t, v > threshold) for t, v in cd4])
    if cd4_start is None or (at - cd4_start) / DAY < need_days:
        latest = f"latest {cd4[-1][1]:g}" if cd4 else "no CD4 recorded"
        unmet.append(f"CD4 > {threshold:g} cells/µL not sustained ≥ {months:g} months ({latest})")
    rna = [(lab.at, lab.suppressed is True) for lab in st.labs.get("hiv_rna", ()) if lab.at <= at]
    base = st.course.baseline.hiv
    if base is not None and base.hiv_rna is not None and base.hiv_rna.measured_at <= at:
        rna = sorted([(base.hiv_rna.measured_at, base.hiv_rna_suppressed is True), *rna])
    rna_start = _run_start(rna)
    if rna_start is None or (at - rna_start) / DAY < need_days:
        unmet.append(f"HIV RNA not recorded as suppressed for ≥ {months:g} months")
    first = st.periods[0].start if st.periods else at
    if (at - first) / DAY < need_days:
        unmet.append(f"CMV treatment shorter than {months:g} months")
    return not unmet, tuple(unmet)


def _stopped_early(st: CourseState, hiv: bool, cite: tuple[str, ...]) -> list[Finding]:
    """Maintenance stopped (the latest change) while an HIV patient's stop criteria were unmet."""
    periods = st.periods
    if not hiv or len(periods) < 2 or periods[-1].phase != "stopped":
        return []
    if periods[-2].phase != "maintenance":
        return []
    ok, unmet = _stop_eligible(st, periods[-1].start)
    if ok:
        return []
    return [
        finding(
            st.knowledge,
            "CRS-MAINTENANCE-STOPPED-EARLY",
            f"maintenance stopped {periods[-1].start:%Y-%m-%d} before the HIV stop criteria were "
            f"met: {'; '.join(unmet)}.",
            based_on=("STOP-HIV-IMMUNE-RECOVERY",),
            cite=cite,
        )
    ]

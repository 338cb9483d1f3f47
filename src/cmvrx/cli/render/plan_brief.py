"""The one-screen plan (``cmvrx plan`` without ``--full``): what the clinician acts on.

Regimen, this patient's doses (with the daily total and the vials, bottles or tablets),
the step-down, the top alerts and the next tests, in an 80-column terminal. Everything
else (criteria, full monitoring, maintenance details, the NOT CONFIRMED table, the
sources) is one ``--full`` away; a closing line says how much was left out. Rendering
only: every value shown is a value of the ``Plan``.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from cmvrx.cli.render.common import footer, heading, num
from cmvrx.cli.render.plan import SEVERITY_STYLE, stale_data_line
from cmvrx.knowledge.schema import Interval
from cmvrx.model.plan import DrugDose, Plan

#: Display limits of the one-screen view (layout, not clinical numbers).
TOP_ALERTS = 4
NEXT_TESTS = 5
#: A unit definition, not a clinical number.
DAYS_PER_WEEK = 7

_NO_DOSE = {
    "not_recommended": "NOT RECOMMENDED",
    "insufficient_data": "NO DOSE — insufficient data",
    "no_label_dose": "NO LABEL DOSE",
}


def _per_week(interval: str) -> float | None:
    try:
        return Interval(interval.strip().lower()).administrations_per_week
    except ValueError:
        return None


def _total(d: DrugDose) -> str:
    """'700 mg/day' for doses given at least daily; '' otherwise (weekly cidofovir)."""
    weekly = _per_week(d.interval)
    if d.practical_mg is None or weekly is None or weekly < DAYS_PER_WEEK:
        return ""
    return f"{num(d.practical_mg * weekly / DAYS_PER_WEEK)} mg/day"


def _product(d: DrugDose) -> str:
    """The product lines of the dose: vials, bottles, tablets, or the infusion volumes."""
    counted = [line for line in d.infusion if " × " in line]
    if counted:
        return "; ".join(counted)
    volumes = [line for line in d.infusion if line.startswith(("central line", "peripheral"))]
    return "; ".join(volumes)


def _dose_line(d: DrugDose) -> Text:
    name = f"{d.drug_name} ({d.route})" if d.route else d.drug_name
    line = Text(f"{name}: ", style="bold")
    if d.status != "dose":
        line.append(_NO_DOSE.get(d.status, d.status), style="bold red")
        why = d.reason or d.measure or d.note
        if why:
            line.append(f" — {why}")
        return line
    amount = d.practical_mg if d.practical_mg is not None else d.dose_mg
    line.append(f"{num(amount)} mg {d.interval}", style="bold green")
    parts = []
    if d.dose_per_kg is not None and d.dose_unit != "mg":
        parts.append(f"{num(d.dose_per_kg, 3)} {d.dose_unit}")
    total = _total(d)
    if total:
        parts.append(total)
    if parts:
        line.append(f" ({', '.join(parts)})")
    extra = [part for part in (_product(d), f"band {d.band}" if d.band else "") if part]
    if extra:
        line.append(f"\n  {' · '.join(extra)}", style="dim")
    return line


def _lines(out: Console, lines: list[Text]) -> None:
    table = Table.grid(padding=(0, 1))
    table.add_column(width=1, no_wrap=True)
    table.add_column()
    for line in lines:
        table.add_row("•", line)
    if table.row_count:
        out.print(table)


def _header(out: Console, plan: Plan) -> None:
    p, r = plan.patient, plan.renal
    out.rule(Text(f"cmvrx plan — {plan.case_id}", style="bold"))
    who = f"{num(p.get('age_years'))} y {p.get('sex', '')}, {num(p.get('weight_kg'))} kg"
    sites = ", ".join(p.get("sites", ()))
    if r.dialysis != "none":
        renal = f"dialysis: {r.dialysis}"
    elif r.creatinine_clearance_ml_min is not None:
        renal = f"CrCl {num(r.creatinine_clearance_ml_min, 1)} mL/min"
    elif r.egfr_bedside_schwartz is not None:
        renal = f"eGFR {num(r.egfr_bedside_schwartz)} mL/min/1.73 m²"
    else:
        renal = f"renal: {r.insufficient or 'not known'}"
    out.print(Text(f"{who} · {sites} · {renal}"))


def _regimen(out: Console, plan: Plan) -> None:
    g = plan.regimen
    heading(out, "Regimen")
    out.print(Text(g.title, style="bold"))
    out.print(Text(f"{g.rule_id}" + (f" · {g.duration}" if g.duration else ""), style="dim"))
    _lines(out, [_dose_line(d) for d in g.induction])
    s = g.step_down
    if s is not None:
        when = f"after {s.after_improvement_days} days of improvement"
        if s.eligible and s.dose is not None:
            line = Text(f"Step-down {when}: ", style="bold")
            line.append_text(_dose_line(s.dose))
        else:
            line = Text(f"Step-down to {s.drug}: not now — {s.why_not}")
        _lines(out, [line])


def _alerts(out: Console, plan: Plan) -> int:
    """The critical alerts, then the others up to ``TOP_ALERTS``; returns how many were left."""
    critical = [a for a in plan.alerts if a.severity == "critical"]
    others = [a for a in plan.alerts if a.severity != "critical"]
    shown = critical + others[: max(TOP_ALERTS - len(critical), 0)]
    if not shown:
        return 0
    heading(out, "Alerts")
    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True)
    table.add_column()
    for a in shown:
        badge = Text(f" {a.severity.upper()} ", style=SEVERITY_STYLE.get(a.severity, ""))
        table.add_row(badge, Text(a.message))
    out.print(table)
    return len(plan.alerts) - len(shown)


def _tests(out: Console, plan: Plan) -> int:
    """The tests of the current (induction) phase; returns how many were left."""
    now = [m for m in plan.monitoring if m.phase != "maintenance"]
    if not now:
        return 0
    heading(out, "Next tests")
    _lines(out, [Text(f"{m.test}: {m.frequency}") for m in now[:NEXT_TESTS]])
    return len(plan.monitoring) - min(len(now), NEXT_TESTS)


def render_plan_brief(out: Console, plan: Plan) -> None:
    """The one-screen plan; ``render_plan`` is the whole of it (``--full``)."""
    stale = stale_data_line(plan)
    if stale:
        out.print(Text(stale, style="bold red"))
    _header(out, plan)
    _regimen(out, plan)
    more_alerts = _alerts(out, plan)
    more_tests = _tests(out, plan)
    options = ", ".join(d.drug for d in plan.maintenance.options if d.status == "dose")
    left = []
    if options:
        left.append(f"maintenance ({options})")
    if plan.refused:
        refused = dict.fromkeys(r.drug for r in plan.refused)
        left.append(f"not offered ({', '.join(refused)})")
    if more_alerts:
        left.append(f"{more_alerts} more alert(s)")
    if more_tests:
        left.append(f"{more_tests} more test(s)")
    if plan.not_confirmed:
        left.append(f"{len(plan.not_confirmed)} NOT CONFIRMED value(s) used")
    left.append("criteria, sources")
    out.print()
    out.print(Text("--full: " + "; ".join(left), style="italic"))
    p = plan.provenance
    footer(
        out,
        {
            "cmvrx_version": p.cmvrx_version,
            "knowledge_version": p.knowledge_version,
            "knowledge_hash": p.knowledge_hash,
            "as_of": p.as_of.isoformat(),
        },
    )

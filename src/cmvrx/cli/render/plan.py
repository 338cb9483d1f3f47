"""The plan report, section by section (``cmvrx plan``)."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from cmvrx.cli.render.common import cite, footer, heading, num, pairs, sources
from cmvrx.cli.render.doses import dose_details, dose_table
from cmvrx.model.plan import Criterion, Plan, RenalFunction, StepDown

SEVERITY_STYLE = {"critical": "bold white on red", "warning": "bold yellow", "info": "cyan"}


def _patient(out: Console, plan: Plan) -> None:
    p = plan.patient
    heading(out, "Patient")
    rows: list[tuple[str, str]] = [
        ("case", plan.case_id),
        ("age / sex", f"{num(p.get('age_years'))} years, {p.get('sex', '')}"),
        ("weight", f"{num(p.get('weight_kg'))} kg"),
        ("height", f"{num(p.get('height_cm'))} cm" if p.get("height_cm") else ""),
        ("pediatric", "yes" if p.get("pediatric") else ""),
        ("disease sites", ", ".join(p.get("sites", ()))),
        ("resistant to", ", ".join(p.get("resistant_to", ()))),
        ("cytopenias", ", ".join(p.get("cytopenias", ()))),
        ("cidofovir problems", "; ".join(p.get("cidofovir_problems", ()))),
    ]
    known = {"age_years", "sex", "weight_kg", "height_cm", "pediatric", "sites", "resistant_to"}
    known |= {"cytopenias", "cidofovir_problems"}
    rows += [(key.replace("_", " "), _plain(value)) for key, value in p.items() if key not in known]
    pairs(out, rows)


def _plain(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    if value is None or value is False:
        return ""
    return "yes" if value is True else str(value)


def _renal(out: Console, r: RenalFunction) -> None:
    heading(out, "Renal function")
    scr = ""
    if r.serum_creatinine_mg_dl is not None:
        scr = f"{num(r.serum_creatinine_mg_dl, 2)} mg/dL"
        if r.creatinine_measured_at is not None:
            scr += f" (measured {r.creatinine_measured_at.isoformat()}"
            scr += f", {num(r.creatinine_age_hours)} h ago)" if r.creatinine_age_hours else ")"
    crcl = ""
    if r.creatinine_clearance_ml_min is not None:
        crcl = f"{num(r.creatinine_clearance_ml_min, 1)} mL/min — {r.clearance_method}"
    elif r.dialysis != "none":
        crcl = r.clearance_method  # the dialysis row applies: no clearance shown (H49)
    per_kg = ""
    if r.clearance_per_kg_ml_min_kg is not None:
        per_kg = f"{r.clearance_per_kg_ml_min_kg:.3f} mL/min/kg — {r.per_kg_method}"
    weight = f"{num(r.weight_kg)} kg ({r.weight_basis} weight)"
    ibw = f"{num(r.ideal_weight_kg)} kg" if r.ideal_weight_kg is not None else ""
    rows = [
        ("dialysis", r.dialysis),
        ("serum creatinine", scr),
        ("creatinine clearance", crcl),
        ("CrCl per kg", per_kg),
        ("weight used", weight),
        ("actual / ideal weight", f"{num(r.actual_weight_kg)} kg / {ibw or '—'}"),
        ("obese", "yes — pharmacist review of dosing weight" if r.obese else ""),
        (
            "eGFR (bedside Schwartz)",
            num(r.egfr_bedside_schwartz) if r.egfr_bedside_schwartz else "",
        ),
        ("BSA", f"{num(r.bsa_m2, 2)} m²" if r.bsa_m2 else ""),
    ]
    pairs(out, rows)
    if r.insufficient:
        out.print(Text(f"  insufficient data: {r.insufficient}", style="bold red"))


def _regimen(out: Console, plan: Plan) -> None:
    g = plan.regimen
    heading(out, f"Regimen: {g.title}")
    pairs(
        out,
        [
            ("rule", g.rule_id + (f"  (regimen {g.regimen_id})" if g.regimen_id else "")),
            ("why", g.rationale),
            ("duration", g.duration),
            ("then", g.then),
            ("sources", cite(g.cite)),
        ],
    )
    if g.induction:
        out.print()
        out.print(dose_table("Induction doses", g.induction))
        iv = any(d.route == "IV" for d in g.induction)
        heading(out, "Infusion, hydration and administration" if iv else "Administration")
        for d in g.induction:
            dose_details(out, d)
    if g.step_down is not None:
        _step_down(out, g.step_down)


def _step_down(out: Console, s: StepDown) -> None:
    heading(out, f"Step-down to {s.drug}")
    status = "eligible" if s.eligible else f"not now — {s.why_not}"
    pairs(
        out,
        [
            ("when", f"after {s.after_improvement_days} days of clinical improvement"),
            ("status", status),
            ("rule", f"{s.rule_id} · sources {cite(s.cite)}"),
        ],
    )
    if s.dose is not None:
        out.print(dose_table(None, (s.dose,)))


def _refused(out: Console, plan: Plan) -> None:
    if not plan.refused:
        return
    heading(out, "Not offered for this patient")
    table = Table(show_lines=True)
    table.add_column("drug", style="bold")
    table.add_column("why")
    table.add_column("instead")
    table.add_column("rule", style="dim", overflow="fold")
    for r in plan.refused:
        table.add_row(r.drug, r.reason, r.instead, f"{r.rule_id}\n{cite(r.cite)}")
    out.print(table)


def _maintenance(out: Console, plan: Plan) -> None:
    m = plan.maintenance
    heading(out, "Maintenance")
    if m.options:
        out.print(dose_table("Maintenance options", m.options))
        for d in m.options:
            dose_details(out, d)
    else:
        out.print("  no maintenance option computed")
    table = Table(title="Criteria", title_justify="left")
    table.add_column("when")
    table.add_column("criterion")
    table.add_column("grade", justify="center")
    table.add_column("rule", style="dim", overflow="fold")
    groups: tuple[tuple[str, tuple[Criterion, ...]], ...] = (
        ("end of induction", m.end_of_induction),
        ("stop maintenance", m.stop),
        ("restart", m.restart),
        ("lifelong", m.lifelong),
    )
    for label, items in groups:
        for c in items:
            table.add_row(label, c.text, c.grade, c.rule_id)
    if table.row_count:
        out.print()
        out.print(table)


def _monitoring(out: Console, plan: Plan) -> None:
    if not plan.monitoring:
        return
    heading(out, "Monitoring")
    table = Table()
    table.add_column("test", style="bold")
    table.add_column("phase")
    table.add_column("frequency")
    table.add_column("grade", justify="center")
    table.add_column("rule", style="dim", overflow="fold")
    for m in plan.monitoring:
        table.add_row(m.test, m.phase, m.frequency, m.grade, m.rule_id)
    out.print(table)


def _alerts(out: Console, plan: Plan) -> None:
    if not plan.alerts:
        return
    heading(out, "Alerts")
    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True)
    table.add_column()
    for a in plan.alerts:
        badge = Text(f" {a.severity.upper()} ", style=SEVERITY_STYLE.get(a.severity, ""))
        message = Text(a.message + " ")
        message.append(f"[{a.rule_id}]", style="dim")
        table.add_row(badge, message)
    out.print(table)


def _not_confirmed(out: Console, plan: Plan) -> None:
    if not plan.not_confirmed:
        return
    heading(out, "NOT CONFIRMED values used (configurable: --override NAME=VALUE)")
    table = Table()
    table.add_column("value id", style="bold")
    table.add_column("value used")
    table.add_column("what it is")
    for n in plan.not_confirmed:
        table.add_row(n.id, n.value, n.description)
    out.print(table)


def stale_data_line(plan: Plan) -> str:
    """The plan's first line when no drug has a dose because the data are too old for
    ``as_of`` (typically: an example or a file planned days after it was written)."""
    r = plan.renal
    doses = (*plan.regimen.induction, *plan.maintenance.options)
    if not doses or any(d.status == "dose" for d in doses):
        return ""
    if r.creatinine_measured_at is None or not r.insufficient or "old" not in r.insufficient:
        return ""
    return (
        f"NO DOSE: the data are stale at {plan.provenance.as_of:%Y-%m-%d %H:%M %Z}"
        f" ({r.insufficient}). Measure again, or plan at the time the data describe with"
        f" --as-of (e.g. --as-of {r.creatinine_measured_at.astimezone(UTC):%Y-%m-%dT%H:%MZ})."
    )


def render_plan(out: Console, plan: Plan) -> None:
    """The whole plan, section by section."""
    p = plan.provenance
    stale = stale_data_line(plan)
    if stale:
        out.print(Text(stale, style="bold red"))
    out.rule(Text(f"cmvrx plan — {plan.case_id}", style="bold"))
    _patient(out, plan)
    _renal(out, plan.renal)
    _regimen(out, plan)
    _refused(out, plan)
    _maintenance(out, plan)
    _monitoring(out, plan)
    _alerts(out, plan)
    _not_confirmed(out, plan)
    sources(out, plan.sources)
    stamp = {
        "cmvrx_version": p.cmvrx_version,
        "knowledge_version": p.knowledge_version,
        "knowledge_hash": p.knowledge_hash,
        "as_of": p.as_of.isoformat(),
    }
    footer(out, stamp)

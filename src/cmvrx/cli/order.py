"""``cmvrx check-order``: is a proposed order right for this patient today? (a thin
wrapper over ``cmvrx.api.check_order``; exit code from ``cli.exits.ORDER_VERDICT_EXIT``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cmvrx import api
from cmvrx.cli.exits import FIELD_OPTIONS, ORDER_VERDICT_EXIT
from cmvrx.errors import InputError

if TYPE_CHECKING:
    from cmvrx.model.dosage import Dosage
    from cmvrx.model.order_check import OrderCheck

EPILOG = (
    "\b\nExample: cmvrx check-order case.yaml --drug ganciclovir --dose 350mg --every 12h\n"
    "  cmvrx check-order case.yaml --drug ganciclovir --dose 5mg/kg --every 12h --json\n"
    "  cmvrx check-order case.yaml --drug ganciclovir --dose 85mg --every 3x-weekly-after-hd\n"
    "  cmvrx check-order case.yaml --order orders.yaml\n"
    "\b\nExit: 0 ok, 6 adjust, 3 not recommended, 2 insufficient data or bad input."
)
_FIELDS = {
    "drug": "--drug",
    "dose": "--dose",
    "every": "--every",
    "route": "--route",
    "phase": "--phase",
    "amount_mg": "--dose",
    "interval_hours": "--every",
    "schedule": "--every",
    "infusion_minutes": "--infusion-minutes",
}


def check_order(
    ctx: typer.Context,
    case: Annotated[
        str,
        typer.Argument(metavar="CASE", help="Case or course file (YAML or JSON), or - for stdin."),
    ],
    drug: Annotated[str | None, typer.Option("--drug", help="Drug id, e.g. ganciclovir.")] = None,
    dose: Annotated[
        str | None, typer.Option("--dose", metavar="AMOUNT", help="e.g. 350mg or 5mg/kg.")
    ] = None,
    every: Annotated[
        str | None,
        typer.Option(
            "--every",
            metavar="INTERVAL",
            help="12h, 24h, 48h, weekly, twice-weekly, every-2-weeks, 3x-weekly-after-hd …",
        ),
    ] = None,
    route: Annotated[str | None, typer.Option("--route", help="iv or oral.")] = None,
    phase: Annotated[
        str | None,
        typer.Option("--phase", help="induction, maintenance, … (default: inferred)."),
    ] = None,
    infusion_minutes: Annotated[
        float | None, typer.Option("--infusion-minutes", metavar="MIN")
    ] = None,
    order: Annotated[
        Path | None,
        typer.Option(
            "--order",
            metavar="FILE",
            help="Order document(s), YAML/JSON: one or a list (docs/order-check.md).",
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", metavar="ISO", help="Time of the check (default: now, UTC)."),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print machine-readable JSON.")
    ] = False,
) -> None:
    """Check a proposed order (or several) against this patient's label dose."""
    from cmvrx.cli.main import _parse_as_of, _print_json

    ctx.meta[FIELD_OPTIONS] = _FIELDS
    when = _parse_as_of(as_of)
    orders = _orders(order, drug, dose, every, route, phase, infusion_minutes)
    subject = sys.stdin.read() if case == "-" else Path(case)
    result = api.check_order(subject, orders, as_of=when)
    if json_output:
        _print_json(result.to_dict())
    else:
        typer.echo(render(result))
    code = ORDER_VERDICT_EXIT[result.verdict]
    if code:
        raise typer.Exit(code)


def _orders(
    order_file: Path | None,
    drug: str | None,
    dose: str | None,
    every: str | None,
    route: str | None,
    phase: str | None,
    infusion_minutes: float | None,
) -> list[Dosage]:
    """The orders of ``--order FILE`` or of ``--drug/--dose/--every`` (not both)."""
    from cmvrx.order_input import parse_dose, parse_every

    words = (drug, dose, every, route, phase, infusion_minutes)
    if order_file is not None:
        if any(w is not None for w in words):
            raise InputError("give --order FILE or --drug/--dose/--every, not both", field="order")
        return api.read_orders(order_file)
    for value, name in ((drug, "drug"), (dose, "dose"), (every, "every")):
        if value is None:
            raise InputError(f"--{name} is required (or --order FILE)", field=name)
    assert drug is not None and dose is not None and every is not None
    mg, per_kg = parse_dose(dose)
    interval = parse_every(every)
    doc: dict[str, object] = {"drug": drug}
    doc.update({"amount_mg": mg} if mg is not None else {"amount_mg_per_kg": per_kg})
    if interval.hours is not None:
        doc["interval_hours"] = interval.hours
    else:
        doc["schedule"] = interval.schedule or every
    extras: tuple[tuple[str, object], ...] = (
        ("route", route),
        ("phase", phase),
        ("infusion_minutes", infusion_minutes),
    )
    for key, extra in extras:
        if extra is not None:
            doc[key] = extra
    return [api.parse_order(doc)]


def render(result: OrderCheck) -> str:
    """The human report: verdict, each order with its findings and correction."""
    lines = [f"Verdict: {result.verdict.replace('_', ' ').upper()}"]
    for r in result.results:
        label = f" [{r.order_id}]" if r.order_id else ""
        assumed = f" (judged as {r.assumed_phase}" if r.assumed_phase else ""
        if assumed and r.assumed_column not in (None, "standard"):
            assumed += f", label column {r.assumed_column}"
        lines.append(f"\nOrder{label}: {r.order.text}{assumed + ')' if assumed else ''}")
        lines.append(f"  verdict: {r.verdict.replace('_', ' ')}")
        if r.label_dose:
            lines.append(f"  label dose for this patient: {r.label_dose}")
        for f in r.findings:
            if f.rule_id == "ORD-PHASE-ASSUMED":
                continue
            lines.append(f"  [{f.severity}] {f.message}  ({f.rule_id}; {', '.join(f.citations)})")
        if r.corrected is not None:
            lines.append(f"  corrected: {r.corrected.text}")
    for dosage in result.add:
        lines.append(f"\nAdd: {dosage.text}")
    lines.append(
        f"\ncmvrx {result.cmvrx_version} · knowledge {result.knowledge_version} "
        f"({result.knowledge_hash[:12]}) · as of {result.as_of.isoformat()}"
    )
    lines.append(result.disclaimer)
    return "\n".join(lines)

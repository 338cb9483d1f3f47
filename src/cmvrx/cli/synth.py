"""``cmvrx synth``: write a synthetic FHIR Bulk Data export with planted problems and
their answer key (a thin wrapper over ``cmvrx.api.synthesize_cohort``)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from cmvrx import api
from cmvrx.errors import InputError

EPILOG = (
    "\b\nExample: cmvrx synth --patients 100000 --seed 1 --out export/\n"
    "  then: cmvrx audit export/ --out findings/\n"
    "\b\nWrites DIR/<Type>.ndjson, DIR/manifest.json and DIR/answer-key.csv"
    " (patient_id,order_id,kind). Synthetic data for tests and benchmarks only."
)


def synth(
    patients: Annotated[int, typer.Option("--patients", help="How many patients.")],
    out: Annotated[Path, typer.Option("--out", help="Folder to write (created if needed).")],
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same files.")] = 1,
    treated_share: Annotated[
        float, typer.Option("--treated-share", help="Share of patients on CMV therapy.")
    ] = 0.05,
    planted_share: Annotated[
        float,
        typer.Option("--planted-share", help="Share of treated patients with a planted problem."),
    ] = 0.4,
    transaction_time: Annotated[
        str | None,
        typer.Option(
            "--transaction-time",
            help="The export's moment (ISO 8601 with zone); default a fixed date.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Write a synthetic Bulk Data export with deliberately wrong orders and an answer key."""
    moment = None
    if transaction_time is not None:
        try:
            moment = datetime.fromisoformat(transaction_time)
        except ValueError:
            raise InputError(
                f"{transaction_time!r} is not an ISO 8601 date-time", field="--transaction-time"
            ) from None
        if moment.tzinfo is None:
            raise InputError(f"{transaction_time!r} has no time zone", field="--transaction-time")
    summary = api.synthesize_cohort(
        out,
        patients=patients,
        seed=seed,
        treated_share=treated_share,
        planted_share=planted_share,
        transaction_time=moment,
    )
    data = summary.to_dict()
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    rate = data["patients"] / data["seconds"] if data["seconds"] else 0.0
    typer.echo(
        f"{data['patients']:,} patients ({data['treated']:,} on CMV therapy,"
        f" {data['planted']:,} planted problems) written to {data['out']}"
        f" in {data['seconds']:.1f} s ({rate:,.0f} patients/s)"
    )
    typer.echo(f"transactionTime {data['transaction_time']}; answer key: answer-key.csv")
    typer.echo("Synthetic data: made-up people for tests, not a clinical record.")

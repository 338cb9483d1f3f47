"""The ``cmvrx`` command line: parse input, call ``cmvrx.api``, render.

Commands are thin wrappers over the façade; no clinical logic lives here. Errors
become exit codes in one place, ``cmvrx.cli.exits`` (``CmvrxGroup``), for every
command including the ``course`` sub-app. Only ``cmvrx.cli`` prints or exits; the
clock is read here (``as_of`` defaults to now, UTC) and nowhere in the engine.
"""

from __future__ import annotations

import gc
import json
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cmvrx import api
from cmvrx.cli import audit as audit_cli
from cmvrx.cli import order as order_cli
from cmvrx.cli import synth as synth_cli
from cmvrx.cli.course import course_app
from cmvrx.cli.exits import DOSE_STATUS_EXIT, EXIT_OK, FIELD_OPTIONS, CmvrxGroup
from cmvrx.cli.launch import command_for
from cmvrx.cli.serve import serve
from cmvrx.cli.user import user_app
from cmvrx.errors import InputError
from cmvrx.model.dosage import DosePhase
from cmvrx.model.patient import Dialysis, FoscarnetColumn, Sex, UrineDipstick

if TYPE_CHECKING:
    from cmvrx.model.plan import DrugDose

_JSON_HELP = "Print machine-readable JSON instead of the human report."


app = typer.Typer(
    cls=CmvrxGroup,
    name="cmvrx",
    help=(
        "Clinical decision support for severe CMV disease: regimen, renally adjusted doses,"
        " monitoring, maintenance. Decision support, not a prescriber.\n\n"
        "Example: cmvrx plan examples/cns-encephalitis-hiv.yaml"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
knowledge_app = typer.Typer(
    cls=CmvrxGroup,
    help="Inspect the loaded clinical knowledge.\n\nExample: cmvrx knowledge check",
    no_args_is_help=True,
)
app.add_typer(knowledge_app, name="knowledge")
app.add_typer(course_app, name="course")
app.add_typer(user_app, name="user")
app.command("check-order", epilog=order_cli.EPILOG)(order_cli.check_order)
app.command("audit", epilog=audit_cli.EPILOG)(audit_cli.audit)
app.command("synth", epilog=synth_cli.EPILOG)(synth_cli.synth)


# --------------------------------------------------------------------------- helpers


def _now() -> datetime:
    return datetime.now(UTC)


def _parse_as_of(text: str | None) -> datetime:
    if text is None:
        return _now()
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"{text!r} is not an ISO 8601 date-time (e.g. 2026-11-24T08:00Z)", field="--as-of"
        ) from None
    if value.tzinfo is None:
        raise InputError(f"{text!r} has no time zone (e.g. 2026-11-24T08:00Z)", field="--as-of")
    return value


def _parse_overrides(items: list[str]) -> dict[str, float]:
    if not items:
        return {}
    configurable = api.knowledge_summary()["not_confirmed"]
    overrides: dict[str, float] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise InputError(f"{item!r} is not NAME=VALUE", field="--override")
        if name not in configurable:
            raise InputError(
                f"{name!r} is not a configurable (NOT CONFIRMED) value; configurable: "
                + ", ".join(configurable),
                field="--override",
            )
        try:
            overrides[name] = float(raw)
        except ValueError:
            raise InputError(f"{name}: {raw!r} is not a number", field="--override") from None
    return overrides


def _stdin_text() -> str:
    """Standard input, through the bounded reader (size and encoding checked)."""
    from cmvrx import reader

    return reader.read_stream(sys.stdin.buffer)


def _print_json(data: object) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _console() -> Any:
    from cmvrx.cli.render import console

    return console()


# --------------------------------------------------------------------------- plan


@app.command(
    epilog="\b\nExample: cmvrx plan examples/cns-encephalitis-hiv.yaml --as-of 2026-11-24T08:00Z",
)
def plan(
    case: Annotated[
        str,
        typer.Argument(
            metavar="CASE", help="Case file (YAML or JSON; see `cmvrx schema`), or - for stdin."
        ),
    ],
    json_output: Annotated[bool, typer.Option("--json", help=_JSON_HELP)] = False,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", metavar="ISO", help="Time of the plan, with zone (default: now, UTC)."
        ),
    ] = None,
    override: Annotated[
        list[str] | None,
        typer.Option(
            "--override",
            metavar="NAME=VALUE",
            help="Change a NOT CONFIRMED value (repeatable); see `cmvrx knowledge check`.",
        ),
    ] = None,
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="The whole plan: criteria, all monitoring, maintenance details, NOT CONFIRMED "
            "values, sources (default: one screen).",
        ),
    ] = False,
) -> None:
    """The treatment plan for one patient: one screen by default, everything with --full."""
    when = _parse_as_of(as_of)
    overrides = _parse_overrides(override or [])
    source: str | Path = _stdin_text() if case == "-" else Path(case)
    knowledge = api.load_knowledge(overrides) if overrides else None
    result = api.plan(api.load_case(source), as_of=when, knowledge=knowledge)
    if json_output:
        _print_json(result.to_dict())
        return
    from cmvrx.cli.render import render_plan, render_plan_brief

    (render_plan if full else render_plan_brief)(_console(), result)


# --------------------------------------------------------------------------- dose


class CreatinineUnit(StrEnum):
    mg_dl = "mg/dL"
    umol_l = "umol/L"


_DOSE_FIELDS = {
    "patient.weight": "--weight",
    "patient.age": "--age",
    "patient.sex": "--sex",
    "patient.height": "--height",
    "renal.serum_creatinine": "--creatinine / --creatinine-unit",
    "renal.dialysis": "--dialysis",
    "medications": "--medication",
    "renal.urine_protein": "--urine-protein / --urine-dipstick",
    "renal.urine_protein.quantity": "--urine-protein",
    "patient.low_birth_weight_for_gestational_age": "--low-birth-weight / --normal-birth-weight",
    "column": "--column",
    "drug": "DRUG",
    "phase": "--phase",
}


@app.command(
    epilog=(
        "\b\nExample: cmvrx dose ganciclovir --phase induction --weight 70 --creatinine 1.1"
        " --age 54 --sex female"
    ),
)
def dose(
    ctx: typer.Context,
    drug: Annotated[
        str,
        typer.Argument(
            metavar="DRUG",
            help="ganciclovir, valganciclovir, foscarnet, cidofovir, letermovir, maribavir.",
        ),
    ],
    phase: Annotated[DosePhase, typer.Option("--phase", help="Treatment phase.")],
    weight: Annotated[float, typer.Option("--weight", metavar="KG", help="Actual weight, kg.")],
    age: Annotated[float, typer.Option("--age", metavar="YEARS", help="Age in years.")],
    sex: Annotated[Sex, typer.Option("--sex")],
    creatinine: Annotated[
        float | None,
        typer.Option("--creatinine", metavar="VALUE", help="Serum creatinine (now)."),
    ] = None,
    creatinine_unit: Annotated[
        CreatinineUnit, typer.Option("--creatinine-unit")
    ] = CreatinineUnit.mg_dl,
    dialysis: Annotated[Dialysis, typer.Option("--dialysis")] = Dialysis.none,
    height: Annotated[float | None, typer.Option("--height", metavar="CM")] = None,
    column: Annotated[
        FoscarnetColumn | None,
        typer.Option("--column", help="Foscarnet label column (induction or maintenance)."),
    ] = None,
    medication: Annotated[
        list[str] | None,
        typer.Option("--medication", metavar="NAME", help="A current medication (repeatable)."),
    ] = None,
    urine_protein: Annotated[
        float | None,
        typer.Option(
            "--urine-protein", metavar="MG_DL", help="Urine protein now, mg/dL (cidofovir)."
        ),
    ] = None,
    urine_dipstick: Annotated[
        UrineDipstick | None,
        typer.Option("--urine-dipstick", help="Urine protein dipstick now (cidofovir)."),
    ] = None,
    low_birth_weight: Annotated[
        bool | None,
        typer.Option(
            "--low-birth-weight/--normal-birth-weight",
            help="Infants < 1 year: low birth weight for gestational age (valganciclovir).",
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help=_JSON_HELP)] = False,
) -> None:
    """One drug's dose for one phase from weight, age, sex and creatinine, through every
    eligibility rule the plan applies to the drug; checks it could not make are listed."""
    ctx.meta[FIELD_OPTIONS] = _DOSE_FIELDS
    when = _now()
    result = api.dose(
        drug,
        phase=phase.value,
        as_of=when,
        weight_kg=weight,
        age_years=age,
        sex=sex.value,
        creatinine=creatinine,
        creatinine_unit=creatinine_unit.value,
        dialysis=dialysis.value,
        height_cm=height,
        column=column.value if column else None,
        medications=tuple(medication or ()),
        urine_protein_mg_dl=urine_protein,
        urine_dipstick=urine_dipstick.value if urine_dipstick else None,
        low_birth_weight=low_birth_weight,
    )
    stamp = api.provenance(when)
    if json_output:
        _print_json(api.dose_document(result, as_of=when))
    else:
        from cmvrx.cli.render import render_dose

        render_dose(_console(), result, stamp)
    _exit_for_status(result)


def _exit_for_status(result: DrugDose) -> None:
    code = DOSE_STATUS_EXIT[result.status]
    if code != EXIT_OK:
        why = result.reason or result.measure or result.status
        typer.echo(f"cmvrx: no dose ({result.status.replace('_', ' ')}): {why}", err=True)
        raise typer.Exit(code)


# --------------------------------------------------------------------------- knowledge


@knowledge_app.command(
    "check", epilog="\b\nExample: cmvrx knowledge check  (exit 4 if the knowledge is malformed)"
)
def knowledge_check(
    json_output: Annotated[bool, typer.Option("--json", help=_JSON_HELP)] = False,
) -> None:
    """Load and validate the knowledge files; print version, hash and counts."""
    summary = api.knowledge_summary()
    if json_output:
        _print_json(summary)
        return
    from cmvrx.cli.render import render_knowledge_check

    render_knowledge_check(_console(), summary)


@knowledge_app.command("show", epilog="\b\nExample: cmvrx knowledge show foscarnet")
def knowledge_show(
    drug: Annotated[str | None, typer.Argument(help="One drug (default: all drugs).")] = None,
    json_output: Annotated[bool, typer.Option("--json", help=_JSON_HELP)] = False,
) -> None:
    """The dose tables row by row, with their sources."""
    summary = api.knowledge_summary(drug)
    if json_output:
        _print_json(summary)
        return
    from cmvrx.cli.render import render_knowledge_show

    render_knowledge_show(_console(), summary)


# --------------------------------------------------------------------------- misc


@app.command(epilog="\b\nExample: cmvrx schema > case.schema.json")
def schema() -> None:
    """The JSON Schema of the case format (what `cmvrx plan` reads)."""
    _print_json(api.plan_schema())


def _version() -> str:
    from cmvrx._version import __version__

    return __version__


@app.command(epilog="\b\nExample: cmvrx version")
def version() -> None:
    """The cmvrx version and the knowledge version and content hash."""
    knowledge = api.load_knowledge()
    typer.echo(f"cmvrx {_version()} (knowledge {knowledge.version}, hash {knowledge.content_hash})")


app.command(
    epilog=(
        "\b\nExample: cmvrx serve --host 127.0.0.1 --port 8080"
        " --public-url https://cds.example.org --clients clients.json"
    ),
)(serve)


def run() -> None:
    """Console-script entry point."""
    gc.freeze()  # what the imports built lives as long as the process: never walk it again
    command_for(app, sys.argv[1:])(prog_name="cmvrx")


if __name__ == "__main__":
    run()

"""One vocabulary: ``cmvrx dose`` takes its phase, sex, dialysis, foscarnet column and
dipstick choices from the model's enums (issue 8), spelled exactly as docs/cli.md
documents them (a contract)."""

from __future__ import annotations

import typing
from enum import Enum

import pytest
from typer.testing import CliRunner

from cmvrx.cli import main
from cmvrx.knowledge.schema import Schedule
from cmvrx.model.dosage import DosePhase
from cmvrx.model.patient import Case, Dialysis, FoscarnetColumn, Sex, UrineDipstick

#: The option → the documented spellings (docs/cli.md, `cmvrx dose` options).
CONTRACT = {
    "phase": ("induction", "maintenance", "prophylaxis", "refractory_treatment", "prevention"),
    "sex": ("male", "female"),
    "dialysis": ("none", "intermittent_hemodialysis", "crrt", "peritoneal"),
    "column": ("60_q8h", "90_q12h", "90_per_day", "120_per_day"),
    "urine_dipstick": ("negative", "trace", "1+", "2+", "3+", "4+"),
}
MODEL_ENUMS: dict[str, type[Enum]] = {
    "phase": DosePhase,
    "sex": Sex,
    "dialysis": Dialysis,
    "column": FoscarnetColumn,
    "urine_dipstick": UrineDipstick,
}


def _dose_help() -> str:
    result = CliRunner().invoke(main.app, ["dose", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return str(result.output)


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_dose_choices_are_the_model_enums_spelled_as_documented(name: str) -> None:
    option = "--" + name.replace("_", "-")
    assert f"{option} <{'|'.join(CONTRACT[name])}>" in _dose_help()
    assert tuple(e.value for e in MODEL_ENUMS[name]) == CONTRACT[name]


def test_the_cli_defines_no_vocabulary_of_its_own() -> None:
    for former in ("Phase", "SexOption", "DialysisOption", "Dipstick"):
        assert not hasattr(main, former), former
    assert main.FoscarnetColumn is FoscarnetColumn


def test_foscarnet_columns_are_the_case_fields_values() -> None:
    fields = Case.model_fields
    values = {
        *typing.get_args(fields["foscarnet_induction_column"].annotation),
        *typing.get_args(fields["foscarnet_maintenance_column"].annotation),
    }
    assert values == {c.value for c in FoscarnetColumn}


def test_dose_phases_are_the_schedule_phases_and_prevention() -> None:
    phases = set(typing.get_args(Schedule.model_fields["phase"].annotation))
    assert {p.value for p in DosePhase} == phases | {"prevention"}

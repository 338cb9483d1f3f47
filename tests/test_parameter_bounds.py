"""Every overridable (NOT CONFIRMED) parameter has cited bounds; overrides stay inside them
(issue 6 item 10: ``creatinine_max_age_hours=-1`` withheld every dose, ``=100000`` dosed
from a years-old creatinine)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import cmvrx
from cmvrx.knowledge import loader
from cmvrx.knowledge.schema import Grade

KNOWLEDGE = loader.load()
NOT_CONFIRMED = sorted(
    name for name, p in KNOWLEDGE.parameters.items() if p.grade is Grade.NOT_CONFIRMED
)


@pytest.mark.parametrize("name", NOT_CONFIRMED)
def test_every_not_confirmed_parameter_has_cited_bounds_around_its_value(name: str) -> None:
    p = KNOWLEDGE.parameters[name]
    assert p.bounds is not None, f"{name}: NOT CONFIRMED but no bounds"
    assert p.bounds.cite and p.bounds.note
    assert isinstance(p.value, int | float)
    assert p.bounds.min <= p.value <= p.bounds.max
    assert set(p.bounds.cite) <= set(KNOWLEDGE.sources)


@pytest.mark.parametrize("name", NOT_CONFIRMED)
def test_overrides_at_the_bounds_load_and_outside_are_refused(name: str) -> None:
    b = KNOWLEDGE.parameters[name].bounds
    assert b is not None
    for inside in (b.min, b.max):
        assert loader.load({name: inside}).number(name) == inside
    span = b.max - b.min
    for outside in (b.min - span, b.max + span, math.nan, math.inf, -math.inf):
        with pytest.raises(cmvrx.InputError, match=name):
            loader.load({name: outside})


@pytest.mark.parametrize("value", ["-1", "100000", "nan", "inf"])
def test_cli_override_out_of_bounds_is_an_input_error(value: str) -> None:
    from typer.testing import CliRunner

    from cmvrx.cli.main import app

    example = Path(__file__).parents[1] / "examples" / "cns-encephalitis-hiv.yaml"
    result = CliRunner().invoke(
        app,
        ["plan", str(example), "--as-of", "2026-11-24T08:00:00Z",
         "--override", f"creatinine_max_age_hours={value}"],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "creatinine_max_age_hours" in result.stderr and "outside the allowed" in result.stderr

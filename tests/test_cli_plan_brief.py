"""``cmvrx plan`` without ``--full``: one 80-column screen with what the clinician acts on
(issue 7 item 14), for every vignette patient; the rest stays one ``--full`` away."""

from __future__ import annotations

import io
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console
from typer.testing import CliRunner

import cmvrx
from cmvrx.cli.main import app
from cmvrx.cli.render import render_plan_brief
from cmvrx.errors import InputError

ALL_CASES = sorted((Path(__file__).parent / "cases").glob("*.yaml"))
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "cns-encephalitis-hiv.yaml"
AS_OF = "2026-11-24T08:00:00+00:00"
#: One screen: a 50-line terminal (a layout target, not a clinical number).
SCREEN_LINES = 50


def _plan(path: Path) -> Any:
    v = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        return cmvrx.plan(v["case"], as_of=datetime.fromisoformat(v["as_of"]))
    except InputError:
        return None


def _brief(plan: Any) -> str:
    buffer = io.StringIO()
    render_plan_brief(Console(file=buffer, width=80, color_system=None), plan)
    return buffer.getvalue()


def flat(text: str) -> str:
    return " ".join(re.sub(r"[│┃┏┓┗┛┡┩└┘├┤┼┬┴━─╇╈═]", " ", text).split())


#: The vignettes that have a plan (an input-error vignette is refused: nothing to render).
CASES = [p for p in ALL_CASES if "error" not in yaml.safe_load(p.read_text("utf-8"))["expect"]]


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_brief_plan_fits_one_80_column_screen(path: Path) -> None:
    plan = _plan(path)
    assert plan is not None, "a vignette without an expected error must plan"
    text = _brief(plan)
    lines = text.rstrip("\n").split("\n")
    assert len(lines) <= SCREEN_LINES, f"{len(lines)} lines:\n{text}"
    assert max(len(line) for line in lines) <= 80
    words = flat(text)
    assert " ".join(cmvrx.DISCLAIMER.split()) in words
    assert plan.regimen.title in words
    for d in plan.regimen.induction:
        if d.status == "dose":
            assert f"{d.practical_mg:g} mg {d.interval}" in words
    for a in plan.alerts:
        if a.severity == "critical":
            assert " ".join(a.message.split()) in words
    assert "Sources" not in text and "value id" not in text
    assert "--full" in text


def test_brief_plan_shows_daily_total_and_product() -> None:
    words = flat(_brief(cmvrx.plan(EXAMPLE, as_of=datetime.fromisoformat(AS_OF))))
    assert "mg/day" in words
    assert "vial" in words


def test_cli_default_is_brief_and_full_is_everything() -> None:
    runner = CliRunner()
    brief = runner.invoke(app, ["plan", str(EXAMPLE), "--as-of", AS_OF])
    full = runner.invoke(app, ["plan", str(EXAMPLE), "--as-of", AS_OF, "--full"])
    assert brief.exit_code == 0 and full.exit_code == 0
    assert "NOT CONFIRMED values used" not in brief.stdout
    assert "NOT CONFIRMED values used" in full.stdout
    for out in (brief.stdout, full.stdout):
        assert " ".join(cmvrx.DISCLAIMER.split()) in flat(out)
    as_json = runner.invoke(app, ["plan", str(EXAMPLE), "--as-of", AS_OF, "--json"])
    assert as_json.exit_code == 0 and as_json.stdout.lstrip().startswith("{")

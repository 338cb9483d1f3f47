"""The README works as written (issue 6 item 13): the documents it names are in the
repository, its commands say how to reach the venv's `cmvrx`, and a plan planned after
its data went stale says so on its first line, naming --as-of."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from typer.testing import CliRunner

from cmvrx.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_readme_points_only_to_files_in_the_repository() -> None:
    assert "shared/" not in README
    for path in set(re.findall(r"`((?:docs|examples|scripts|bench)/[\w./-]+)`", README)):
        assert (ROOT / path).exists(), path
    assert (ROOT / "docs" / "guideline.md").exists()


def test_readme_says_how_to_reach_the_installed_command() -> None:
    assert "source .venv/bin/activate" in README and ".venv/bin/cmvrx" in README


def test_readme_cmvrx_commands_run() -> None:
    """Every `cmvrx plan|dose|knowledge|schema` line of the README's Use block."""
    block = README.split("## Use", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    for line in block.splitlines():
        command = line.split("#", 1)[0].strip()
        if not command.startswith("cmvrx "):
            continue
        for part in command.split("&&"):
            argv = shlex.split(part.split(">", 1)[0])[1:]
            result = CliRunner().invoke(app, argv, catch_exceptions=False)
            assert result.exit_code == 0, (part, result.output)


def test_a_plan_of_stale_data_says_so_on_its_first_line() -> None:
    example = str(ROOT / "examples" / "cns-encephalitis-hiv.yaml")
    result = CliRunner().invoke(app, ["plan", example, "--as-of", "2026-12-03T10:00Z"])
    assert result.exit_code == 0, result.output
    first = " ".join(result.stdout.split("─")[0].split())
    assert first.startswith("NO DOSE: the data are stale")
    assert "--as-of 2026-11-24T06:00Z" in first
    fresh = CliRunner().invoke(app, ["plan", example, "--as-of", "2026-11-24T08:00Z"])
    assert "stale" not in fresh.stdout.split("\n")[0]

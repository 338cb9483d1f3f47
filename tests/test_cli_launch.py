"""``cmvrx.cli.launch``: the command line built for one call (only the command it names)
parses, prints and exits exactly as the full command tree does."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer.testing
from typer.testing import CliRunner

from cmvrx.cli.launch import command_for
from cmvrx.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
CASE = str(ROOT / "examples" / "cns-encephalitis-hiv.yaml")
AS_OF = "2026-11-24T08:00:00+00:00"
NAMES = sorted(
    [str(c.name or c.callback.__name__.replace("_", "-")) for c in app.registered_commands]
    + [str(g.name) for g in app.registered_groups]
)

CALLS = [
    *([name, "--help"] for name in NAMES),
    ["plan", CASE, "--json", "--as-of", AS_OF],
    ["plan", CASE, "--as-of", AS_OF, "--full"],
    ["plan", CASE, "--as-of", "yesterday"],
    ["plan", CASE, "--as-of", AS_OF, "--override", "no_such=1"],
    ["plan"],
    ["plan", "--bogus"],
    ["plan", str(ROOT / "no-such-case.yaml"), "--as-of", AS_OF],
    ["knowledge", "check", "--json"],
    ["knowledge"],
    ["course"],
    ["version"],
    ["schema"],
]


def _run(args: list[str], monkeypatch: pytest.MonkeyPatch, *, pruned: bool) -> tuple[int, str, str]:
    if pruned:
        monkeypatch.setattr(typer.testing, "_get_command", lambda a: command_for(a, args))
    result = CliRunner().invoke(app, args, prog_name="cmvrx")
    monkeypatch.undo()
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("args", CALLS, ids=" ".join)
def test_the_pruned_tree_behaves_as_the_full_one(args, monkeypatch):
    assert _run(args, monkeypatch, pruned=True) == _run(args, monkeypatch, pruned=False)


@pytest.mark.parametrize("name", NAMES)
def test_a_named_command_is_built_alone(name):
    tree = command_for(app, [name, "--help"])
    assert list(tree.commands) == [name]  # type: ignore[attr-defined]
    assert type(tree) is type(command_for(app, []))


@pytest.mark.parametrize("args", [[], ["--help"], ["plna", "x"], ["-x", "plan"], [""]])
def test_anything_else_gets_the_full_tree(args):
    assert sorted(command_for(app, args).commands) == NAMES  # type: ignore[attr-defined]

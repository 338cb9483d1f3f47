"""Build the command line for one call: only the top-level command it names.

Typer turns every command into a Click command when the program starts, inspecting
each function's signature (about 8 % of a fresh ``cmvrx plan``, for twenty commands of
which one runs). When the first argument names a top-level command or sub-app, the
tree built here holds that one alone, under the same group (same name, class, options
and error handling), so its parsing, help, output and exit codes are those of the full
tree; anything else (no argument, ``--help``, a misspelt command) gets the full tree.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING

import typer
import typer.main

if TYPE_CHECKING:
    from typer._click import Command  # Typer's own Click


def command_for(app: typer.Typer, argv: Sequence[str]) -> Command:
    """The Click command that runs ``argv`` (the arguments after the program name)."""
    first = argv[0] if argv else ""
    commands = [c for c in app.registered_commands if _command_name(c) == first]
    groups = [g for g in app.registered_groups if g.name == first]
    if first.startswith("-") or len(commands) + len(groups) != 1:
        return typer.main.get_command(app)
    pruned = copy.copy(app)
    pruned.registered_commands = commands
    pruned.registered_groups = groups
    return typer.main.get_group(pruned)


def _command_name(info: typer.models.CommandInfo) -> str | None:
    if info.name:
        return info.name
    if info.callback is None:
        return None
    return typer.main.get_command_name(info.callback.__name__)

"""`cmvrx user add NAME`: local accounts of the web page (password from standard input)."""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer

from cmvrx import api
from cmvrx.cli.course import DbOption
from cmvrx.errors import InputError

user_app = typer.Typer(
    help="Accounts of the web page (cmvrx serve).\n\nExample: cmvrx user add alice < pw.txt",
    no_args_is_help=True,
)


def _password() -> str:
    """The password: typed twice at a terminal, else the first line of standard input.
    Never a command-line argument (it would show in the process list and shell history)."""
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            raise InputError("the two passwords differ", field="password")
        return first
    line = sys.stdin.readline()
    return line[:-1] if line.endswith("\n") else line


@user_app.command(
    "add", epilog="\b\nExample: cmvrx user add alice --db cmvrx.sqlite   (then type the password)"
)
def add(
    name: Annotated[str, typer.Argument(metavar="NAME", help="User name.")],
    db: DbOption = None,
) -> None:
    """Create a local web account (or reset its password), the password read from standard
    input (at least 12 characters)."""
    created = api.add_web_user(name, _password(), store=db)
    typer.echo(f"user {name} {'created' if created else 'password replaced'}")

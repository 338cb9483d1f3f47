"""The ONE map from errors to exit codes, applied to every ``cmvrx`` (sub)command.

====  ==========================================================================
code  meaning
====  ==========================================================================
0     success
1     another deliberate cmvrx error (``CmvrxError`` not listed below)
2     input error: bad value, unit, contradiction, missing or stale data, usage
3     not recommended: the knowledge refuses this drug/phase, or gives no dose
4     knowledge error: the knowledge files are malformed
5     storage error: the course database failed, or its extra is not installed
6     ``cmvrx check-order``: the order needs adjusting (the corrected order is printed)
70    internal error: a bug in cmvrx (one line; ``CMVRX_DEBUG=1`` shows the trace)
====  ==========================================================================

``CmvrxGroup`` (the Typer group class of ``cmvrx`` and its sub-apps) catches what a
command raises, prints one line to stderr — naming the field, or the command-line
option it came from — and exits with the code; a user error never shows a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import typer
from typer.core import TyperGroup

from cmvrx.errors import (
    CmvrxError,
    InputError,
    KnowledgeError,
    NotRecommendedError,
    StorageError,
)

EXIT_OK = 0
EXIT_OTHER = 1
EXIT_INPUT = 2
EXIT_NOT_RECOMMENDED = 3
EXIT_KNOWLEDGE = 4
EXIT_STORAGE = 5
EXIT_ADJUST = 6
EXIT_INTERNAL = 70

#: Most specific first: the first matching class decides the exit code.
EXIT_CODES: tuple[tuple[type[CmvrxError], int, str], ...] = (
    (InputError, EXIT_INPUT, "error"),
    (NotRecommendedError, EXIT_NOT_RECOMMENDED, "not recommended"),
    (KnowledgeError, EXIT_KNOWLEDGE, "knowledge error"),
    (StorageError, EXIT_STORAGE, "storage error"),
    (CmvrxError, EXIT_OTHER, "error"),
)

#: ``cmvrx dose``: a result without a dose is not a success for a script.
DOSE_STATUS_EXIT = {
    "dose": EXIT_OK,
    "insufficient_data": EXIT_INPUT,
    "not_recommended": EXIT_NOT_RECOMMENDED,
    "no_label_dose": EXIT_NOT_RECOMMENDED,
}

#: ``cmvrx check-order``: the set's verdict → exit code (a script can branch on it).
ORDER_VERDICT_EXIT = {
    "ok": EXIT_OK,
    "adjust": EXIT_ADJUST,
    "not_recommended": EXIT_NOT_RECOMMENDED,
    "insufficient_data": EXIT_INPUT,
}

FIELD_OPTIONS = "cmvrx.field_options"
#: Typer's own control flow (usage errors exit 2 with their message; --help; Ctrl-C).
#: ClickException is found through BadParameter because newer Typer vendors Click.
_PASS_THROUGH: tuple[type[BaseException], ...] = (
    typer.Exit,
    typer.Abort,
    *(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"),
)


def exit_code_for(exc: BaseException) -> tuple[int, str]:
    """The exit code and message prefix for an exception."""
    for kind, code, prefix in EXIT_CODES:
        if isinstance(exc, kind):
            return code, prefix
    return EXIT_INTERNAL, "internal error"


def _message(exc: BaseException, ctx: Any) -> str:
    """One line; names the command-line option when the failing field came from one."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    field = getattr(exc, "field", None)
    options: Mapping[str, str] = ctx.meta.get(FIELD_OPTIONS, {})
    if isinstance(field, str) and field in options:
        text = f"{options[field]} ({text})"
    if isinstance(exc, NotRecommendedError) and exc.cite:
        text += f" — sources: {', '.join(exc.cite)}"
    return text


class CmvrxGroup(TyperGroup):
    """Runs every (sub)command under the single error → exit-code map."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except _PASS_THROUGH:
            raise
        except Exception as exc:
            code, prefix = exit_code_for(exc)
            if code == EXIT_INTERNAL:
                if os.environ.get("CMVRX_DEBUG"):
                    raise
                prefix = f"internal error ({type(exc).__name__}; please report it)"
            typer.echo(f"cmvrx: {prefix}: {_message(exc, ctx)}", err=True)
            if code == EXIT_INTERNAL:
                typer.echo("cmvrx: set CMVRX_DEBUG=1 to see the traceback", err=True)
            raise typer.Exit(code) from None

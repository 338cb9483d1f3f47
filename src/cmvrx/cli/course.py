"""`cmvrx course …`: follow one patient's treatment course (thin wrappers over cmvrx.api)."""

from __future__ import annotations

import typer

course_app = typer.Typer(help="Follow a patient's treatment course over weeks.", no_args_is_help=True)

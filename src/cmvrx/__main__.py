"""``python -m cmvrx``: the command line (same as the ``cmvrx`` console script)."""

from cmvrx.cli.main import run

run()

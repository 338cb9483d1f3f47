"""Run a program under valgrind's callgrind and return the instructions it collected:
the one runner of the instruction benches (``bench_instructions.py``,
``bench_hook_instructions.py``)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path


def instructions(program: list[str], out: Path, *options: str) -> int:
    """Instructions callgrind collected for one run of ``program`` (``options``: more
    callgrind options, e.g. ``--instr-atstart=no``)."""
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", *options, f"--callgrind-out-file={out}", *program],
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError("callgrind printed no instruction count:\n" + done.stderr[-2000:])
    return int(found.group(1))

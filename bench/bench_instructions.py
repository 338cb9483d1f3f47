"""Benchmark: CPU instructions per warm call (plan, order check, a plan → JSON bytes),
counted by valgrind's callgrind — a figure that does not move with the load of a shared
machine, unlike the microseconds of ``bench_plan.py`` and ``bench_order.py``.

Each figure is (instructions of a run with ``--calls`` warm calls − those of a run with
none) ÷ ``--calls``: start-up, knowledge loading and warm-up cancel out. Needs valgrind
(Debian package ``valgrind``); prints a note and exits 0 without it. Never fails on a
figure: benchmarks inform, tests assert behaviour.

    python bench/bench_instructions.py
    python bench/bench_instructions.py --what order --calls 400 --case examples/…

To turn instructions into time on one machine, divide by what ``bench_plan.py`` measures
there for the same call (e.g. 1.19 M instructions took 204 µs on the 2-core machine of
2026-12-02, 281 µs on the one of 2026-12-03: the hosts differ, the count does not).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import callgrind

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CASE = ROOT / "examples" / "cns-encephalitis-hiv.yaml"
AS_OF = "2026-11-24T08:00:00+00:00"
ORDER = {"drug": "ganciclovir", "amount_mg": 500, "interval_hours": 12}

#: The program valgrind runs: load, warm up, then ``calls`` more calls of one use case.
_DRIVER = """
import sys
from datetime import datetime
import cmvrx
case = cmvrx.load_case(sys.argv[1])
k = cmvrx.load_knowledge()
as_of = datetime.fromisoformat(sys.argv[2])
order = cmvrx.parse_order({order!r})
plan = cmvrx.plan(case, as_of=as_of, knowledge=k)
calls = {{
    "plan": lambda: cmvrx.plan(case, as_of=as_of, knowledge=k),
    "order": lambda: cmvrx.check_order(case, order, as_of=as_of, knowledge=k),
    "json": plan.to_json,
}}
call = calls[sys.argv[3]]
for _ in range(50):
    call()
for _ in range(int(sys.argv[4])):
    call()
"""


def instructions(driver: Path, case: Path, what: str, calls: int, out: Path) -> int:
    """Instructions callgrind collected for one run of the driver."""
    program = [sys.executable, str(driver), str(case), AS_OF, what, str(calls)]
    return callgrind.instructions(program, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", type=Path, default=DEFAULT_CASE)
    parser.add_argument("--what", choices=("plan", "order", "json", "all"), default="all")
    parser.add_argument("--calls", type=int, default=100)
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian package valgrind): no instruction counts")
        return
    whats = ("plan", "order", "json") if args.what == "all" else (args.what,)
    print(f"case {args.case.name}, {args.calls} warm calls; instructions per call (callgrind)")
    with tempfile.TemporaryDirectory() as tmp:
        driver = Path(tmp) / "driver.py"
        driver.write_text(_DRIVER.format(order=ORDER), encoding="utf-8")
        out = Path(tmp) / "callgrind.out"
        for what in whats:
            base = instructions(driver, args.case, what, 0, out)
            total = instructions(driver, args.case, what, args.calls, out)
            per_call = (total - base) / args.calls
            print(f"{what:6s} {per_call / 1e6:7.3f} M instructions/call")


if __name__ == "__main__":
    main()

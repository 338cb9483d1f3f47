"""Benchmark: one plan in process (warm) and ``cmvrx plan --json`` as a fresh process.

Prints figures against the targets of docs/architecture.md (design §5); it never fails
on a figure — benchmarks inform, tests assert behaviour.

    python bench/bench_plan.py                       # defaults
    python bench/bench_plan.py --iterations 20000 --runs 10 --case examples/…
    python bench/bench_plan.py --profile             # cProfile of the warm plan, top 25
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CASE = ROOT / "examples" / "cns-encephalitis-hiv.yaml"
AS_OF = datetime(2026, 11, 24, 8, tzinfo=UTC)
TARGET_P50_US = 200.0
TARGET_P99_US = 1000.0
TARGET_PROCESS_S = 0.5


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def bench_in_process(case_path: Path, iterations: int, warmup: int) -> tuple[float, float, float]:
    """p50, p99 and mean of one warm ``cmvrx.plan`` call, in µs (case parsed once)."""
    import cmvrx

    case = cmvrx.load_case(case_path)
    knowledge = cmvrx.load_knowledge()
    for _ in range(warmup):
        cmvrx.plan(case, as_of=AS_OF, knowledge=knowledge)
    timings: list[float] = []
    clock = time.perf_counter_ns
    for _ in range(iterations):
        start = clock()
        cmvrx.plan(case, as_of=AS_OF, knowledge=knowledge)
        timings.append((clock() - start) / 1000)
    timings.sort()
    return percentile(timings, 0.50), percentile(timings, 0.99), statistics.fmean(timings)


def _shown(path: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def process_command(case_path: Path) -> list[str]:
    """The command timed, run from the repository root (``python -m cmvrx`` = ``cmvrx``)."""
    return [
        sys.executable, "-m", "cmvrx", "plan", _shown(case_path), "--json",
        "--as-of", AS_OF.isoformat(),
    ]  # fmt: skip


def bench_process(case_path: Path, runs: int) -> tuple[float, float, float]:
    """Median, min and max wall seconds of ``cmvrx plan CASE --json`` as a fresh process."""
    command = process_command(case_path)
    env = dict(os.environ)
    # warm the caches: the OS's, the knowledge parse cache, and the bytecode (written even
    # where PYTHONDONTWRITEBYTECODE is set, as an installed package has it: pip compiles it)
    warm = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(command, check=True, capture_output=True, env=warm, cwd=ROOT)
    walls = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=env, cwd=ROOT)
        walls.append(time.perf_counter() - start)
    return statistics.median(walls), min(walls), max(walls)


def profile(case_path: Path, iterations: int) -> None:
    import cProfile
    import pstats

    import cmvrx

    case = cmvrx.load_case(case_path)
    for _ in range(200):
        cmvrx.plan(case, as_of=AS_OF)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(iterations):
        cmvrx.plan(case, as_of=AS_OF)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


def verdict(value: float, target: float) -> str:
    return "OK" if value <= target else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", type=Path, default=DEFAULT_CASE)
    parser.add_argument("--iterations", type=int, default=20_000)
    parser.add_argument("--warmup", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    if args.profile:
        profile(args.case, min(args.iterations, 5_000))
        return
    p50, p99, mean = bench_in_process(args.case, args.iterations, args.warmup)
    print(f"case: {_shown(args.case)}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {load:.2f}")
    print(
        f"in-process plan, warm, {args.iterations} iterations: "
        f"p50 {p50:.0f} µs ({verdict(p50, TARGET_P50_US)}, target ≤ {TARGET_P50_US:.0f}), "
        f"p99 {p99:.0f} µs ({verdict(p99, TARGET_P99_US)}, target ≤ {TARGET_P99_US:.0f}), "
        f"mean {mean:.0f} µs"
    )
    median, fastest, slowest = bench_process(args.case, args.runs)
    print(
        f"fresh process `python -m cmvrx {' '.join(process_command(args.case)[3:])}`, "
        f"{args.runs} runs: median {median:.3f} s ({verdict(median, TARGET_PROCESS_S)}, "
        f"target ≤ {TARGET_PROCESS_S} s), min {fastest:.3f} s, max {slowest:.3f} s"
    )


if __name__ == "__main__":
    main()

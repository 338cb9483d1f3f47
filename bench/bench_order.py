"""Benchmark: one order check in process (warm), and a plan serialised to JSON bytes
(``Plan.to_dict()`` + ``json.dumps``), with the warm plan itself for comparison.

Targets (issue 8): order check p50 ≤ 100 µs warm; plan → JSON bytes p50 ≤ 300 µs
(``Plan.to_json()``: the per-class serialisers and orjson when installed); the plan's own
p50 must not regress (≤ 200 µs). The former ways (``json.dumps(plan.to_dict())``, and the
old ``asdict``) are printed for comparison. Prints figures; never fails on one.

    python bench/bench_order.py
    python bench/bench_order.py --iterations 5000 --case examples/…
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CASE = ROOT / "examples" / "cns-encephalitis-hiv.yaml"
AS_OF = datetime(2026, 11, 24, 8, tzinfo=UTC)
TARGETS_US = {"order check": 100.0, "plan → JSON bytes": 300.0, "plan": 200.0}


def percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def timed(call: Callable[[], object], iterations: int, warmup: int) -> tuple[float, float, float]:
    """p50, p99 and mean of ``call()`` in µs."""
    for _ in range(warmup):
        call()
    clock = time.perf_counter_ns
    timings = []
    for _ in range(iterations):
        start = clock()
        call()
        timings.append((clock() - start) / 1000)
    timings.sort()
    return percentile(timings, 0.5), percentile(timings, 0.99), statistics.fmean(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", type=Path, default=DEFAULT_CASE)
    parser.add_argument("--iterations", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=300)
    args = parser.parse_args()

    import cmvrx

    case = cmvrx.load_case(args.case)
    k = cmvrx.load_knowledge()
    plan = cmvrx.plan(case, as_of=AS_OF, knowledge=k)
    order = cmvrx.parse_order({"drug": "ganciclovir", "amount_mg": 500, "interval_hours": 12})
    rows = {
        "order check": lambda: cmvrx.check_order(case, order, as_of=AS_OF, knowledge=k),
        "plan → JSON bytes": plan.to_json,
        "plan": lambda: cmvrx.plan(case, as_of=AS_OF, knowledge=k),
        "plan → json.dumps(to_dict())": lambda: json.dumps(plan.to_dict()).encode(),
        "plan → JSON bytes (old asdict)": lambda: json.dumps(plan.to_dict_via_asdict()).encode(),
    }
    print(f"case {args.case.name}, {args.iterations} iterations after {args.warmup} warm-up")
    for name, call in rows.items():
        p50, p99, mean = timed(call, args.iterations, args.warmup)
        target = TARGETS_US.get(name)
        verdict = (
            ""
            if target is None
            else f"  target p50 ≤ {target:g} µs: " + ("met" if p50 <= target else "NOT met")
        )
        print(f"{name:32s} p50 {p50:8.1f} µs  p99 {p99:8.1f} µs  mean {mean:8.1f} µs{verdict}")


if __name__ == "__main__":
    main()

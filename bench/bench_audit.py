"""Benchmark: synthetic Bulk Data exports of 100,000 and 1,000,000 patients (about 5 % on a
CMV antiviral) written by ``cmvrx synth`` and audited by the embedded engine; the
100,000 export also with Spark ``local[2]``.

Each stage runs in its own child process, so its peak RSS (``wait4``: the child and the
workers it reaped) is its own. Prints patients/s, audited patients/s, peak RSS and
whether the audit recovered the answer key exactly. Targets (issue 10): embedded
≥ 50,000 patients/s on the 2-core machine, peak memory within 1.5× between the sizes.
It never fails on a figure.

    python bench/bench_audit.py                          # 100k and 1M, Spark on 100k
    python bench/bench_audit.py --sizes 20000 --no-spark # a quick look
    python bench/bench_audit.py --keep /tmp/cmvrx-bench  # keep the exports
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_PATIENTS_PER_S = 50_000
TARGET_MEMORY_RATIO = 1.5

SYNTH = """
import sys, cmvrx
s = cmvrx.api.synthesize_cohort(sys.argv[1], patients=int(sys.argv[2]), seed=1)
print(s.treated, s.planted)
"""
AUDIT = """
import sys, cmvrx
master = sys.argv[4] if len(sys.argv) > 4 else None
run = cmvrx.api.audit([sys.argv[1]], out=sys.argv[2], engine=sys.argv[3], master=master)
print(run.facts.patients, run.facts.selected, run.facts.audited, run.findings)
"""


CPU = {"seconds": 0.0}  # CPU seconds (user + system) of the last child and its workers


def child(code: str, *args: str) -> tuple[float, float, str]:
    """(seconds, peak RSS in MB, stdout) of ``python -c code args`` in a child process;
    its CPU seconds (with the workers it reaped) in ``CPU``."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"child failed ({status}): {code.strip().splitlines()[-1]}")
    CPU["seconds"] = usage.ru_utime + usage.ru_stime
    return seconds, usage.ru_maxrss / 1024, out.strip()


def recovered(export: Path, out: Path) -> bool:
    def triples(path: Path) -> set[tuple[str, str, str]]:
        with path.open(newline="", encoding="utf-8") as fh:
            return {(r["patient_id"], r["order_id"], r["kind"]) for r in csv.DictReader(fh)}

    return triples(export / "answer-key.csv") == triples(out / "findings.csv")


def bench_size(n: int, work: Path, spark: bool) -> dict[str, float]:
    export, out = work / f"export-{n}", work / f"audit-{n}"
    seconds, rss, text = child(SYNTH, str(export), str(n))
    treated, planted = (int(x) for x in text.split())
    size_mb = sum(p.stat().st_size for p in export.iterdir()) / 1e6
    print(
        f"synth    {n:>9,} patients  {seconds:7.1f} s  {n / seconds:>9,.0f} patients/s"
        f"  peak RSS {rss:6.0f} MB  ({treated:,} on therapy, {planted:,} planted, {size_mb:,.0f} MB)"
    )
    figures = {"synth_rss": rss}
    engines = [("embedded", None)] + ([("spark", "local[2]")] if spark else [])
    for engine, master in engines:
        target = out.with_name(f"{out.name}-{engine}")
        args = [str(export), str(target), engine] + ([master] if master else [])
        seconds, rss, text = child(AUDIT, *args)
        patients, selected, audited, findings = (int(x) for x in text.split())
        ok = "yes" if recovered(export, target) else "NO"
        cpu = CPU["seconds"]
        print(
            f"{engine:<8} {patients:>9,} patients  {seconds:7.1f} s  {patients / seconds:>9,.0f} patients/s"
            f"  {audited / seconds:>7,.0f} audited/s  peak RSS {rss:6.0f} MB"
            f"  ({selected:,} selected, {findings:,} findings; answer key recovered: {ok})"
        )
        print(
            f"{'':<8} CPU {cpu:7.1f} s (all processes): {patients / cpu:,.0f} patients per CPU-second,"
            f" {cpu / max(audited, 1) * 1000:.2f} ms CPU per audited patient"
            " (steadier than wall time, still inflated when other jobs share the cores)"
        )
        figures[f"{engine}_cpu"] = cpu
        figures[f"{engine}_rss"] = rss
        figures[f"{engine}_rate"] = patients / seconds
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--no-spark", action="store_true", help="skip the Spark run")
    parser.add_argument("--keep", type=Path, help="write the exports here and keep them")
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    print(f"cores: {os.cpu_count()}  load average: {os.getloadavg()[0]:.1f} (1 min)")
    work = args.keep or Path(tempfile.mkdtemp(prefix="cmvrx-bench-audit-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        results = {
            n: bench_size(n, work, spark=not args.no_spark and n == min(sizes)) for n in sizes
        }
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    rates = [r["embedded_rate"] for r in results.values()]
    print(
        f"embedded target ≥ {TARGET_PATIENTS_PER_S:,} patients/s:"
        f" {'met' if min(rates) >= TARGET_PATIENTS_PER_S else 'not met'}"
    )
    if len(sizes) > 1:
        small, large = results[min(sizes)], results[max(sizes)]
        ratio = large["embedded_rss"] / small["embedded_rss"]
        print(
            f"embedded peak RSS {max(sizes):,} / {min(sizes):,}: {ratio:.2f}×"
            f" (target ≤ {TARGET_MEMORY_RATIO}×)"
        )
    print(json.dumps({str(n): {k: round(v, 1) for k, v in r.items()} for n, r in results.items()}))


if __name__ == "__main__":
    main()

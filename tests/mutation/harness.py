"""Knowledge mutation testing: does a wrong number in the knowledge fail a test?

For every mutant (tests/mutation/mutants.py) the harness copies the knowledge directory
to a temporary one, writes the mutated file, and then, in a process forked from a warm
parent (imports done once), either the loader refuses the copy ("rejected") or the fast
clinical tests run against it with ``-x`` ("caught" at the first failure, else
"survived"). The copy is reached through ``cmvrx.knowledge.loader.bundled_data``,
replaced in the forked child only: the package is never reinstalled, and the shipped
loader has no switch for it. A survivor fails the run unless ``allowed-survivors.toml``
lists it (file + key path + mutation) with its reason.

Usage: scripts/mutate-knowledge [--jobs N] [--only TEXT] [--list] [--json PATH]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import sys
import tempfile
import time
import tomllib
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import pytest  # noqa: E402
from mutants import DATA, ROOT, Mutant, all_mutants  # noqa: E402

ALLOWED = HERE / "allowed-survivors.toml"

#: The fast clinical tests, most sensitive first (each mutant stops at its first failure).
FAST_TESTS = (
    "tests/test_knowledge_values.py",
    "tests/test_label_tables.py",
    "tests/test_knowledge_cadences.py",
    "tests/test_knowledge_thresholds.py",
    "tests/test_knowledge_invariants.py",
    "tests/test_renal.py",
    "tests/test_vignettes.py",
    "tests/test_course_vignettes.py",
    "tests/test_course_engine.py",
    "tests/test_knowledge_loader.py",
    "tests/test_knowledge_guards.py",
    "tests/test_course_delta_limits.py",
)
#: Left out (all in the full suite): subprocess tests (they read the unmutated files),
#: the CLI (its label values are asserted in test_knowledge_values.py), course invariance
#: checks (order of arrival, events after as_of: they compare two runs of one knowledge),
#: and the Hypothesis property files (200 examples each: too slow per mutant).
DESELECT = ("subprocess", "import_cmvrx", "chart", "arrival_order", "events_after_as_of")


@dataclass(frozen=True)
class Outcome:
    mutant: Mutant
    verdict: str  # caught | rejected | survived
    detail: str


class MutationSession:
    """A pytest plugin: collect the fast tests once, then run them on each mutant in a
    child forked from this warm process (at most ``jobs`` at a time)."""

    def __init__(self, mutants: list[Mutant], jobs: int) -> None:
        self.mutants = mutants
        self.jobs = max(1, jobs)
        self.outcomes: list[Outcome] = []
        self.baseline_failure: str | None = None
        self.killers: list[str] = []  # tests that caught a mutant: tried first next time

    def pytest_configure(self) -> None:
        from hypothesis import settings

        settings.register_profile("mutation", max_examples=10, deadline=None, database=None)
        settings.load_profile("mutation")

    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        from cmvrx import api
        from cmvrx.knowledge import loader

        self.bundled = api.load_knowledge()
        # the directory the tests see: src/ (editable install) or site-packages (scripts/test)
        self.bundled_dir = Path(str(loader.bundled_data()))
        self.items = list(session.items)
        with tempfile.TemporaryDirectory(prefix="cmvrx-mutants-") as tmp:
            self.tmp = Path(tmp)
            base = self._wait(self._fork(BASELINE, 0))
            if base.verdict != "survived":
                self.baseline_failure = base.detail
                return True
            running: dict[int, tuple[int, Mutant]] = {}
            queue = list(enumerate(self.mutants, 1))
            while queue or running:
                while queue and len(running) < self.jobs:
                    n, mutant = queue.pop(0)
                    running[self._fork(mutant, n)] = (n, mutant)
                pid, status = os.wait()
                if pid not in running:
                    continue
                n, mutant = running.pop(pid)
                outcome = self._read(mutant, n, status)
                self.outcomes.append(outcome)
                killer = outcome.detail.split(": ", 1)[0]
                if outcome.verdict == "caught" and killer in self.nodeids:
                    if killer in self.killers:
                        self.killers.remove(killer)
                    self.killers.insert(0, killer)
                if outcome.verdict == "survived":
                    print(f"[{n}/{len(self.mutants)}] survived: {mutant.name}", flush=True)
        return True

    @property
    def nodeids(self) -> set[str]:
        return {item.nodeid for item in self.items}

    def _fork(self, mutant: Mutant, n: int) -> int:
        pid = os.fork()
        if pid == 0:  # the child: never returns
            try:
                verdict, detail = self._child(mutant, self.tmp / str(n))
            except BaseException:  # report it as the verdict: a child never returns
                verdict, detail = "error", traceback.format_exc()[-600:]
            finally:
                (self.tmp / f"{n}.json").write_text(json.dumps([verdict, detail]))
                os._exit(0)
        return pid

    def _wait(self, pid: int) -> Outcome:
        _, status = os.waitpid(pid, 0)
        return self._read(BASELINE, 0, status)

    def _read(self, mutant: Mutant, n: int, status: int) -> Outcome:
        result = self.tmp / f"{n}.json"
        shutil.rmtree(self.tmp / str(n), ignore_errors=True)
        if not result.exists():
            return Outcome(mutant, "caught", f"the test process died (status {status})")
        verdict, detail = json.loads(result.read_text())
        return Outcome(mutant, verdict, detail)

    def _child(self, mutant: Mutant, work: Path) -> tuple[str, str]:
        from _pytest.runner import runtestprotocol
        from _pytest.tmpdir import TempPathFactory

        from cmvrx import api
        from cmvrx.errors import KnowledgeError
        from cmvrx.knowledge import loader

        sys.stdout = sys.stderr = io.StringIO()
        data = work / "data"
        shutil.copytree(DATA, data)
        if mutant.edits:
            target = data / mutant.file
            target.write_text(mutant.apply(target.read_text(encoding="utf-8")), encoding="utf-8")
        try:
            loader.load(data_dir=data)
        except KnowledgeError as exc:
            return "rejected", str(exc).splitlines()[0][:160]
        loader.bundled_data = lambda: data  # type: ignore[assignment]  # this child only
        api._default_knowledge.cache_clear()
        mutated = api.load_knowledge()
        bundled, bundled_dirs = self.bundled, {self.bundled_dir, DATA}
        _rebind(lambda v: v is bundled, mutated)
        _rebind(lambda v: isinstance(v, Path) and v in bundled_dirs, data)
        config = self.items[0].config
        config.option.basetemp = str(work / "pytest")
        config._tmp_path_factory = TempPathFactory.from_config(config, _ispytest=True)  # type: ignore[attr-defined]
        first = [i for k in self.killers for i in self.items if i.nodeid == k]
        items = first + [i for i in self.items if i not in first]
        for index, item in enumerate(items):
            following = items[index + 1] if index + 1 < len(items) else None
            reports = runtestprotocol(item, nextitem=following, log=False)
            failed = [r for r in reports if r.failed]
            if failed:
                why = str(failed[0].longrepr).strip().splitlines()[-1:]
                return "caught", f"{item.nodeid}: {' '.join(why)[:200]}"
        return "survived", ""


def _rebind(old: Callable[[object], bool], new: object) -> None:
    """Point every module-level name bound to the bundled knowledge or its directory
    (``K = ...``, ``DATA = ...`` in a test module, imported once in the parent) at the
    mutated one."""
    for module in list(sys.modules.values()):
        names = getattr(module, "__dict__", {})
        for name, value in list(names.items()):
            if old(value):
                setattr(module, name, new)


BASELINE = Mutant("manifest.toml", "(none)", "unmutated", ())


def _allowed() -> dict[tuple[str, str, str], str]:
    data = tomllib.loads(ALLOWED.read_text(encoding="utf-8")) if ALLOWED.exists() else {}
    out: dict[tuple[str, str, str], str] = {}
    for entry in data.get("survivor", []):
        reason = str(entry.get("reason", "")).strip()
        if not reason:
            raise SystemExit(f"{ALLOWED.name}: {entry} gives no reason")
        out[(entry["file"], entry["path"], entry.get("mutation", "*"))] = reason
    return out


def fnmatchcase(name: str, pattern: str) -> bool:
    """``*`` matches anything; every other character (brackets too) only itself."""
    return re.fullmatch(re.escape(pattern).replace(r"\*", ".*"), name) is not None


def _reason(allowed: dict[tuple[str, str, str], str], m: Mutant) -> str | None:
    """The reason a mutant may survive: ``path`` and ``mutation`` may be fnmatch patterns
    (only ``*`` is special: ``plausible[*].min``, ``*``)."""
    for (file, path, mutation), reason in allowed.items():
        if file == m.file and fnmatchcase(m.path, path) and fnmatchcase(m.mutation, mutation):
            return reason
    return None


def _report(outcomes: list[Outcome], allowed: dict[tuple[str, str, str], str]) -> int:
    per_file: dict[str, Counter[str]] = defaultdict(Counter)
    unlisted: list[Outcome] = []
    listed: list[tuple[Outcome, str]] = []
    for o in outcomes:
        per_file[o.mutant.file][o.verdict] += 1
        if o.verdict == "survived":
            reason = _reason(allowed, o.mutant)
            if reason is None:
                unlisted.append(o)
            else:
                listed.append((o, reason))
    print(f"{'file':<22} {'mutants':>7} {'caught':>7} {'rejected':>8} {'survived':>8}")
    total: Counter[str] = Counter()
    for file in sorted(per_file):
        c = per_file[file]
        total.update(c)
        print(
            f"{file:<22} {sum(c.values()):>7} {c['caught']:>7} {c['rejected']:>8} {c['survived']:>8}"
        )
    print(
        f"{'all':<22} {sum(total.values()):>7} {total['caught']:>7} "
        f"{total['rejected']:>8} {total['survived']:>8}"
    )
    if listed:
        print(f"\nallowed survivors ({len(listed)}, {ALLOWED.relative_to(ROOT)}):")
        for o, reason in listed:
            print(f"  {o.mutant.name}: {reason}")
    stale = sorted(
        (file, path, mutation)
        for (file, path, mutation) in allowed
        if not any(
            o.mutant.file == file
            and fnmatchcase(o.mutant.path, path)
            and fnmatchcase(o.mutant.mutation, mutation)
            for o, _ in listed
        )
    )
    if stale:
        print(f"\nnote: {len(stale)} allowance(s) no longer needed (the mutant is caught or gone):")
        for file, path, mutation in stale:
            print(f"  {file} {path} {mutation}")
    if unlisted:
        print(f"\nUNLISTED SURVIVORS ({len(unlisted)}): a test must catch these, or list them")
        print(f"with their reason in {ALLOWED.relative_to(ROOT)}:")
        for o in unlisted:
            print(f"  {o.mutant.name}")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--only",
        default="",
        help="run the mutants whose name contains one of these (comma-separated)",
    )
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    parser.add_argument("--json", type=Path, help="write every outcome to this JSON file")
    args = parser.parse_args(argv)
    wanted = [w for w in args.only.split(",") if w] or [""]
    mutants = [m for m in all_mutants() if any(w in m.name for w in wanted)]
    if args.list:
        for m in mutants:
            print(m.name)
        print(f"{len(mutants)} mutants")
        return 0
    allowed = _allowed()
    started = time.monotonic()
    plugin = MutationSession(mutants, args.jobs)
    selected = [t for t in FAST_TESTS if (ROOT / t).exists()]
    os.chdir(ROOT)
    code = pytest.main(
        [
            *selected,
            "-q",
            "-s",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            "-k",
            " and ".join(f"not {name}" for name in DESELECT),
        ],
        plugins=[plugin],
    )
    if plugin.baseline_failure is not None or code not in (0, 5):
        print(f"the fast tests fail on the unmutated knowledge: {plugin.baseline_failure}")
        return 2
    outcomes = plugin.outcomes
    elapsed = time.monotonic() - started
    outcomes.sort(key=lambda o: o.mutant.name)
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    {
                        "file": o.mutant.file,
                        "path": o.mutant.path,
                        "mutation": o.mutant.mutation,
                        "verdict": o.verdict,
                        "detail": o.detail,
                    }
                    for o in outcomes
                ],
                indent=1,
            ),
            encoding="utf-8",
        )
    code = _report(outcomes, allowed)
    print(f"\n{len(mutants)} mutants in {elapsed:.0f} s wall time on {args.jobs} worker processes")
    return code


if __name__ == "__main__":
    raise SystemExit(main())

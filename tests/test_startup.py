"""Start-up of a fresh process (``cmvrx plan`` ≤ 0.5 s, design §5): what ``import cmvrx``
and the CLI do to the garbage collector leaves the process as it found it."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.strip()


@pytest.mark.parametrize("enabled", [True, False])
def test_import_cmvrx_leaves_the_garbage_collector_as_it_was(enabled: bool) -> None:
    code = (
        "import gc\n"
        f"{'gc.enable()' if enabled else 'gc.disable()'}\n"
        "import cmvrx\n"
        "print(gc.isenabled())\n"
    )
    assert _python(code) == str(enabled)


def test_the_collector_is_paused_while_the_package_imports() -> None:
    code = (
        "import gc, sys\n"
        "seen = []\n"
        "class Watch:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'cmvrx.api':\n"
        "            seen.append(gc.isenabled())\n"
        "sys.meta_path.insert(0, Watch())\n"
        "import cmvrx\n"
        "print(seen, gc.isenabled())\n"
    )
    assert _python(code) == "[False] True"


def test_a_failing_import_does_not_leave_the_collector_paused() -> None:
    code = (
        "import gc, sys\n"
        "class Fail:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'cmvrx.api':\n"
        "            raise ImportError('broken install')\n"
        "sys.meta_path.insert(0, Fail())\n"
        "try:\n"
        "    import cmvrx\n"
        "except ImportError:\n"
        "    pass\n"
        "print(gc.isenabled())\n"
    )
    assert _python(code) == "True"

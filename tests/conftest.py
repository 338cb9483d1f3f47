"""Fixtures shared by the test modules."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from cmvrx.knowledge import loader, parse_cache

# The knowledge parse cache of the test run, and of every process it starts, lives in a
# throw-away directory (never the real home): the whole suite runs with it on.
_PARSE_CACHE = tempfile.mkdtemp(prefix="cmvrx-test-cache-")
os.environ[parse_cache.DIR_ENV] = _PARSE_CACHE
atexit.register(shutil.rmtree, _PARSE_CACHE, ignore_errors=True)


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """A writable copy of the bundled knowledge files (edit it, then load it)."""
    target = tmp_path / "data"
    shutil.copytree(Path(str(loader.bundled_data())), target)
    return target


@pytest.fixture(scope="session")
def pathling_data() -> Path:
    """The third-party data of the ``pathling`` wheel (Synthea bundles and NDJSON), fetched
    by ``scripts/third-party-data`` (PyPI); offline the test is skipped naming what is
    missing — in CI (``CI`` set) a failed download fails."""
    done = subprocess.run(
        [sys.executable, str(Path(__file__).parents[1] / "scripts" / "third-party-data")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        message = f"third-party data missing: pathling wheel (PyPI) — {done.stderr.strip()[-200:]}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return Path(done.stdout.strip())

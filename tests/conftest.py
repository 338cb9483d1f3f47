"""Fixtures shared by the test modules."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cmvrx.knowledge import loader


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """A writable copy of the bundled knowledge files (edit it, then load it)."""
    target = tmp_path / "data"
    shutil.copytree(Path(str(loader.bundled_data())), target)
    return target

"""Fixtures of the web page tests: a migrated store copied per test, an app, a client."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).parent))

from web_support import add_user, make_app


@pytest.fixture(scope="session")
def migrated_web_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cmvrx.store import open_service_store

    path = tmp_path_factory.mktemp("web-template") / "web.sqlite"
    open_service_store(f"sqlite:///{path}").close()
    add_user(f"sqlite:///{path}")
    return path


@pytest.fixture
def web_db(tmp_path: Path, migrated_web_db: Path) -> str:
    target = tmp_path / "web.sqlite"
    shutil.copyfile(migrated_web_db, target)
    return f"sqlite:///{target}"


@pytest.fixture
def client(web_db: str) -> Iterator[TestClient]:
    with TestClient(make_app(web_db)) as c:
        yield c

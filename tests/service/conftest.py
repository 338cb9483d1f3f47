"""Fixtures for the service tests (helpers in ``svc_support``)."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from svc_support import (
    PUBLIC_URL,
    REPO,
    SigningKey,
    _generated,
    _sandbox_key,
    make_app,
    sandbox_token,
)

# The PostgreSQL fixture of the store tests (a throw-away server per session).
_spec = importlib.util.spec_from_file_location(
    "cmvrx_store_conftest", REPO / "tests" / "store" / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
_store_conftest = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _store_conftest  # dataclasses look their module up there
_spec.loader.exec_module(_store_conftest)
postgres_server = _store_conftest.postgres_server


@pytest.fixture(scope="session")
def keys() -> dict[str, SigningKey]:
    return {
        "sandbox": _sandbox_key(),
        "epic": _generated("RS384", "epic-2026-1"),
        "other": _generated("ES384", "other-1"),
    }


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty store at the current schema, migrated once (copied per test: fast)."""
    from cmvrx.store import open_service_store

    path = tmp_path_factory.mktemp("template") / "service.sqlite"
    open_service_store(f"sqlite:///{path}").close()
    return path


@pytest.fixture
def db_url(tmp_path: Path, migrated_db: Path) -> str:
    target = tmp_path / "service.sqlite"
    shutil.copyfile(migrated_db, target)
    return f"sqlite:///{target}"


@pytest.fixture
def client(db_url: str, keys: dict[str, SigningKey]) -> Iterator[TestClient]:
    with make_app(db_url, keys) as test_client:
        yield test_client


@pytest.fixture
def auth(keys: dict[str, SigningKey]) -> Callable[[str], dict[str, str]]:
    """Headers with a fresh sandbox token for ``path``."""

    def headers(path: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {sandbox_token(keys['sandbox'], PUBLIC_URL + path)}"}

    return headers

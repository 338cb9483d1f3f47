"""Which database: ``--db``, then ``$CMVRX_DB_URL``, then ``./cmvrx-courses.sqlite``."""

from __future__ import annotations

import os
import re
from pathlib import Path

from cmvrx.errors import StorageError

ENV_DB_URL = "CMVRX_DB_URL"
DEFAULT_SQLITE_FILE = "cmvrx-courses.sqlite"

_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://")
_PASSWORD = re.compile(r"^(?P<head>[^:/]+://[^:/@]*:)[^@]*@")


def resolve_url(db: str | None = None) -> str:
    """A SQLAlchemy URL for ``db`` (URL or SQLite file path), the env, or the default."""
    raw = db if db else os.environ.get(ENV_DB_URL) or DEFAULT_SQLITE_FILE
    match = _SCHEME.match(raw)
    if match is None:
        return f"sqlite:///{Path(raw).expanduser().resolve()}"
    scheme = match["scheme"].lower()
    rest = raw[match.end() :]
    if scheme in ("postgres", "postgresql"):
        # The only PostgreSQL driver cmvrx depends on is psycopg 3 (extra [postgres]).
        return f"postgresql+psycopg://{rest}"
    if scheme in ("sqlite", "sqlite+pysqlite", "postgresql+psycopg"):
        return raw
    raise StorageError(
        f"unsupported database URL {describe_url(raw)!r}: use a SQLite file path,"
        " sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/DB"
    )


def describe_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (for messages and logs)."""
    return _PASSWORD.sub(lambda m: f"{m['head']}***@", url)

"""Which database: ``--db``, then ``$CMVRX_DB_URL``, then ``./cmvrx-courses.sqlite``.

Accepted forms (docs/course-storage.md, tested in tests/store/test_urls.py):

* a plain file path, relative or absolute (``courses.sqlite``, ``/var/lib/cmvrx/c.sqlite``,
  ``~/c.sqlite``) — the recommended form for SQLite;
* ``sqlite:///relative/path.sqlite`` (three slashes: relative to the working directory)
  and ``sqlite:////absolute/path.sqlite`` (four slashes: absolute) — SQLAlchemy's rule;
  a three-slash URL whose relative directory does not exist while the absolute one does
  is refused with a hint instead of creating a database in the wrong place;
* ``sqlite://`` or ``sqlite:///:memory:`` (in memory, for tests);
* ``postgresql+psycopg://USER[:PASSWORD]@HOST[:PORT]/DB`` (``postgresql://`` and
  ``postgres://`` mean the same).
"""

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


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names (None: in memory, or not SQLite)."""
    if not url.lower().startswith("sqlite"):
        return None
    match = _SCHEME.match(url)
    rest = url[match.end() :] if match else ""
    path = rest.split("?", 1)[0]
    if not path or path in ("/", "/:memory:") or not path.startswith("/"):
        return None
    return Path(path[1:]) if path[1:] else None


def check_location(url: str) -> None:
    """Refuse a SQLite file whose directory does not exist, naming the path it resolved to
    (and the four-slash form when a three-slash URL was probably meant to be absolute)."""
    path = sqlite_file(url)
    if path is None or path.parent.resolve().is_dir():
        return
    hint = ""
    absolute = Path("/") / path
    if not path.is_absolute() and absolute.parent.is_dir():
        hint = (
            f"; sqlite:/// with three slashes is relative to the working directory — for the"
            f" absolute path {absolute} write sqlite:///{absolute} (four slashes) or just {absolute}"
        )
    raise StorageError(
        f"cannot open the course database {path.resolve()}: the directory {path.parent.resolve()}"
        f" does not exist{hint}"
    )


def describe_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (for messages and logs)."""
    return _PASSWORD.sub(lambda m: f"{m['head']}***@", url)

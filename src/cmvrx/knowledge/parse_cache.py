"""A cache of the *parsed* knowledge files (TOML text → plain data), to start faster.

Parsing the 18 TOML files is most of the cost of loading the knowledge in a fresh
process (``cmvrx plan``); the result is stored as JSON in the user's cache directory
and reused only when the exact bytes of every file read are the same. It saves the
parsing only: the loader validates the data (pydantic models and every cross-check)
on every load, cached or not.

Safety (hazard H117, stale or altered knowledge served):

* the key is a SHA-256 of the exact bytes of every knowledge file read (name and
  length too), the cmvrx version, the parser and Python version and this format: a
  changed byte anywhere (an edit, a mutant of the mutation harness) is a miss; the
  loader stores only files that made valid knowledge;
* the file is JSON, read with ``json.loads``: never pickle or marshal, so a writable
  cache directory can never run code; values JSON lacks (±inf, NaN, TOML dates and
  times) are stored as tagged patches and rebuilt exactly; an entry is written only
  after it was read back and found identical (``repr``) to what the parser gave;
* the directory and the file are used only when owned by the current user and
  writable by no one else; the entry is written to a fresh file and renamed into place;
* ANY error (missing, corrupt, foreign, unreadable, read-only, full disk) means: parse
  the files as without a cache. ``CMVRX_NO_CACHE=1`` turns the cache off;
  ``CMVRX_CACHE_DIR`` moves it (default ``$XDG_CACHE_HOME/cmvrx``, else ``~/.cache/cmvrx``).

One entry (``knowledge-parsed.json``) is kept: a different set of files replaces it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
from collections.abc import Mapping
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from cmvrx._version import __version__

#: The layout of an entry; bump it when the layout changes.
FORMAT = 1
ENTRY = "knowledge-parsed.json"
DISABLE_ENV = "CMVRX_NO_CACHE"
DIR_ENV = "CMVRX_CACHE_DIR"
MAX_BYTES = 16 * 1024 * 1024

Parsed = dict[str, dict[str, Any]]
#: A value JSON cannot hold: its path in the tree, a tag and its text.
Patch = tuple[list[str | int], str, str]


def enabled() -> bool:
    """False when ``CMVRX_NO_CACHE`` is set to anything but empty or ``0``."""
    return os.environ.get(DISABLE_ENV, "") in ("", "0")


def directory() -> Path:
    """Where the entry lives: ``CMVRX_CACHE_DIR``, ``$XDG_CACHE_HOME/cmvrx`` or
    ``~/.cache/cmvrx``."""
    explicit = os.environ.get(DIR_ENV)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "cmvrx"


def key(raw: Mapping[str, bytes]) -> str:
    """SHA-256 of every file's name and exact bytes, the cmvrx version, the parser and
    this format."""
    digest = hashlib.sha256(
        f"cmvrx {__version__}\0format {FORMAT}\0tomllib, python {sys.version}\0".encode()
    )
    for name in sorted(raw):
        content = raw[name]
        digest.update(f"{name}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()


def read(raw: Mapping[str, bytes]) -> Parsed | None:
    """The parsed files for exactly these bytes, or None (disabled, missing, stale,
    corrupt, not ours: anything)."""
    if not enabled():
        return None
    try:
        folder = directory()
        if not _trusted(folder.stat()):
            return None
        with (folder / ENTRY).open("rb") as handle:
            if not _trusted(os.fstat(handle.fileno())):
                return None
            content = handle.read(MAX_BYTES + 1)
        if len(content) > MAX_BYTES:
            return None
        files = _restore(content, key(raw))
        if set(files) != set(raw) or not all(isinstance(t, dict) for t in files.values()):
            return None
        return files
    except Exception:  # any failure: the caller parses the files
        return None


def write(raw: Mapping[str, bytes], parsed: Parsed) -> None:
    """Store ``parsed`` (what the parser gave for ``raw``) for the next process."""
    content = entry(raw, parsed)
    if content is not None:
        store(content)


def entry(raw: Mapping[str, bytes], parsed: Parsed) -> bytes | None:
    """The entry for ``parsed`` (what the parser gave for ``raw``), made at once so that
    it holds the parser's output even if the caller later changes ``parsed``; None when
    the cache is off or the entry would not read back exactly as ``parsed``."""
    if not enabled():
        return None
    try:
        patches: list[Patch] = []
        tree = _encode(parsed, [], patches)
        entry_key = key(raw)
        document = {"format": FORMAT, "key": entry_key, "files": tree, "patches": patches}
        content = json.dumps(document, ensure_ascii=False, allow_nan=False).encode()
        if repr(_restore(content, entry_key)) != repr(parsed):
            return None  # not exactly what the parser gave: never stored
        return content
    except Exception:  # what cannot be encoded is not cached
        return None


def store(content: bytes) -> None:
    """Put an entry made by ``entry()`` in place; never raises, never leaves a partial
    entry."""
    if not enabled():
        return
    temporary: Path | None = None
    try:
        folder = directory()
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _trusted(folder.stat()):
            return
        temporary = folder / f".{ENTRY}.{os.getpid()}.{id(content):x}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        temporary.replace(folder / ENTRY)
        temporary = None
    except Exception:  # a cache that cannot be written is no cache
        return
    finally:
        if temporary is not None:
            temporary.unlink(missing_ok=True)


def _trusted(status: os.stat_result) -> bool:
    """Owned by this user and writable by no one else (where the system has owners)."""
    getuid = getattr(os, "getuid", None)
    if getuid is None:
        return True
    return status.st_uid == getuid() and not status.st_mode & 0o022


def _restore(content: bytes, expected_key: str) -> Parsed:
    """The files of an entry, its patches applied; raises unless it is an entry of this
    format for ``expected_key``."""
    entry = json.loads(content)
    if entry["format"] != FORMAT or entry["key"] != expected_key:
        raise ValueError("another format or other files")
    files: Parsed = entry["files"]
    if not isinstance(files, dict):
        raise ValueError("no files")
    for path, tag, text in entry["patches"]:
        _put(files, path, _decode(tag, text))
    return files


def _encode(value: Any, path: list[str | int], patches: list[Patch]) -> Any:
    if isinstance(value, dict):
        return {k: _encode(v, [*path, k], patches) for k, v in value.items()}
    if isinstance(value, list):
        return [_encode(v, [*path, i], patches) for i, v in enumerate(value)]
    if isinstance(value, float) and not math.isfinite(value):
        patches.append((path, "float", repr(value)))
        return None
    if isinstance(value, date | time):  # a datetime is a date: tagged "datetime"
        patches.append((path, type(value).__name__, value.isoformat()))
        return None
    return value


def _decode(tag: str, text: str) -> object:
    if tag == "float" and text in ("inf", "-inf", "nan"):
        return float(text)
    if tag == "datetime":
        return datetime.fromisoformat(text)
    if tag == "date":
        return date.fromisoformat(text)
    if tag == "time":
        return time.fromisoformat(text)
    raise ValueError(f"unknown tag {tag!r}")


def _put(tree: Any, path: list[str | int], value: object) -> None:
    if not path:
        raise ValueError("a patch needs a path")
    *parents, last = path
    for step in parents:
        tree = tree[step]
    if tree[last] is not None:
        raise ValueError("a patch must replace a placeholder")
    tree[last] = value

"""Where an export's NDJSON is: files, folders of ``*.ndjson``, or a folder with a Bulk
Data ``manifest.json`` (its ``output`` urls, relative or ``file:`` ones, and its
``transactionTime``). Reading is in blocks of whole lines with their line numbers, so
memory stays flat however large a file is.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote, urlparse

from cmvrx.errors import InputError

BLOCK_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Source:
    """One NDJSON file and the resource type the manifest declares for it (or None)."""

    path: Path
    declared_type: str | None = None

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True, slots=True)
class Export:
    sources: tuple[Source, ...]
    transaction_time: datetime | None

    @property
    def total_bytes(self) -> int:
        return sum(s.path.stat().st_size for s in self.sources)


def discover(paths: Sequence[str | Path]) -> Export:
    """The NDJSON files of ``paths`` (files, folders or ``file:`` URIs of either); the
    manifest's time if one is found."""
    sources: list[Source] = []
    when: datetime | None = None
    for raw in paths:
        path = local_path(raw)
        if path.is_dir():
            manifest = path / "manifest.json"
            if manifest.is_file():
                found, time = _from_manifest(manifest)
                sources += found
                when = when or time
            else:
                sources += [Source(p) for p in sorted(path.glob("*.ndjson"))]
        elif path.is_file():
            if path.name == "manifest.json":
                found, time = _from_manifest(path)
                sources += found
                when = when or time
            else:
                sources.append(Source(path))
        else:
            raise InputError(f"{str(raw)!r} does not exist", field="PATH")
    if not sources:
        raise InputError("no NDJSON file found in the paths given", field="PATH")
    unique = {s.path.resolve(): s for s in sources}
    return Export(tuple(unique.values()), when)


def local_path(raw: str | Path) -> Path:
    """A path, or the local path a ``file:`` URI names (``file:///x``, ``file:/x``)."""
    if isinstance(raw, str) and raw.startswith("file:"):
        parsed = urlparse(raw)
        if parsed.netloc not in ("", "localhost"):
            raise InputError(f"{raw!r}: a file: URI on another host", field="PATH")
        return Path(unquote(parsed.path))
    return Path(raw)


def _from_manifest(path: Path) -> tuple[list[Source], datetime | None]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable manifest: {exc}", field="PATH") from exc
    if not isinstance(data, dict) or not isinstance(data.get("output"), list):
        raise InputError(f"{path}: a Bulk Data manifest has an 'output' list", field="PATH")
    out = []
    for entry in data["output"]:
        url = entry.get("url") if isinstance(entry, dict) else None
        if not isinstance(url, str) or not url:
            raise InputError(f"{path}: an output entry without a url", field="PATH")
        parsed = urlparse(url)
        if parsed.scheme in ("http", "https"):
            raise InputError(
                f"{path}: {url} is remote: download the export first (or use --engine spark)",
                field="PATH",
            )
        local = Path(unquote(parsed.path)) if parsed.scheme == "file" else Path(url)
        if not local.is_absolute():
            local = path.parent / local
        if not local.is_file():
            local = path.parent / local.name
        if not local.is_file():
            raise InputError(f"{path}: {url} is not in the export folder", field="PATH")
        kind = entry.get("type")
        out.append(Source(local, kind if isinstance(kind, str) else None))
    return out, _time(data.get("transactionTime"), path)


def _time(value: object, path: Path) -> datetime | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError(
            f"{path}: transactionTime {value!r} is not ISO 8601", field="PATH"
        ) from exc
    if when.tzinfo is None:
        raise InputError(f"{path}: transactionTime {value!r} has no time zone", field="PATH")
    return when


def blocks(path: Path, block_bytes: int = BLOCK_BYTES) -> Iterator[tuple[int, list[str]]]:
    """(number of the first line, lines) in blocks of whole lines; bytes that are not
    UTF-8 are replaced (the line then fails to parse and is reported)."""
    number = 1
    rest = b""
    with path.open("rb") as fh:
        while True:
            chunk = fh.read(block_bytes)
            if not chunk:
                break
            chunk = rest + chunk
            cut = chunk.rfind(b"\n")
            if cut < 0:
                rest = chunk
                continue
            rest = chunk[cut + 1 :]
            lines = chunk[:cut].decode("utf-8", "replace").split("\n")
            yield number, lines
            number += len(lines)
    if rest:
        yield number, [rest.decode("utf-8", "replace")]

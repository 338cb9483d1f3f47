"""NDJSON lines parsed faster when ``orjson`` is installed (the ``fast`` extra), with
``json.loads``'s answers wherever the audit relies on them.

``orjson`` refuses what ``json`` accepts in a few places (``NaN``, ``1e400``, lone
surrogates): every line it refuses goes through ``json.loads``, so what is refused, and
the error's text, are ``json.loads``'s. Two differences remain: an integer beyond 64 bits
comes back as a float, and nesting deeper than Python's recursion limit is accepted.
Hence:

* the selection pass (``loads_for_selection``) reads only strings (``resourceType``,
  references, codes, texts), so its decisions are those of ``json.loads``;
* the per-patient review parses with ``orjson`` only the lines ``plain`` holds free of
  both (no run of 19 digits, fewer than ``MAX_OPEN`` brackets) — the embedded engine
  tests that columnar for every spilled line — and every other line with ``json.loads``.
"""

from __future__ import annotations

import json
import re
from typing import Any

_orjson: Any
try:  # pragma: no cover - depends on the extras installed
    import orjson as _orjson
except ImportError:  # pragma: no cover
    _orjson = None

#: A line with fewer opening brackets nests less deep than this: far below Python's
#: recursion limit, where ``json.loads`` and ``orjson`` agree.
MAX_OPEN = 256
#: 19 digits: the shortest integer literal that may not fit in 64 bits.
LONG_NUMBER = "[0-9]{19}"
_LONG = re.compile(LONG_NUMBER)


def loads_fast(line: str) -> Any:
    """``orjson.loads`` (``json.loads`` when it refuses, or without ``orjson``): see the
    module docstring for the two differences."""
    if _orjson is not None:
        try:
            return _orjson.loads(line)
        except ValueError:
            pass  # json.loads says what is wrong (or accepts NaN, 1e400 …)
    return json.loads(line)


loads_for_selection = loads_fast


def plain(line: str) -> bool:
    """Does ``loads_fast`` give exactly ``json.loads``'s answer for ``line``? (What the
    embedded engine computes columnar; this is the same test, one line at a time.)"""
    return _LONG.search(line) is None and line.count("{") + line.count("[") < MAX_OPEN

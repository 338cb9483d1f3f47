"""One NDJSON line parsed for the selection pass, faster when ``orjson`` is installed (the
``fast`` extra).

``orjson`` refuses what ``json`` accepts in a few places (``NaN``, ``1e400``, lone
surrogates): every line it refuses goes through ``json.loads``, so what is accepted and
what is refused is ``json.loads``'s. One difference remains: an integer beyond 64 bits
comes back as a float. The selection reads only strings (``resourceType``, references,
codes, texts), so its decisions are those of ``json.loads``; the per-patient review
parses with ``json.loads`` itself.
"""

from __future__ import annotations

import json
from typing import Any

_orjson: Any
try:  # pragma: no cover - depends on the extras installed
    import orjson as _orjson
except ImportError:  # pragma: no cover
    _orjson = None


def loads_for_selection(line: str) -> Any:
    """``json.loads(line)`` (raises what it raises), but see the module docstring."""
    if _orjson is not None:
        try:
            return _orjson.loads(line)
        except ValueError:
            pass  # json.loads says what is wrong (or accepts NaN, 1e400 …)
    return json.loads(line)

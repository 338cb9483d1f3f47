"""Identifiers a person types (``case_id``, ``course_id``): what they may contain.

Both are printed in reports and stored; a course id also names files (``course chart``
writes ``COURSE_ID.png``). So:

- ``case_id``: 1–200 printable characters, no surrounding spaces, no control characters
  and no bidirectional-text controls (which can make a printed id read differently
  from what is stored).
- ``course_id``: additionally a safe file-name stem: letters, digits, ``.``, ``_``,
  ``-``, starting with a letter or digit (so never ``..``, ``/`` or ``\\``).
"""

from __future__ import annotations

import re

from cmvrx.errors import InputError

MAX_ID_LENGTH = 200

#: Unicode bidirectional controls: embeddings/overrides, isolates, marks.
BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
)

_SAFE_STEM = re.compile(r"[^\W_][\w.\-]*")


def check_text_id(value: object, *, field: str) -> str:
    """A printable identifier of 1–``MAX_ID_LENGTH`` characters, or an ``InputError``."""
    if not isinstance(value, str) or not value.strip():
        raise InputError("must be a non-empty string", field=field)
    if len(value) > MAX_ID_LENGTH:
        raise InputError(f"longer than {MAX_ID_LENGTH} characters", field=field)
    if value != value.strip():
        raise InputError(f"{value!r} has surrounding spaces", field=field)
    if not value.isprintable() or any(ch in BIDI_CONTROLS for ch in value):
        raise InputError(
            f"{value!r} contains control or bidirectional-text characters", field=field
        )
    return value


def check_file_safe_id(value: object, *, field: str) -> str:
    """An identifier that is also a safe file-name stem (no path separators, no ``..``)."""
    text = check_text_id(value, field=field)
    if not _SAFE_STEM.fullmatch(text) or ".." in text:
        raise InputError(
            f"{text!r}: use letters, digits, '.', '_' and '-' only, starting with a letter"
            " or digit (it names files)",
            field=field,
        )
    return text

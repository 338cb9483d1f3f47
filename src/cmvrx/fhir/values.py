"""Small readers for FHIR datatypes: dateTime, Quantity, CodeableConcept, references.

Each returns ``None`` (or raises nothing) on a malformed value; callers report it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from typing import Any


def instant(text: object) -> datetime | None:
    """A FHIR dateTime with a time and a zone; ``None`` for a date, a naive time or junk."""
    if not isinstance(text, str) or "T" not in text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def day(text: object) -> date | None:
    """A FHIR date (``YYYY-MM-DD``); partial dates are ``None``."""
    if not isinstance(text, str) or len(text) != 10:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def number(value: object) -> float | None:
    """A finite JSON number (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    result = float(value)
    return result if math.isfinite(result) else None


def quantity_unit(q: Mapping[str, Any]) -> str | None:
    """The unit of a Quantity: the UCUM ``code`` when present, else the ``unit`` text."""
    for key in ("code", "unit"):
        unit = q.get(key)
        if isinstance(unit, str) and unit.strip():
            return unit.strip()
    return None


def codings(concept: object) -> Iterator[tuple[str, str, str]]:
    """``(system, code, display)`` of each well-formed coding of a CodeableConcept."""
    if type(concept) is not dict and not isinstance(concept, Mapping):  # dict: no ABC check
        return
    for coding in concept.get("coding") or ():
        if type(coding) is dict or isinstance(coding, Mapping):
            system, code = coding.get("system"), coding.get("code")
            display = coding.get("display")
            if isinstance(system, str) and isinstance(code, str):
                yield system, code.strip(), display if isinstance(display, str) else ""


def texts(concept: object) -> list[str]:
    """The ``text`` and every coding ``display`` of a CodeableConcept."""
    if not isinstance(concept, Mapping):
        return []
    out = [concept["text"]] if isinstance(concept.get("text"), str) else []
    out += [d for _, _, d in codings(concept) if d]
    return out


def code_of(concept: object) -> str | None:
    """The first ``code`` of a CodeableConcept or a plain string code."""
    if isinstance(concept, str):
        return concept
    for _, code, _ in codings(concept):
        return code
    if isinstance(concept, Mapping) and isinstance(concept.get("coding"), list):
        for coding in concept["coding"]:
            if isinstance(coding, Mapping) and isinstance(coding.get("code"), str):
                return str(coding["code"])
    return None


def mapping(value: object) -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else an empty one."""
    return value if type(value) is dict or isinstance(value, Mapping) else {}


def contained_code(resource: Mapping[str, Any], ref: str) -> tuple[bool, object]:
    """(found, its ``code``) of the contained resource a local reference (``#id``) names:
    how a medication resource's ``medicationReference`` to a contained Medication reads."""
    for item in resource.get("contained") or ():
        if isinstance(item, Mapping) and item.get("id") == ref[1:]:
            return True, item.get("code")
    return False, None

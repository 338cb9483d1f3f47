"""Gather FHIR resources from what an EHR sends: a Bundle, a CDS Hooks prefetch dict
(values a Bundle, a single resource or null), a list of resources, or NDJSON lines.

Nothing here interprets clinical content; malformed input becomes a ``malformed``
problem (with the NDJSON line), never an exception.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cmvrx.fhir.problems import Problem

Resource = dict[str, Any]
_MAX_DEPTH = 8


@dataclass(frozen=True, slots=True, init=False)
class Item:
    """One resource and where it came from (``""``, or ``file:line`` for NDJSON).

    ``type`` and ``ref`` are read once, when the item is made (the mapping asks for them
    many times per resource); the resource is not changed afterwards. Frozen; made by
    setting its slots directly (a frozen dataclass's own ``__init__`` costs about twice
    as much, and the mapping makes one item per resource)."""

    resource: Resource
    where: str = ""
    type: str = field(default="", repr=False, compare=False)
    ref: str = field(default="", repr=False, compare=False)

    def __init__(self, resource: Resource, where: str = "") -> None:
        kind = str(resource.get("resourceType", ""))
        _SET_RESOURCE(self, resource)
        _SET_WHERE(self, where)
        _SET_TYPE(self, kind)
        _SET_REF(self, f"{kind}/{resource.get('id', '')}")


_SET_RESOURCE, _SET_WHERE, _SET_TYPE, _SET_REF = (
    Item.__dict__[name].__set__ for name in ("resource", "where", "type", "ref")
)


def collect(source: object, where: str = "") -> tuple[list[Item], list[Problem]]:
    """Every resource in ``source`` (Bundle, prefetch dict, resource, or list of them)."""
    items: list[Item] = []
    problems: list[Problem] = []
    _walk(source, where or "input", items, problems, 0)
    return _dedupe(items, problems), problems


def from_ndjson(lines: Iterable[str | bytes], name: str) -> tuple[list[Item], list[Problem]]:
    """Resources from NDJSON lines (Bulk Data export); a bad line is reported, not fatal."""
    items: list[Item] = []
    problems: list[Problem] = []
    for number, line in enumerate(lines, start=1):
        text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
        if not text.strip():
            continue
        where = f"{name}:{number}"
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            problems.append(Problem("malformed", "", "", f"not JSON: {exc}", where))
            continue
        _walk(data, where, items, problems, 0)
    return _dedupe(items, problems), problems


def _walk(obj: object, where: str, items: list[Item], problems: list[Problem], depth: int) -> None:
    if depth > _MAX_DEPTH:
        problems.append(Problem("malformed", "", "", "nested too deeply", where))
        return
    if obj is None:
        return
    if type(obj) is list or isinstance(obj, list | tuple):
        for element in obj:
            _walk(element, where, items, problems, depth + 1)
        return
    if type(obj) is not dict and not isinstance(obj, Mapping):  # dict: no ABC check
        problems.append(
            Problem("malformed", "", "", f"not a resource: {type(obj).__name__}", where)
        )
        return
    kind = obj.get("resourceType")
    if kind is None:  # a CDS Hooks prefetch dict: key -> Bundle | resource | null
        for value in obj.values():
            _walk(value, where, items, problems, depth + 1)
        return
    if not isinstance(kind, str) or not kind:
        problems.append(Problem("malformed", "", "resourceType", "not a string", where))
        return
    if kind == "Bundle":
        entries = obj.get("entry") or []
        if not isinstance(entries, list):
            problems.append(
                Problem("malformed", f"Bundle/{obj.get('id', '')}", "entry", "not a list", where)
            )
            return
        for entry in entries:
            resource = entry.get("resource") if isinstance(entry, dict | Mapping) else entry
            inner = resource.get("resourceType") if type(resource) is dict else None
            if type(inner) is str and inner and inner != "Bundle" and depth < _MAX_DEPTH:
                assert isinstance(resource, dict)
                _leaf(resource, inner, where, items, problems)  # the usual entry, directly
            else:
                _walk(resource, where, items, problems, depth + 1)
        return
    _leaf(obj, kind, where, items, problems)


def _leaf(
    obj: Mapping[str, Any], kind: str, where: str, items: list[Item], problems: list[Problem]
) -> None:
    """A resource of type ``kind`` (not a Bundle): an item, or a problem for a bad id."""
    rid = obj.get("id")
    if rid is not None and not isinstance(rid, str):
        problems.append(Problem("malformed", kind, "id", "not a string", where))
        return
    items.append(Item(dict(obj), where))


def _dedupe(items: list[Item], problems: list[Problem]) -> list[Item]:
    """One copy of each ``type/id`` (prefetch templates overlap); differing copies are a conflict."""
    seen: dict[str, Resource] = {}
    out: list[Item] = []
    for item in items:
        if not item.resource.get("id"):
            out.append(item)
            continue
        first = seen.get(item.ref)
        if first is None:
            seen[item.ref] = item.resource
            out.append(item)
        elif first != item.resource:
            problems.append(
                Problem(
                    "conflict",
                    item.ref,
                    "id",
                    "two different resources share this id; the first is used",
                    item.where,
                )
            )
    return out

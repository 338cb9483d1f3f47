"""The plan's JSON form, fast: one serialiser per output class, generated once from its
fields, and the JSON bytes through ``orjson`` when it is installed (the ``fast`` extra).

``plan_dict(plan)`` equals the type-dispatch serialiser ``plan._json_dict`` (and so the
former ``dataclasses.asdict`` one, with each dose's ``dosage``) on every plan: a test
proves it on every vignette. Each class's function reads its fields in declaration
order; a field whose annotation is a plain scalar is copied as is, a tuple of strings
becomes a list, anything else goes through the generic ``plan._json_value`` — so a field
added later is serialised correctly without touching this module.

``plan_json_bytes(plan)`` is what the service, the audit and the web page need: compact
UTF-8 JSON (``orjson.dumps``, else ``json.dumps(..., separators=(",", ":"),
ensure_ascii=False)``) — the same JSON value as ``json.dumps(plan.to_dict())``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import fields
from typing import Any

from cmvrx.model import plan as p
from cmvrx.model.dosage import from_drug_dose

_orjson: Any
try:  # optional (the ``fast`` extra): about ten times faster than json.dumps
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised by monkeypatching in the tests
    _orjson = None

#: Annotations whose values are JSON scalars already (copied as they are).
_SCALAR_TYPES = frozenset(
    {
        "str",
        "int",
        "float",
        "bool",
        "str | None",
        "int | None",
        "float | None",
        "bool | None",
        "DoseStatus",
        "Severity",
    }
)
_STRING_TUPLES = frozenset({"tuple[str, ...]"})

_Serialiser = Callable[[Any], dict[str, Any]]
_SERIALISERS: dict[type, _Serialiser] = {}


def _value(value: Any) -> Any:
    """A nested value: an output dataclass through its own serialiser, else generic."""
    serialiser = _SERIALISERS.get(type(value))
    if serialiser is not None:
        return serialiser(value)
    if type(value) is tuple:
        return [_value(v) for v in value]
    return p._json_value(value)


def _dosage(dose: p.DrugDose) -> dict[str, Any] | None:
    dosage = from_drug_dose(dose)
    return None if dosage is None else dosage.to_dict()


_CLASSES = (
    p.Plan,
    p.Provenance,
    p.RenalFunction,
    p.DrugDose,
    p.Refused,
    p.Alert,
    p.MonitoringItem,
    p.Criterion,
    p.StepDown,
    p.Regimen,
    p.Maintenance,
    p.NotConfirmed,
)
_KNOWN = {cls.__name__ for cls in _CLASSES}
# one namespace for the generated functions: each calls the others by class name
_NAMESPACE: dict[str, Any] = {"_value": _value, "_dosage": _dosage}


def _expression(name: str, annotation: str) -> str:
    """The Python expression giving field ``name``'s JSON value from ``o``."""
    field = f"o.{name}"
    if annotation in _SCALAR_TYPES:
        return field
    if annotation in _STRING_TUPLES:
        return f"list({field})"
    if annotation == "datetime":
        return f"{field}.isoformat()"
    if annotation == "dict[str, str]":
        return f"dict({field})"
    if annotation in _KNOWN:
        return f"_to_{annotation}({field})"
    inner = annotation.removesuffix(" | None")
    if inner != annotation and inner in _KNOWN:
        return f"(None if {field} is None else _to_{inner}({field}))"
    if annotation.startswith("tuple[") and annotation.endswith(", ...]"):
        item = annotation[len("tuple[") : -len(", ...]")]
        if item in _KNOWN:
            return f"[_to_{item}(x) for x in {field}]"
    return f"_value({field})"


def _annotations(cls: type) -> list[tuple[str, str]]:
    """(name, annotation) of each JSON field of ``cls``, in declaration order."""
    names = p._names(cls)
    assert names is not None
    by_name = {f.name: str(f.type) for f in fields(cls)}
    return [(name, by_name[name]) for name in names]


def _serialiser(cls: type) -> _Serialiser:
    """The function ``obj -> dict`` of one dataclass, generated from its fields."""
    parts = [f"{name!r}: {_expression(name, annotation)}" for name, annotation in _annotations(cls)]
    if cls is p.DrugDose:
        parts.append("'dosage': _dosage(o)")
    function_name = f"_to_{cls.__name__}"
    source = f"def {function_name}(o):\n    return {{" + ", ".join(parts) + "}\n"
    exec(source, _NAMESPACE)  # generated from the dataclass's own field names
    function: _Serialiser = _NAMESPACE[function_name]
    return function


for _cls in _CLASSES:
    _SERIALISERS[_cls] = _serialiser(_cls)

_PLAN = _SERIALISERS[p.Plan]


def plan_dict(plan: p.Plan) -> dict[str, Any]:
    """The JSON-ready dict of ``plan`` (docs/plan-json.md)."""
    return _PLAN(plan)


def plan_json_bytes(plan: p.Plan) -> bytes:
    """``plan`` as compact UTF-8 JSON bytes."""
    data = _PLAN(plan)
    if _orjson is not None:
        out: bytes = _orjson.dumps(data)
        return out
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()

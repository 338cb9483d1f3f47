"""A faster ``__init__`` for the frozen, slotted dataclasses built on every call.

A frozen dataclass's generated ``__init__`` stores each field with
``object.__setattr__(self, name, value)``: on CPython 3.11 that call costs about 2,000
instructions per field, so the value classes of one plan or one order check (situations,
facts, doses, dosages, findings, results: 120–230 fields) spent a fifth of the call in
their constructors. ``fast_init`` replaces that ``__init__`` with one generated from the
same fields that stores them as a plain class would: the new instance briefly takes a
twin class with the same slots and no ``__setattr__`` (so each store is an ordinary slot
store, ~15× cheaper), then gets its own class back — before any other code can see it,
even when a store fails. Nothing else changes: same signature, defaults, default
factories (called once per instance), ``init=False`` fields, ``__post_init__``; the
instances stay frozen (assignment still raises), compare, hash, copy and pickle as before.

Kept in a leaf module (it imports nothing of cmvrx) so that model and engine classes can
both use it.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")
_FACTORY = object()  # "no value given" for a field with a default factory


def fast_init(cls: type[T]) -> type[T]:
    """``cls`` (a frozen dataclass with slots) with the faster generated ``__init__``."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"fast_init: {cls.__name__} is not a frozen dataclass with slots")
    if not params.init or cls.__init__.__code__.co_filename != "<string>":
        raise TypeError(f"fast_init: {cls.__name__} has its own __init__")
    if any(f._field_type is not dataclasses._FIELD for f in _all_fields(cls)):  # type: ignore[attr-defined]
        raise TypeError(f"fast_init: {cls.__name__} has InitVar or ClassVar fields")
    if cls.__bases__ != (object,):
        raise TypeError(f"fast_init: {cls.__name__} inherits slots from a base class")
    twin = type(f"_{cls.__name__}Building", (), {"__slots__": cls.__dict__["__slots__"]})
    namespace: dict[str, Any] = {
        "_FACTORY": _FACTORY,
        "_cls": cls,
        "_twin": twin,
        "_set_class": object.__setattr__,
    }
    clash = {f.name for f in dataclasses.fields(cls)} & {*namespace, "self"}  # type: ignore[arg-type]
    if clash:
        raise TypeError(f"fast_init: {cls.__name__} has field(s) named {sorted(clash)}")
    positional: list[str] = []
    keyword: list[str] = []
    body: list[str] = []
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        value = _field_value(f, namespace)
        if f.init:
            (keyword if f.kw_only else positional).append(_parameter(f))
        if value is not None:
            body.append(f"        self.{f.name} = {value}")
    signature = ", ".join(["self", *positional, *(["*", *keyword] if keyword else [])])
    lines = [f"def __init__({signature}):", '    _set_class(self, "__class__", _twin)', "    try:"]
    lines.extend(body or ["        pass"])
    lines.extend(["    finally:", "        self.__class__ = _cls"])
    if hasattr(cls, "__post_init__"):
        lines.append("    self.__post_init__()")
    source = "\n".join(lines)
    exec(source, namespace)  # generated from the dataclass's own fields, as dataclasses do
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init  # type: ignore[method-assign]
    return cls


def _all_fields(cls: type[Any]) -> list[dataclasses.Field[Any]]:
    return list(cls.__dataclass_fields__.values())


def _field_value(f: dataclasses.Field[Any], namespace: dict[str, Any]) -> str | None:
    """The expression stored in field ``f`` (None: the field is left unset, as
    dataclasses leave an ``init=False`` field without a default)."""
    if f.default is not dataclasses.MISSING:
        namespace[f"_default_{f.name}"] = f.default
    if f.default_factory is not dataclasses.MISSING:
        namespace[f"_factory_{f.name}"] = f.default_factory
        if not f.init:
            return f"_factory_{f.name}()"
        return f"_factory_{f.name}() if {f.name} is _FACTORY else {f.name}"
    if not f.init:
        return f"_default_{f.name}" if f.default is not dataclasses.MISSING else None
    return f.name


def _parameter(f: dataclasses.Field[Any]) -> str:
    if f.default is not dataclasses.MISSING:
        return f"{f.name}=_default_{f.name}"
    if f.default_factory is not dataclasses.MISSING:
        return f"{f.name}=_FACTORY"
    return f.name

"""A faster ``__init__`` for the frozen, slotted dataclasses built on every call.

A frozen dataclass's generated ``__init__`` stores each field with
``object.__setattr__(self, name, value)``: on CPython 3.11 that call costs about as much
as 2,000 instructions per field, so the value classes of one plan or one order check
(situations, facts, dosages, findings, results: 120–230 fields) spent a fifth of the
call in their constructors. ``fast_init`` replaces that ``__init__`` with one generated
from the same fields that stores each value through the slot's own descriptor — about
three times cheaper — and changes nothing else: same signature, defaults, default
factories (called once per instance), ``init=False`` fields, ``__post_init__``; the
instances stay frozen (assignment still raises), hash and compare as before.

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
    namespace: dict[str, Any] = {"_FACTORY": _FACTORY}
    positional: list[str] = []
    keyword: list[str] = []
    body: list[str] = []
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        namespace[f"_set_{f.name}"] = cls.__dict__[f.name].__set__
        value = _field_value(f, namespace)
        if f.init:
            (keyword if f.kw_only else positional).append(_parameter(f))
        if value is not None:
            body.append(f"    _set_{f.name}(self, {value})")
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    signature = ", ".join(["self", *positional, *(["*", *keyword] if keyword else [])])
    source = f"def __init__({signature}):\n" + "\n".join(body or ["    pass"])
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

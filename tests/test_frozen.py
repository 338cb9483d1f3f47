"""``cmvrx.frozen.fast_init``: the faster ``__init__`` changes nothing but the speed."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
from dataclasses import dataclass, field
from typing import Any

import pytest

import cmvrx
from cmvrx.frozen import fast_init


def _sample(decorate: bool) -> type[Any]:
    @dataclass(frozen=True, slots=True)
    class Sample:
        a: int
        b: str = "b"
        c: tuple[int, ...] = field(default_factory=tuple)
        d: dict[str, int] = field(default_factory=dict, init=False, compare=False)
        e: int = field(default=5, init=False)
        f: int = field(init=False)
        g: float = field(default=1.5, kw_only=True)

        def __post_init__(self) -> None:
            object.__setattr__(self, "f", self.a * 2)

    return fast_init(Sample) if decorate else Sample


FAST, PLAIN = _sample(True), _sample(False)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((1,), {}), ((1, "x"), {}), ((1, "x", (3,)), {"g": 2.0}), ((), {"a": 4, "c": (1,), "b": "z"})],
)
def test_same_values_as_the_dataclass_init(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    fast, plain = FAST(*args, **kwargs), PLAIN(*args, **kwargs)
    for f in dataclasses.fields(PLAIN):
        assert getattr(fast, f.name) == getattr(plain, f.name), f.name
    assert hash(FAST(1)) == hash(FAST(1)) and FAST(1) == FAST(1) and FAST(1) != FAST(2)


def test_same_errors_as_the_dataclass_init() -> None:
    for cls in (FAST, PLAIN):
        with pytest.raises(TypeError):
            cls()
        with pytest.raises(TypeError):
            cls(1, "b", (), 7)  # g is keyword-only
        with pytest.raises(TypeError):
            cls(1, d={})  # d is not an __init__ argument


def test_still_frozen_and_factories_not_shared() -> None:
    one, two = FAST(1), FAST(1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.a = 2
    assert one.d is not two.d
    assert dataclasses.replace(one, a=3).f == 6


def test_refuses_what_it_cannot_speed_up() -> None:
    @dataclass(slots=True)
    class Mutable:
        a: int

    @dataclass(frozen=True)
    class NoSlots:
        a: int

    for cls in (Mutable, NoSlots):
        with pytest.raises(TypeError, match="frozen dataclass with slots"):
            fast_init(cls)


def _decorated() -> list[type[Any]]:
    out = []
    for info in pkgutil.walk_packages(cmvrx.__path__, "cmvrx."):
        if not info.name.startswith(("cmvrx.engine", "cmvrx.model")):
            continue
        module = importlib.import_module(info.name)
        for obj in vars(module).values():
            if (
                inspect.isclass(obj)
                and obj.__module__ == module.__name__
                and dataclasses.is_dataclass(obj)
                and obj.__init__.__code__.co_filename == "<string>"
            ):
                out.append(obj)
    return out


@pytest.mark.parametrize("cls", _decorated(), ids=lambda c: c.__qualname__)
def test_every_engine_and_model_value_class_keeps_its_signature(cls: type[Any]) -> None:
    """The generated __init__ takes exactly the dataclass's init fields, in order."""
    expected = [(f.name, f.kw_only) for f in dataclasses.fields(cls) if f.init]
    got = [
        (p.name, p.kind is inspect.Parameter.KEYWORD_ONLY)
        for p in inspect.signature(cls.__init__).parameters.values()
    ][1:]
    assert got == expected
    assert cls.__dataclass_params__.frozen


def test_real_instances_copy_pickle_and_keep_their_class() -> None:
    import copy
    import pickle
    from datetime import UTC, datetime

    from cmvrx.model.plan import Provenance

    p = Provenance("1", "2", "h", datetime(2026, 1, 1, tzinfo=UTC))
    assert type(p) is Provenance
    assert pickle.loads(pickle.dumps(p)) == p == copy.copy(p) == copy.deepcopy(p)
    assert dataclasses.replace(p, knowledge_hash="g").knowledge_hash == "g"
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.knowledge_hash = "x"  # type: ignore[misc]

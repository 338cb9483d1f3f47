"""The one document reader (``cmvrx.reader``): YAML 1.2 core scalars, duplicate keys,
limits — each refusal names what was hit."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from cmvrx import reader
from cmvrx.errors import InputError


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("a: 1:04", "1:04"),
        ("a: 010", 10),
        ("a: yes", "yes"),
        ("a: no", "no"),
        ("a: 6_4", "6_4"),
        ("a: 0x10", "0x10"),
        ("a: 1e3", 1000.0),
        ("a: -2.5", -2.5),
        ("a: true", True),
        ("a: null", None),
        ("a: 2026-11-24T08:00:00Z", datetime(2026, 11, 24, 8, tzinfo=UTC)),
    ],
)
def test_yaml_core_scalars(text: str, value: object) -> None:
    assert reader.parse(text, name="t") == {"a": value}


def test_yaml_nan_is_a_float_for_the_model_to_refuse() -> None:
    parsed = reader.parse("a: .nan", name="t")
    assert isinstance(parsed, dict) and math.isnan(parsed["a"])


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("a: 1\na: 2", "duplicate key 'a'"),
        ('{"a": 1, "a": 2}', "duplicate key 'a'"),
        ('{"a": NaN}', "NaN is not a number"),
        ("a: &x 1\nb: *x", "anchors"),
        ("b: {<<: {c: 1}}", "merge keys"),
        ("[" * 50, "depth limit"),
        ("\x1f", "not valid YAML"),
        ("a: !!int x", "not valid YAML"),
        ("x" * (reader.MAX_BYTES + 1), "size limit"),
    ],
)
def test_refusals_name_the_problem(text: str, says: str) -> None:
    with pytest.raises(InputError, match=says):
        reader.parse(text, name="t")


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ("é".encode("utf-16"), "UTF-16"),
        ("é".encode("utf-32"), "UTF-32"),
        (b"a: \x00", "encoding check"),
        (b"a: \xe9", "not UTF-8"),
    ],
)
def test_decode_checks_the_encoding(data: bytes, says: str) -> None:
    with pytest.raises(InputError, match=says):
        reader.decode(data, name="t")


def test_utf8_bom_is_accepted() -> None:
    assert reader.decode("\ufeffa: 1".encode(), name="t") == "a: 1"

"""The per-patient review parses with ``orjson`` only lines ``jsonline.plain`` holds (no
integer that may not fit in 64 bits, shallow nesting): there ``loads_fast`` answers as
``json.loads`` does; the gather's columnar flag is the same test; a patient with a long
integer is still reviewed through ``json.loads``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vignette_support import VIGNETTES, load, write_export

import cmvrx.api as api
import cmvrx.audit.patient as patient
from cmvrx.audit import embedded
from cmvrx.audit.jsonline import loads_fast, plain
from cmvrx.audit.sources import discover

LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(),
    st.integers(),
    st.text(alphabet="ab0123456789{[", max_size=25),
)
DOC = st.recursive(
    LEAF,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=3), c, max_size=3),
    max_leaves=10,
)
LINE = st.one_of(DOC.map(json.dumps), st.text(alphabet='0123456789{}[]",:ae -.', max_size=40))


def _answer(parse: Any, line: str) -> object:
    try:
        return json.dumps(parse(line), sort_keys=True)
    except ValueError:
        return ValueError


@settings(max_examples=300, deadline=None)
@given(LINE)
def test_plain_lines_parse_as_json_loads_does(line: str) -> None:
    if plain(line):
        assert _answer(loads_fast, line) == _answer(json.loads, line)


@settings(max_examples=100, deadline=None)
@given(st.lists(LINE, min_size=1, max_size=8))
def test_the_columnar_flag_is_plain(lines: list[str]) -> None:
    from cmvrx.audit.jsonline import LONG_NUMBER, MAX_OPEN

    line = pl.col("line")
    opening = line.str.count_matches("{", literal=True) + line.str.count_matches("[", literal=True)
    flags = (
        pl.DataFrame({"line": lines})
        .select(~line.str.contains(LONG_NUMBER) & (opening < MAX_OPEN))
        .to_series()
        .to_list()
    )
    assert flags == [plain(x) for x in lines]


def test_not_plain_examples() -> None:
    assert not plain('{"a": 18446744073709551616}')
    assert not plain("[" * 300)
    assert plain('{"a": 123456789012345678, "b": [1, {"c": 2}]}')


def test_loads_fast_review_is_the_json_review() -> None:
    resources, as_of, _ = load(next(p for p in VIGNETTES if p.name.startswith("02_")))
    lines = [(f"f.ndjson:{i}", json.dumps(r)) for i, r in enumerate(resources, start=1)]
    assert all(plain(line) for _, line in lines)
    k = api.load_knowledge()
    fast = patient.review_lines(lines, as_of=as_of, knowledge=k, loads=loads_fast)
    slow = patient.review_lines(lines, as_of=as_of, knowledge=k)
    assert fast.to_dict() == slow.to_dict()
    assert fast.findings


def test_a_long_integer_sends_the_patient_through_json_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    resources, as_of, _ = load(next(p for p in VIGNETTES if p.name.startswith("02_")))
    long = next(r for r in resources if r["resourceType"] == "Observation")
    long["valueQuantity"]["value"] = 18446744073709551616  # a float to orjson, an int to json
    write_export(tmp_path / "a", [("a-", resources)], as_of)
    write_export(tmp_path / "b", [("b-", load(VIGNETTES[0])[0])], as_of)
    used: list[object] = []
    real = patient.review_lines

    def spy(lines: Any, **kw: Any) -> Any:
        pairs = list(lines)
        used.append(kw["loads"])
        return real(pairs, **kw)

    monkeypatch.setattr(patient, "review_lines", spy)
    for folder in ("a", "b"):
        embedded.run(
            discover([tmp_path / folder]),
            as_of=as_of,
            knowledge=api.load_knowledge(),
            sink=lambda _: None,
            workers=1,
        )
    assert used == [json.loads, loads_fast]

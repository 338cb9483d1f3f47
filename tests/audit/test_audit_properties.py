"""``audit_lines`` on arbitrary lines — the base record's lines cut, shuffled, mixed with
junk and with values swapped — never raises, and only ever answers in the vocabulary,
with a corrected dose on dose findings only."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vignette_support import base

from cmvrx.api import load_knowledge
from cmvrx.audit.kinds import KINDS
from cmvrx.audit.patient import audit_lines

AS_OF = datetime(2026, 3, 10, 12, tzinfo=UTC)
LINES = [json.dumps(r) for r in base()["resources"]]
JUNK = st.one_of(
    st.text(max_size=40),
    st.just("{}"),
    st.just("[]"),
    st.just('{"resourceType": "Observation"}'),
    st.just('{"resourceType": 5, "id": []}'),
)


def _mutate(line: str, cut: int, value: str) -> str:
    """The line with one JSON number or string replaced, or cut short."""
    try:
        data = json.loads(line)
    except ValueError:
        data = None
    if cut % 3 == 0 or not isinstance(data, dict):
        return line[: cut % max(1, len(line))]
    keys = [k for k in data if k not in ("resourceType",)]
    if keys:
        data[keys[cut % len(keys)]] = value
    return json.dumps(data)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    picks=st.lists(st.integers(0, len(LINES) - 1), max_size=len(LINES) + 4),
    mutations=st.lists(st.tuples(st.integers(0, 10_000), st.text(max_size=8)), max_size=3),
    junk=st.lists(JUNK, max_size=3),
)
def test_audit_lines_never_raises(
    picks: list[int], mutations: list[tuple[int, str]], junk: list[str]
) -> None:
    lines = [LINES[i] for i in picks]
    for cut, value in mutations:
        if lines:
            i = cut % len(lines)
            lines[i] = _mutate(lines[i], cut, value)
    rows = audit_lines([*lines, *junk], as_of=AS_OF, knowledge=load_knowledge())
    for row in rows:
        assert row["kind"] in KINDS
        if row["kind"] not in ("dose_too_high", "dose_too_low", "wrong_interval"):
            assert row["corrected_dose"] is None

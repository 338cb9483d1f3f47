"""The course engine's shortcuts give what the direct computation gives: the clinical
order (content key only where time and kind tie) and the 24-h dose window (a slice of
the drug's doses in time order)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cmvrx.engine.course.state import _clinical_order, ordered_events
from cmvrx.model.course import EVENT_ADAPTER

T0 = datetime(2026, 3, 1, 8, tzinfo=UTC)
EVENT = st.one_of(
    st.builds(
        lambda h, v: {"kind": "lab", "analyte": "creatinine", "value": v, "unit": "mg/dL", "h": h},
        st.integers(0, 3),
        st.sampled_from([0.8, 1.2, 2.0]),
    ),
    st.builds(
        lambda h, d, mg: {"kind": "dose_given", "drug": d, "dose_mg": mg, "h": h},
        st.integers(0, 3),
        st.sampled_from(["ganciclovir", "foscarnet"]),
        st.sampled_from([100, 250, 320]),
    ),
    st.builds(
        lambda h, t: {"kind": "note", "text": t, "h": h},
        st.integers(0, 3),
        st.sampled_from(["a", "b"]),
    ),
)


def _event(data: dict[str, Any]) -> Any:
    body = {k: v for k, v in data.items() if k != "h"}
    return EVENT_ADAPTER.validate_python({**body, "at": T0 + timedelta(hours=data["h"])})


@settings(max_examples=200, deadline=None)
@given(st.lists(EVENT, max_size=12))
def test_clinical_order_is_the_full_key_sort(data: list[dict[str, Any]]) -> None:
    events = [_event(d) for d in data]
    course: Any = SimpleNamespace(events=events)
    assert [id(e) for e in ordered_events(course)] == [
        id(e) for e in sorted(events, key=_clinical_order)
    ]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.sampled_from([100.0, 250.5, 320.0])), max_size=10))
def test_dose_window_is_the_doses_in_the_24_h_up_to_each(doses: list[tuple[int, float]]) -> None:
    from bisect import bisect_right

    from cmvrx.engine.course.doses import _at

    given_ = sorted(
        (
            _event({"kind": "dose_given", "drug": "ganciclovir", "dose_mg": mg, "h": h})
            for h, mg in doses
        ),
        key=_at,
    )
    day = timedelta(days=1)
    for dose in given_:
        start = bisect_right(given_, dose.at - day, key=_at)
        end = bisect_right(given_, dose.at, key=_at)
        expected = sum(g.dose_mg for g in given_ if dose.at - day < g.at <= dose.at)
        assert sum(g.dose_mg for g in given_[start:end]) == expected

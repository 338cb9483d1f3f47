"""Timestamps read from a case or a course event keep their instant and offset, with a
standard ``datetime.timezone`` (pydantic's own zone class made every age four times as
costly to compute); a naive time stays naive, for the engine to refuse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from cmvrx.model.patient import Measurement


@pytest.mark.parametrize(
    ("text", "offset"),
    [
        ("2026-11-20T08:00:00Z", timedelta(0)),
        ("2026-11-20T08:00:00+00:00", timedelta(0)),
        ("2026-11-20T09:30:00+01:30", timedelta(hours=1, minutes=30)),
        ("2026-11-20T03:00:00-05:00", timedelta(hours=-5)),
    ],
)
def test_zone_is_standard_and_instant_kept(text: str, offset: timedelta) -> None:
    m = Measurement(value=1.0, unit="mg/dL", measured_at=text)  # type: ignore[arg-type]
    assert type(m.measured_at.tzinfo) is timezone
    assert m.measured_at.utcoffset() == offset
    assert m.measured_at.isoformat().replace("+00:00", "Z") == text.replace("+00:00", "Z")
    assert m.measured_at == datetime.fromisoformat(text)


def test_utc_is_the_utc_singleton() -> None:
    m = Measurement(value=1.0, unit="mg/dL", measured_at="2026-11-20T08:00:00Z")  # type: ignore[arg-type]
    assert m.measured_at.tzinfo is UTC


def test_naive_stays_naive() -> None:
    m = Measurement(value=1.0, unit="mg/dL", measured_at="2026-11-20T08:00:00")  # type: ignore[arg-type]
    assert m.measured_at.tzinfo is None

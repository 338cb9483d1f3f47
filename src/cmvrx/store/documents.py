"""Courses and events as documents (YAML or JSON), for ``cmvrx course import|add``.

A course document::

    course_id: cns-0001
    baseline: {…a case, as ``cmvrx plan`` reads it…}
    events:
      - {kind: cmv_pcr, at: 2026-11-24T06:00:00Z, result: detected, value: 125000, lower_limit: 35}

An events document is one event (a mapping with ``kind``), a list of events, or a
mapping with an ``events`` list. Pure: parsing and validation, no database.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cmvrx.errors import InputError
from cmvrx.model.course import Course, Event
from cmvrx.model.patient import Case
from cmvrx.store.validation import (
    check_course_id,
    validate_case,
    validate_event,
    validate_events,
)

_COURSE_KEYS = {"course_id", "baseline", "events"}


def parse_document(text: str, *, name: str) -> Any:
    """YAML or JSON, through the one bounded reader (``cmvrx.reader``)."""
    from cmvrx.reader import parse

    return parse(text, name=name)


def course_from_document(data: object) -> tuple[str, Case, list[Event]]:
    """The course id, baseline case and validated events of a course document."""
    if not isinstance(data, Mapping):
        raise InputError("a course must be a mapping with course_id, baseline, events")
    unknown = sorted(set(data) - _COURSE_KEYS)
    if unknown:
        raise InputError(f"unknown key(s): {', '.join(map(str, unknown))}", field=str(unknown[0]))
    if "baseline" not in data:
        raise InputError("the baseline case is missing", field="baseline")
    course_id = check_course_id(data.get("course_id"))
    return course_id, validate_case(data["baseline"]), validate_events(data.get("events") or [])


def events_from_document(data: object) -> list[Event]:
    """The validated events of an events document (one event, a list, or {events: […]})."""
    if isinstance(data, Mapping) and "kind" not in data and "events" in data:
        data = data["events"]
    if isinstance(data, Mapping):
        return [validate_event(data, field="event")]
    if not isinstance(data, list) or not data:
        raise InputError("expected an event (a mapping with 'kind') or a non-empty list of them")
    return validate_events(data)


def course_document(course: Course) -> dict[str, Any]:
    """A course as a JSON-ready document that ``course_from_document`` reads back."""
    return course.model_dump(mode="json", exclude_none=True)

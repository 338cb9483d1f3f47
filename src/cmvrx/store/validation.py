"""Checks a store runs before writing anything: ids, baseline case, events.

Pure (no database): every event is validated by ``EVENT_ADAPTER``; errors become an
``InputError`` whose field names the event by its position in the batch
(``events[2].dose_mg``) so a clinician can find it in the file they wrote.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from cmvrx.documents import input_error
from cmvrx.engine.course.events import check_event
from cmvrx.errors import InputError
from cmvrx.knowledge.bundle import Knowledge
from cmvrx.model.course import (
    EVENT_ADAPTER,
    EnteredInError,
    Event,
    MeasurementConfirmed,
    reference_problem,
)
from cmvrx.model.patient import Case

#: Every event kind the model knows, in its declaration order.
EVENT_KINDS: tuple[str, ...] = tuple(
    member.model_fields["kind"].default for member in get_args(get_args(Event)[0])
)

#: Column widths of the schema (see migrations); checked here so that both backends
#: refuse the same values with the same clear message (SQLite does not enforce widths).
MAX_COURSE_ID = 200
MAX_CASE_ID = 200
MAX_KNOWLEDGE_VERSION = 100
MAX_KNOWLEDGE_HASH = 128


def check_course_id(course_id: object) -> str:
    """A usable course id: 1–200 characters, a safe file-name stem (``course chart`` names
    files after it): letters, digits, '.', '_', '-'; no control or bidi characters."""
    from cmvrx.identifiers import check_file_safe_id

    return check_file_safe_id(course_id, field="course_id")


def validate_case(data: object, *, field: str = "baseline") -> Case:
    """The baseline case from a ``Case`` or a mapping."""
    if isinstance(data, Case):
        return check_case_width(data, field=field)
    if not isinstance(data, Mapping):
        raise InputError("the baseline case must be a mapping (YAML/JSON object)", field=field)
    try:
        case = Case.model_validate(data)
    except ValidationError as exc:
        raise _input_error(exc, field) from exc
    return check_case_width(case, field=field)


def check_case_width(case: Case, *, field: str = "baseline") -> Case:
    """A case whose id fits the ``courses.case_id`` column."""
    if len(case.case_id) > MAX_CASE_ID:
        raise InputError(f"longer than {MAX_CASE_ID} characters", field=f"{field}.case_id")
    return case


def check_knowledge_stamp(version: object, content_hash: object) -> None:
    """The knowledge version and hash an assessment is stamped with."""
    for name, value, width in (
        ("knowledge_version", version, MAX_KNOWLEDGE_VERSION),
        ("knowledge_hash", content_hash, MAX_KNOWLEDGE_HASH),
    ):
        if not isinstance(value, str) or not value.strip() or not value.isprintable():
            raise InputError("must be a non-empty printable string", field=name)
        if len(value) > width:
            raise InputError(f"longer than {width} characters", field=name)


def validate_events(items: object, *, field: str = "events") -> list[Event]:
    """Every event validated (and time-zone aware), or an ``InputError`` for the first bad one."""
    if isinstance(items, str | bytes) or not isinstance(items, Sequence):
        raise InputError("expected a list of events", field=field)
    return [validate_event(item, field=f"{field}[{i}]") for i, item in enumerate(items)]


def validate_event(item: object, *, field: str = "event") -> Event:
    """One event from a model object or a mapping."""
    data: Any = item.model_dump() if isinstance(item, BaseModel) else item
    if not isinstance(data, Mapping):
        raise InputError("an event must be a mapping with a 'kind'", field=field)
    try:
        event = EVENT_ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise _input_error(exc, field, tag=data.get("kind")) from exc
    if event.at.utcoffset() is None:
        # A stored timeline must be comparable across sources; a local time without
        # its zone cannot be placed on it.
        raise InputError(
            "the time must carry a time zone (e.g. 2026-11-24T08:00:00Z)", field=f"{field}.at"
        )
    # The same rules as a case (units, plausibility bounds): a value a case would refuse
    # is never stored (issue 6 item 7).
    check_event(event, _knowledge(), field=field)
    return event


def _knowledge() -> Knowledge:
    from cmvrx.api import load_knowledge

    return load_knowledge()


def check_references(
    events: Sequence[Event], stored_kinds: Mapping[int, str], *, first_seq: int
) -> None:
    """Every ``ref_seq`` of a batch to be stored from ``first_seq`` names an earlier event
    (already stored: ``stored_kinds``, or earlier in the batch) that it may refer to."""
    kinds = dict(stored_kinds)
    for i, event in enumerate(events):
        seq = first_seq + i
        kinds[seq] = event.kind
        if isinstance(event, EnteredInError | MeasurementConfirmed):
            problem = reference_problem(event, kinds, seq=seq)
            if problem:
                raise InputError(problem, field=f"events[{i}].ref_seq")


def referenced_seqs(events: Sequence[Event]) -> set[int]:
    """The seqs a batch refers to."""
    return {e.ref_seq for e in events if isinstance(e, EnteredInError | MeasurementConfirmed)}


def event_json(event: Event) -> str:
    """The canonical JSON text of an event (what the ``payload`` column holds)."""
    return EVENT_ADAPTER.dump_json(event).decode()


def case_json(case: Case) -> str:
    """The canonical JSON text of a baseline case."""
    return case.model_dump_json()


def check_assessment_json(text: object) -> str:
    """An assessment must be a JSON object (as text)."""
    if not isinstance(text, str):
        raise InputError("must be JSON text", field="assessment_json")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc}", field="assessment_json") from exc
    if not isinstance(value, dict):
        raise InputError("must be a JSON object", field="assessment_json")
    return text


def _input_error(exc: ValidationError, prefix: str, *, tag: object = None) -> InputError:
    return input_error(exc, prefix, tag=tag, kinds=EVENT_KINDS)

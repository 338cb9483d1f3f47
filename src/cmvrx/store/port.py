"""The ``CourseStore`` port: what any course storage backend must do.

Contract (checked by ``tests/store`` against every backend):

* writes are transactions: ``create_course`` and ``add_events`` store everything or
  nothing; an event whose call returned is durable (survives a killed process);
* every event is validated by ``EVENT_ADAPTER`` before anything is written; a malformed
  one rejects the whole call with an ``InputError`` naming ``events[i].field``;
* sequence numbers are per course, 1, 2, 3 … in recording order, never reused;
* ``get_course`` returns events in recording order; ``Course.timeline()`` gives the
  clinical order (by ``at``), so late or out-of-order events change nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeAlias

from cmvrx.model.course import Course, Event
from cmvrx.model.patient import Case

#: An event as a model object or as a mapping (parsed YAML/JSON) still to be validated.
EventInput: TypeAlias = Event | Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class CourseSummary:
    """One stored course, for listings."""

    course_id: str
    case_id: str
    created_at: datetime
    event_count: int
    first_event_at: datetime | None
    last_event_at: datetime | None


@dataclass(frozen=True, slots=True)
class StoredAssessment:
    """An assessment as issued: when for, which knowledge, what it said (JSON text)."""

    assessment_id: int
    course_id: str
    as_of: datetime
    knowledge_version: str
    knowledge_hash: str
    assessment_json: str
    recorded_at: datetime
    events_seen: int | None = None


class CourseStore(Protocol):
    """Storage of courses, their events and the assessments issued on them."""

    #: True when opened read-only: reads work, every write raises ``StorageError``.
    read_only: bool

    def create_course(
        self, course_id: str, baseline: Case, *, events: Sequence[EventInput] = ()
    ) -> list[int]:
        """Create a course (with optional first events, same transaction); their seqs."""
        ...

    def add_events(self, course_id: str, events: Sequence[EventInput]) -> list[int]:
        """Append events, all or nothing; the sequence numbers they were stored under."""
        ...

    def get_course(self, course_id: str) -> Course:
        """The course with its events in recording order."""
        ...

    def list_courses(self) -> list[CourseSummary]:
        """Every stored course, by id."""
        ...

    def record_assessment(
        self,
        course_id: str,
        as_of: datetime,
        knowledge_version: str,
        knowledge_hash: str,
        assessment_json: str,
        *,
        events_seen: int | None = None,
    ) -> int:
        """Keep an issued assessment (a JSON object as text); its id."""
        ...

    def list_assessments(self, course_id: str) -> list[StoredAssessment]:
        """The assessments issued on a course, oldest first."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


@dataclass(frozen=True, slots=True)
class FeedbackRecord:
    """One CDS Hooks feedback item: what the clinician did with a card."""

    service_id: str
    card_uuid: str
    outcome: str  # "accepted" | "overridden"
    outcome_at: datetime
    accepted_suggestions: tuple[str, ...] = ()
    override_code: str | None = None
    override_system: str | None = None
    override_display: str | None = None
    override_comment: str | None = None
    client_iss: str | None = None
    feedback_id: int | None = None
    recorded_at: datetime | None = None


class ServiceStore(Protocol):
    """What the CDS Hooks service keeps, shared by every instance behind a balancer."""

    def remember_jti(self, iss: str, jti: str, expires_at: datetime, *, now: datetime) -> bool:
        """Record a token id; False when this issuer's ``jti`` was seen before (a replay).
        Ids whose token has expired are purged on the way (they can no longer be replayed)."""
        ...

    def record_feedback(self, items: Sequence[FeedbackRecord]) -> list[int]:
        """Keep feedback items, all or nothing; their ids."""
        ...

    def list_feedback(self, service_id: str | None = None) -> list[FeedbackRecord]:
        """Stored feedback, oldest first, for one service or all."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...

"""The tables as SQLAlchemy Core sees them at the current migration head.

The migrations (``migrations/versions``) create them; this module only describes them
for queries. Times are stored in UTC: ``timestamptz`` on PostgreSQL, naive-UTC text on
SQLite (which has no zone type), and always come back time-zone aware.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, Dialect, ForeignKey, Integer, MetaData, String, Table, Text
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as UTC; refuses naive values rather than guessing a zone."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError("naive datetime: the store keeps aware times only")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(
        self,
        value: datetime | None,
        dialect: Dialect,  # noqa: ARG002 - the signature is TypeDecorator's
    ) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

courses = Table(
    "courses",
    metadata,
    Column("course_id", String(200), primary_key=True),
    Column("case_id", String(200), nullable=False),
    Column("baseline", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("course_id", String(200), ForeignKey("courses.course_id"), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", UtcDateTime, nullable=False),
    Column("kind", String(40), nullable=False),
    Column("payload", Text, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
)

assessments = Table(
    "assessments",
    metadata,
    Column("assessment_id", Integer, primary_key=True, autoincrement=True),
    Column("course_id", String(200), ForeignKey("courses.course_id"), nullable=False),
    Column("as_of", UtcDateTime, nullable=False),
    Column("knowledge_version", String(100), nullable=False),
    Column("knowledge_hash", String(128), nullable=False),
    Column("events_seen", Integer, nullable=True),
    Column("assessment", Text, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
)

# Service tables (migration 0003): the JWT replay cache and CDS Hooks feedback.

seen_jtis = Table(
    "seen_jtis",
    metadata,
    Column("iss", String(500), primary_key=True),
    Column("jti", String(200), primary_key=True),
    Column("expires_at", UtcDateTime, nullable=False),
)

cds_feedback = Table(
    "cds_feedback",
    metadata,
    Column("feedback_id", Integer, primary_key=True, autoincrement=True),
    Column("service_id", String(100), nullable=False),
    Column("card_uuid", String(100), nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("accepted_suggestions", Text, nullable=True),
    Column("override_code", String(200), nullable=True),
    Column("override_system", String(500), nullable=True),
    Column("override_display", String(500), nullable=True),
    Column("override_comment", Text, nullable=True),
    Column("outcome_at", UtcDateTime, nullable=False),
    Column("client_iss", String(500), nullable=True),
    Column("recorded_at", UtcDateTime, nullable=False),
)

# Web page tables (migration 0004): users, sessions, course references, access record.

web_users = Table(
    "web_users",
    metadata,
    Column("username", String(100), primary_key=True),
    Column("password_hash", String(300), nullable=True),
    Column("source", String(20), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("username", String(100), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
)

web_course_refs = Table(
    "web_course_refs",
    metadata,
    Column("ref", String(40), primary_key=True),
    Column("course_id", String(200), nullable=False, unique=True),
)

web_access_log = Table(
    "web_access_log",
    metadata,
    Column("log_id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("username", String(100), nullable=False),
    Column("action", String(40), nullable=False),
    Column("course_id", String(200), nullable=True),
)

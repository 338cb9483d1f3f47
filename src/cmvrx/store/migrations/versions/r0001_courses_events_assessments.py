"""Courses, their events and the assessments issued on them.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "courses",
        sa.Column("course_id", sa.String(200), primary_key=True),
        sa.Column("case_id", sa.String(200), nullable=False),
        sa.Column("baseline", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "events",
        sa.Column("course_id", sa.String(200), sa.ForeignKey("courses.course_id"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("course_id", "seq", name="pk_events"),
        sa.CheckConstraint("seq >= 1", name="ck_events_seq_positive"),
    )
    op.create_index("ix_events_course_at", "events", ["course_id", "at"])
    op.create_table(
        "assessments",
        sa.Column("assessment_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("course_id", sa.String(200), sa.ForeignKey("courses.course_id"), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("knowledge_version", sa.String(100), nullable=False),
        sa.Column("knowledge_hash", sa.String(128), nullable=False),
        sa.Column("events_seen", sa.Integer, nullable=True),
        sa.Column("assessment", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_assessments_course", "assessments", ["course_id", "assessment_id"])


def downgrade() -> None:
    op.drop_index("ix_assessments_course", table_name="assessments")
    op.drop_table("assessments")
    op.drop_index("ix_events_course_at", table_name="events")
    op.drop_table("events")
    op.drop_table("courses")

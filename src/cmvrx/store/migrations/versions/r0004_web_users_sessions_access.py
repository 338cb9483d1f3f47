"""Web page tables: local users, server-side sessions, opaque course references and the
record of who viewed or changed which course.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_users",
        sa.Column("username", sa.String(100), primary_key=True),
        sa.Column("password_hash", sa.String(300), nullable=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("source IN ('local', 'oidc')", name="ck_web_users_source"),
    )
    op.create_table(
        "web_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("username", sa.String(100), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_web_sessions_expires", "web_sessions", ["expires_at"])
    op.create_table(
        "web_course_refs",
        sa.Column("ref", sa.String(40), primary_key=True),
        sa.Column("course_id", sa.String(200), nullable=False, unique=True),
    )
    op.create_table(
        "web_access_log",
        sa.Column("log_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("username", sa.String(100), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("course_id", sa.String(200), nullable=True),
    )
    op.create_index("ix_web_access_log_course", "web_access_log", ["course_id", "log_id"])


def downgrade() -> None:
    op.drop_index("ix_web_access_log_course", table_name="web_access_log")
    op.drop_table("web_access_log")
    op.drop_table("web_course_refs")
    op.drop_index("ix_web_sessions_expires", table_name="web_sessions")
    op.drop_table("web_sessions")
    op.drop_table("web_users")

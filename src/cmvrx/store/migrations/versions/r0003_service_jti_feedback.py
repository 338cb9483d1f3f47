"""Service tables: the JWT ``jti`` replay cache and CDS Hooks feedback.

Revision ID: 0003
Revises: 0001 (re-chained after 0002 when the branches merge)
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "seen_jtis",
        sa.Column("iss", sa.String(500), nullable=False),
        sa.Column("jti", sa.String(200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("iss", "jti", name="pk_seen_jtis"),
    )
    op.create_index("ix_seen_jtis_expires", "seen_jtis", ["expires_at"])
    op.create_table(
        "cds_feedback",
        sa.Column("feedback_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("service_id", sa.String(100), nullable=False),
        sa.Column("card_uuid", sa.String(100), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("accepted_suggestions", sa.Text, nullable=True),
        sa.Column("override_code", sa.String(200), nullable=True),
        sa.Column("override_system", sa.String(500), nullable=True),
        sa.Column("override_display", sa.String(500), nullable=True),
        sa.Column("override_comment", sa.Text, nullable=True),
        sa.Column("outcome_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("client_iss", sa.String(500), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("outcome IN ('accepted', 'overridden')", name="ck_feedback_outcome"),
    )
    op.create_index("ix_cds_feedback_service", "cds_feedback", ["service_id", "feedback_id"])


def downgrade() -> None:
    op.drop_index("ix_cds_feedback_service", table_name="cds_feedback")
    op.drop_table("cds_feedback")
    op.drop_index("ix_seen_jtis_expires", table_name="seen_jtis")
    op.drop_table("seen_jtis")

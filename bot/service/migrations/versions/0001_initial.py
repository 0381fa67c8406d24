"""Residents, processed events and the anonymous referral log.

Revision ID: 0001
Revises:
Create Date: 2025-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "residents",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("area", sa.String(8), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lang", sa.String(2), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "processed_events",
        sa.Column("event_id", sa.String(80), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_processed_events_expires_at", "processed_events", ["expires_at"])
    op.create_table(
        "referral_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("intents", sa.String(400), nullable=False),
        sa.Column("area", sa.String(8), nullable=True),
        sa.Column("crisis", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_referral_log_at", "referral_log", ["at"])


def downgrade() -> None:
    op.drop_index("ix_referral_log_at", "referral_log")
    op.drop_table("referral_log")
    op.drop_index("ix_processed_events_expires_at", "processed_events")
    op.drop_table("processed_events")
    op.drop_table("residents")

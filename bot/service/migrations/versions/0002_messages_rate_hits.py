"""Stored messages (only with STORE_MESSAGES) and shared rate-limit windows.

Revision ID: 0002
Revises: 0001
Create Date: 2025-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("resident", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("intents", sa.String(400), nullable=False),
    )
    op.create_index("ix_messages_resident", "messages", ["resident"])
    op.create_index("ix_messages_at", "messages", ["at"])
    op.create_table(
        "rate_hits",
        sa.Column("bucket", sa.String(64), primary_key=True),
        sa.Column("window", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_rate_hits_expires_at", "rate_hits", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_rate_hits_expires_at", "rate_hits")
    op.drop_table("rate_hits")
    op.drop_index("ix_messages_at", "messages")
    op.drop_index("ix_messages_resident", "messages")
    op.drop_table("messages")

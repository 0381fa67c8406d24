"""Parked events: webhook events that wait in the database while the queue is full (issue 14).

Each row holds one platform event, sealed (bot/service/privacy.py Sealer), until a worker claims it
(claimed_by, claimed_until: a lease) and answers it; then it is deleted.  Times are epoch seconds.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "parked_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("resident", sa.String(64), nullable=True),
        sa.Column("received", sa.Float(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("claimed_until", sa.Float(), nullable=True),
        sa.Column("expires", sa.Float(), nullable=False),
    )
    op.create_index("ix_parked_events_resident", "parked_events", ["resident"])
    op.create_index("ix_parked_events_claimed_until", "parked_events", ["claimed_until"])
    op.create_index("ix_parked_events_expires", "parked_events", ["expires"])


def downgrade() -> None:
    op.drop_index("ix_parked_events_expires", "parked_events")
    op.drop_index("ix_parked_events_claimed_until", "parked_events")
    op.drop_index("ix_parked_events_resident", "parked_events")
    op.drop_table("parked_events")

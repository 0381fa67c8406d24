"""Residents: any reply language (ja-easy is 7 letters), the language of the last reply, and the
question the bot last asked (the check-in, issue 13) with when, so that the next message is read
as its answer for a while.

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0003"  # re-chain onto whichever migration lands before this one
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("residents") as batch:
        batch.alter_column("lang", existing_type=sa.String(2), type_=sa.String(8), existing_nullable=True)
        batch.add_column(sa.Column("last_lang", sa.String(8), nullable=True))
        batch.add_column(sa.Column("asked", sa.String(16), nullable=True))
        batch.add_column(sa.Column("asked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("residents") as batch:
        batch.drop_column("asked_at")
        batch.drop_column("asked")
        batch.drop_column("last_lang")
        # Languages of more than two letters do not fit the old column: they are forgotten.
        batch.execute(sa.text("UPDATE residents SET lang = NULL WHERE length(lang) > 2"))
        batch.alter_column("lang", existing_type=sa.String(8), type_=sa.String(2), existing_nullable=True)

"""The staff console's tables (bot/console/models.py), until now created by the console at its start.

A database whose console already made them keeps them as they are.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "console_sessions": ["user"],
    "console_login_attempts": ["ip", "at"],
    "console_case_runs": ["set_name"],
}


def tables() -> dict[str, list[sa.Column]]:
    return {
        "console_users": [
            sa.Column("name", sa.String(64), primary_key=True),
            sa.Column("role", sa.String(16), nullable=False),
            sa.Column("password_hash", sa.String(255), nullable=False),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.Column("last_login", sa.DateTime(), nullable=True),
            sa.Column("failed_logins", sa.Integer(), nullable=False),
            sa.Column("locked_until", sa.DateTime(), nullable=True),
        ],
        "console_sessions": [
            sa.Column("token_hash", sa.String(64), primary_key=True),
            sa.Column("user", sa.String(64), nullable=False),
            sa.Column("csrf", sa.String(64), nullable=False),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.Column("last_seen", sa.DateTime(), nullable=False),
            sa.Column("expires_at", sa.DateTime(), nullable=False),
        ],
        "console_login_attempts": [
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("ip", sa.String(64), nullable=False),
            sa.Column("at", sa.DateTime(), nullable=False),
            sa.Column("ok", sa.Boolean(), nullable=False),
        ],
        "console_case_sets": [
            sa.Column("name", sa.String(80), primary_key=True),
            sa.Column("text", sa.Text(), nullable=False),
            sa.Column("updated_by", sa.String(64), nullable=False),
            sa.Column("updated_at", sa.DateTime(), nullable=False),
        ],
        "console_case_runs": [
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("set_name", sa.String(80), nullable=False),
            sa.Column("at", sa.DateTime(), nullable=False),
            sa.Column("by", sa.String(64), nullable=False),
            sa.Column("catalogue_version", sa.String(64), nullable=False),
            sa.Column("intents_version", sa.String(64), nullable=False),
            sa.Column("passed", sa.Integer(), nullable=False),
            sa.Column("failed", sa.Integer(), nullable=False),
            sa.Column("report", sa.Text(), nullable=False),
        ],
    }


def upgrade() -> None:
    present = set(sa.inspect(op.get_bind()).get_table_names())
    for name, columns in tables().items():
        if name in present:
            continue
        op.create_table(name, *columns)
        for column in INDEXES.get(name, []):
            op.create_index(f"ix_{name}_{column}", name, [column])


def downgrade() -> None:
    for name in reversed(list(tables())):
        for column in INDEXES.get(name, []):
            op.drop_index(f"ix_{name}_{column}", name)
        op.drop_table(name)

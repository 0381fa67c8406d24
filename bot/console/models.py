"""The console's own tables, beside the server's (bot/service/store.py) in the same database.

    console_users           name, role, argon2 hash, failed logins, locked until
    console_sessions        sha256(cookie token) -> user, CSRF token, expiry
    console_login_attempts  client address, time, ok: the per-address rate limit
    console_case_sets       named referral case files (the dev.yaml format)
    console_case_runs       each run of a set: versions it ran against, the report as JSON

Times are stored as UTC; SQLite hands them back naive, so read them through `aware()`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, Engine, Text
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime | None) -> datetime | None:
    """A stored time as aware UTC (SQLite forgets the zone)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


class ConsoleUser(SQLModel, table=True):
    __tablename__ = "console_users"

    name: str = Field(primary_key=True, max_length=64)
    role: str = Field(max_length=16)  # "staff" | "operator"
    password_hash: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow)
    last_login: datetime | None = None
    failed_logins: int = 0
    locked_until: datetime | None = None


class ConsoleSession(SQLModel, table=True):
    __tablename__ = "console_sessions"

    token_hash: str = Field(primary_key=True, max_length=64)  # the cookie holds the token; we keep its hash
    user: str = Field(index=True, max_length=64)
    csrf: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen: datetime = Field(default_factory=utcnow)
    expires_at: datetime


class LoginAttempt(SQLModel, table=True):
    __tablename__ = "console_login_attempts"

    id: int | None = Field(default=None, primary_key=True)
    ip: str = Field(index=True, max_length=64)
    at: datetime = Field(default_factory=utcnow, index=True)
    ok: bool = False


class CaseSet(SQLModel, table=True):
    __tablename__ = "console_case_sets"

    name: str = Field(primary_key=True, max_length=80)
    text: str = Field(sa_column=Column(Text, nullable=False))
    updated_by: str = Field(max_length=64)
    updated_at: datetime = Field(default_factory=utcnow)


class CaseRun(SQLModel, table=True):
    __tablename__ = "console_case_runs"

    id: int | None = Field(default=None, primary_key=True)
    set_name: str = Field(index=True, max_length=80)
    at: datetime = Field(default_factory=utcnow)
    by: str = Field(max_length=64)
    catalogue_version: str = Field(max_length=64)
    intents_version: str = Field(max_length=64)
    passed: int = 0
    failed: int = 0
    report: str = Field(sa_column=Column(Text, nullable=False))  # JSON: the report and every case's outcome


TABLES = [m.__table__ for m in (ConsoleUser, ConsoleSession, LoginAttempt, CaseSet, CaseRun)]  # type: ignore[attr-defined]


def create_tables(db: Engine) -> None:
    """Create the console's tables if they are missing (idempotent; touches no other table)."""
    SQLModel.metadata.create_all(db, tables=TABLES)

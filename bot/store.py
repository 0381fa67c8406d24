"""What the server remembers, in any SQLAlchemy database (SQLite by default).

    residents        keyed hash -> area, rounded location, language, first/last seen
    processed_events event id (unique) -> expiry: redelivery answered at most once
    referral_log     time, channel, intent ids, area code, crisis: no text, no id

The schema belongs to alembic (`bot db upgrade`, bot/migrations); `Store`
only reads and writes rows.  All methods are synchronous and short: call
them from a worker thread in async code.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine as SQLEngine
from sqlalchemy import event as sa_event
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, create_engine, delete, select

EVENT_TTL = timedelta(days=2)  # LINE and Telegram stop redelivering well before this
LOCATION_DECIMALS = 2  # about 1 km: enough to choose nearby services, not to find a home


def utcnow() -> datetime:
    """Aware UTC (SQLModel refuses naive datetimes)."""
    return datetime.now(UTC)


class Resident(SQLModel, table=True):
    __tablename__ = "residents"

    key: str = Field(primary_key=True, max_length=64)  # privacy.Hasher.resident(channel, platform id)
    channel: str = Field(max_length=16)
    area: str | None = Field(default=None, max_length=8)  # local government or prefecture code
    lat: float | None = None
    lon: float | None = None
    lang: str | None = Field(default=None, max_length=2)  # chosen language; None: follow each message
    created_at: datetime = Field(default_factory=utcnow)
    last_seen: datetime = Field(default_factory=utcnow)


class ProcessedEvent(SQLModel, table=True):
    __tablename__ = "processed_events"

    event_id: str = Field(primary_key=True, max_length=80)  # "line:<webhookEventId>", "telegram:<update_id>"
    expires_at: datetime = Field(index=True)


class ReferralLog(SQLModel, table=True):
    __tablename__ = "referral_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    channel: str = Field(max_length=16)
    intents: str = Field(max_length=400)  # intent ids, comma-separated, best first
    area: str | None = Field(default=None, max_length=8)
    crisis: bool = False


def make_engine(url: str) -> SQLEngine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 15})

    @sa_event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        # WAL lets several workers read while one writes.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.close()

    return engine


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._purged = 0.0

    def close(self) -> None:
        self.engine.dispose()

    # Residents

    def resident(self, key: str) -> Resident | None:
        with Session(self.engine) as s:
            return s.get(Resident, key)

    def seen(self, key: str, channel: str) -> Resident:
        """The resident, created on first sight; `last_seen` moves to now."""
        with Session(self.engine, expire_on_commit=False) as s:
            row = s.get(Resident, key)
            if row is None:
                row = Resident(key=key, channel=channel)
            row.last_seen = utcnow()
            s.add(row)
            try:
                s.commit()
            except IntegrityError:  # created by a concurrent event of the same resident
                s.rollback()
                row = s.get(Resident, key)
                assert row is not None
            return row

    def remember(self, key: str, channel: str, **fields: Any) -> Resident:
        """Set area, lat/lon (rounded) or lang on the resident."""
        for name in ("lat", "lon"):
            if fields.get(name) is not None:
                fields[name] = round(float(fields[name]), LOCATION_DECIMALS)
        self.seen(key, channel)
        with Session(self.engine, expire_on_commit=False) as s:
            row = s.get(Resident, key)
            assert row is not None
            for name, value in fields.items():
                setattr(row, name, value)
            s.add(row)
            s.commit()
            return row

    def forget(self, key: str) -> bool:
        with Session(self.engine) as s:
            gone = s.exec(delete(Resident).where(Resident.key == key)).rowcount  # type: ignore[arg-type]
            s.commit()
            return bool(gone)

    # Redelivery

    def first_delivery(self, event_id: str, ttl: timedelta = EVENT_TTL) -> bool:
        """True the first time an event id is seen, False ever after (until it expires).

        The unique primary key decides, so this holds across workers and restarts.
        """
        now = utcnow()
        self._purge(now)
        with Session(self.engine) as s:
            s.add(ProcessedEvent(event_id=event_id, expires_at=now + ttl))
            try:
                s.commit()
            except IntegrityError:
                return False
        return True

    def _purge(self, now: datetime) -> None:
        if time.monotonic() - self._purged < 600:
            return
        self._purged = time.monotonic()
        with Session(self.engine) as s:
            s.exec(delete(ProcessedEvent).where(ProcessedEvent.expires_at < now))  # type: ignore[arg-type]
            s.commit()

    # Anonymous log

    def log(self, channel: str, intents: list[str], area: str | None, crisis: bool) -> None:
        with Session(self.engine) as s:
            s.add(ReferralLog(channel=channel, intents=",".join(intents)[:400], area=area, crisis=crisis))
            s.commit()

    def recent_log(self, limit: int = 100) -> list[ReferralLog]:
        with Session(self.engine) as s:
            return list(s.exec(select(ReferralLog).order_by(ReferralLog.id.desc()).limit(limit)))  # type: ignore[union-attr]


def create_all(url: str) -> None:
    """Only for throwaway databases; real ones are made by `bot db upgrade`."""
    SQLModel.metadata.create_all(make_engine(url))

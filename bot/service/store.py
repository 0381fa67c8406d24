"""What the server remembers, in any SQLAlchemy database (SQLite by default).

    residents        keyed hash -> area, rounded location, language (chosen, last replied in), the
                     question last asked (30 minutes), first/last seen
    processed_events event id (unique) -> expiry: redelivery answered at most once
    referral_log     time, channel, intent ids, area code, crisis: no text, no id
    messages         raw text, only when an operator sets STORE_MESSAGES; kept N days
    rate_hits        hashed bucket, window -> count: rate limits every worker shares (bot/service/limits.py)

The schema belongs to alembic (`bot db upgrade`, bot/service/migrations); `Store`
only reads and writes rows.  All methods are synchronous and short: call
them from a worker thread in async code.

A database that is down, locked or read-only raises `Unavailable` (never a
driver error), and for `timeout` seconds after that every call of the same
kind raises it at once instead of waiting again: the bot answers without its
memory meanwhile.  Referral-log rows that could not be written wait in memory
(at most PENDING_LIMIT) and are written with the next row once it is back.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Generic, TypeVar

from sqlalchemy import Column, Connection, Table, Text, bindparam
from sqlalchemy import Engine as SQLEngine
from sqlalchemy import event as sa_event
from sqlalchemy import update as sa_update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Field, Session, SQLModel, create_engine, delete, select

EVENT_TTL = timedelta(days=2)  # LINE and Telegram stop redelivering well before this
LOCATION_DECIMALS = 2  # about 1 km: enough to choose nearby services, not to find a home
PENDING_LIMIT = 1000  # referral-log rows kept in memory while the database is away
MAX_STORED_TEXT = 5000
RESIDENT_BUCKETS = ("resident", "resident-warned")  # rate-limit buckets keyed by a resident (bot/channels)
ASKED_FOR = timedelta(minutes=30)  # how long the next message is read as the answer to the bot's question

T = TypeVar("T")


def utcnow() -> datetime:
    """Aware UTC (SQLModel refuses naive datetimes)."""
    return datetime.now(UTC)


def bucket(name: str, key: str) -> str:
    """A rate-limit bucket: what is counted, hashed, so no address or id is stored in the clear."""
    return hashlib.sha256(f"{name}\x00{key}".encode()).hexdigest()


@dataclass(frozen=True)
class CheckIn(Generic[T]):
    first: bool  # False: the event was answered before (a redelivery), and nothing else was done
    resident: Resident | None = None
    counted: T | None = None  # what `count` returned (a rate-limit decision)


class Unavailable(Exception):
    """The database could not be read or written (down, locked, read-only, full)."""


class Resident(SQLModel, table=True):
    __tablename__ = "residents"

    key: str = Field(primary_key=True, max_length=64)  # privacy.Hasher.resident(channel, platform id)
    channel: str = Field(max_length=16)
    area: str | None = Field(default=None, max_length=8)  # local government or prefecture code
    lat: float | None = None
    lon: float | None = None
    lang: str | None = Field(default=None, max_length=8)  # chosen language; None: follow each message
    last_lang: str | None = Field(default=None, max_length=8)  # the language of the last reply
    asked: str | None = Field(default=None, max_length=16)  # the question the last reply asked ("suicide_check")
    asked_at: datetime | None = None
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


class StoredMessage(SQLModel, table=True):
    """A resident's own words: written only when STORE_MESSAGES is on, deleted by forget and purge."""

    __tablename__ = "messages"

    id: int | None = Field(default=None, primary_key=True)
    resident: str = Field(index=True, max_length=64)
    channel: str = Field(max_length=16)
    at: datetime = Field(default_factory=utcnow, index=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    intents: str = Field(default="", max_length=400)


class RateHit(SQLModel, table=True):
    __tablename__ = "rate_hits"

    bucket: str = Field(primary_key=True, max_length=64)  # store.bucket(name, key)
    window: int = Field(primary_key=True)  # start of the fixed window, epoch seconds
    count: int = 0
    expires_at: datetime = Field(index=True)


RESIDENTS = Resident.__table__  # type: ignore[attr-defined]
EVENTS = ProcessedEvent.__table__  # type: ignore[attr-defined]
REFERRALS = ReferralLog.__table__  # type: ignore[attr-defined]
READ_RESIDENT = select(RESIDENTS).where(RESIDENTS.c.key == bindparam("key"))


def upsert(conn: Connection, table: Table, values: dict[str, Any], keys: tuple[str, ...],
           update: tuple[str, ...] = (), increment: str | None = None) -> bool:
    """Insert a row; if one with the same `keys` is there, set its `update` columns to `values` and count
    its `increment` column up by one.  One statement, which writes before it reads, so concurrent
    writers never meet in an upgrade from a read lock.

    With neither `update` nor `increment`: True when the row was inserted, False when it was there already.
    """
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        statement = _upsert_statement(dialect, table, tuple(values), keys, update, increment)
        return conn.execute(statement, values).first() is not None
    where = [table.c[k] == values[k] for k in keys]
    changes: dict[str, Any] = {c: values[c] for c in update}
    if increment:
        changes[increment] = table.c[increment] + 1
    if changes and conn.execute(sa_update(table).where(*where).values(**changes)).rowcount:
        return False
    if conn.execute(select(*[table.c[k] for k in keys]).where(*where)).first() is not None:
        return False
    conn.execute(table.insert().values(**values))
    return True


@lru_cache(maxsize=64)
def _upsert_statement(dialect: str, table: Table, columns: tuple[str, ...], keys: tuple[str, ...],
                      update: tuple[str, ...], increment: str | None) -> Any:
    """Built once per shape, with the values as parameters: building a statement cost more than running it."""
    insert = sqlite_insert if dialect == "sqlite" else pg_insert
    statement = insert(table).values({c: bindparam(c, type_=table.c[c].type) for c in columns})
    changes: dict[str, Any] = {c: statement.excluded[c] for c in update}
    if increment:
        changes[increment] = table.c[increment] + 1
    if changes:
        statement = statement.on_conflict_do_update(index_elements=list(keys), set_=changes)
    else:
        statement = statement.on_conflict_do_nothing(index_elements=list(keys))
    return statement.returning(table.c[keys[0]])  # a row back only when one was written (rowcount is -1 on psycopg)


def database_url(url: str) -> str:
    """`postgres://` and `postgresql://` (what hosting platforms hand out) mean psycopg 3, the driver installed."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str, timeout: float = 15.0) -> SQLEngine:
    url = database_url(url)
    if url.startswith("postgresql"):  # a server that does not answer is given up after `timeout`, not minutes
        return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": max(2, round(timeout))})
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": timeout})

    @sa_event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        # WAL lets several workers read while one writes; NORMAL sync is safe with WAL.
        cursor = dbapi_connection.cursor()
        with contextlib.suppress(Exception):  # a read-only file still opens for reading
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        cursor.close()

    return engine


class Store:
    def __init__(self, url: str, timeout: float = 5.0) -> None:
        """`timeout`: how long to wait for a locked SQLite database, and how long to skip it after a failure."""
        self.url = url
        self.timeout = timeout
        self.engine = make_engine(url, timeout)
        self._purged = -math.inf  # never purged: the first delivery purges, however young the host
        self._down_until = {"read": 0.0, "write": 0.0}
        self._pending: deque[dict[str, Any]] = deque(maxlen=PENDING_LIMIT)
        self._lock = threading.Lock()
        # SQLite lets one writer in at a time, and a writer it turns away sleeps in its busy handler
        # (1, 2, 5, 10 ... 100 ms) however soon the lock is free: the threads of one process take
        # turns here instead, and the busy handler is left for other processes.
        self._writing = threading.RLock() if self.engine.dialect.name == "sqlite" else contextlib.nullcontext()

    def close(self) -> None:
        self.engine.dispose()

    # Faults

    @contextlib.contextmanager
    def _guard(self, what: str, write: bool) -> Iterator[None]:
        kind = "write" if write else "read"
        with self._writing if write else contextlib.nullcontext():
            if time.monotonic() < self._down_until[kind]:
                raise Unavailable(f"{what}: database unavailable (retrying shortly)")
            with self._translated(what, write):
                yield

    @contextlib.contextmanager
    def _translated(self, what: str, write: bool) -> Iterator[None]:
        try:
            yield
        except IntegrityError:
            raise
        except (DBAPIError, PoolTimeout) as e:
            until = time.monotonic() + self.timeout
            self._down_until["write"] = until
            if not write:  # a failed read means the database itself is away, not only writes
                self._down_until["read"] = until
            cause = type(getattr(e, "orig", None) or e).__name__
            raise Unavailable(f"{what}: {cause}") from None

    def guarded(self, what: str, fn: Callable[[], T], write: bool = True) -> T:
        """Run `fn` (a call to the database) under the same fault rules as the store's own methods."""
        with self._guard(what, write):
            return fn()

    @property
    def pending(self) -> int:
        """Referral-log rows waiting in memory for the database."""
        return len(self._pending)

    # Residents

    def resident(self, key: str) -> Resident | None:
        with self._guard("read resident", write=False), self.engine.connect() as conn:
            row = conn.execute(READ_RESIDENT, {"key": key}).mappings().first()
        return Resident(**row) if row is not None else None

    def seen(self, key: str, channel: str) -> None:
        """The resident, created on first sight; `last_seen` moves to now."""
        self.remember(key, channel)

    def remember(self, key: str, channel: str, **fields: Any) -> None:
        """The resident seen now, with area, lat/lon (rounded) or lang set: one upsert."""
        with self._guard("remember resident", write=True), self.engine.begin() as conn:
            self._seen(conn, key, channel, fields)

    def _seen(self, conn: Connection, key: str, channel: str, fields: dict[str, Any]) -> None:
        for name in ("lat", "lon"):
            if fields.get(name) is not None:
                fields[name] = round(float(fields[name]), LOCATION_DECIMALS)
        now = utcnow()
        upsert(conn, RESIDENTS, {"key": key, "channel": channel, "created_at": now, "last_seen": now, **fields},
               keys=("key",), update=("last_seen", *fields))

    def rekey(self, old: str, new: str) -> bool:
        """Move a resident stored under a previous hash key to the current one (key rotation)."""
        with self._guard("rekey resident", write=True), Session(self.engine) as s:
            row = s.get(Resident, old)
            if row is None or s.get(Resident, new) is not None:
                return False
            s.add(Resident(**{**row.model_dump(), "key": new}))
            s.delete(row)
            s.exec(delete(StoredMessage).where(StoredMessage.resident == old))  # type: ignore[arg-type]
            s.commit()
            return True

    def forget(self, key: str) -> dict[str, int]:
        """Delete every row linked to a resident; how many of each were deleted."""
        buckets = [bucket(name, key) for name in RESIDENT_BUCKETS]
        with self._guard("forget resident", write=True), Session(self.engine) as s:
            gone = {
                "residents": s.exec(delete(Resident).where(Resident.key == key)).rowcount,  # type: ignore[arg-type]
                "messages": s.exec(delete(StoredMessage).where(StoredMessage.resident == key)).rowcount,  # type: ignore[arg-type]
                "rate_hits": s.exec(delete(RateHit).where(RateHit.bucket.in_(buckets))).rowcount,  # type: ignore[attr-defined]
            }
            s.commit()
            return gone

    # Redelivery

    def first_delivery(self, event_id: str, ttl: timedelta = EVENT_TTL) -> bool:
        """True the first time an event id is seen, False ever after (until it expires).

        The unique primary key decides, so this holds across workers and restarts.
        """
        return self.check_in(event_id, None, ttl=ttl).first

    def check_in(self, event_id: str | None, key: str | None, count: Callable[[Connection], T] | None = None,
                 ttl: timedelta = EVENT_TTL) -> CheckIn[T]:
        """What answering a message needs first, in one transaction: the event id claimed (unless
        already answered: then nothing else), `count(connection)` (a rate limit), the resident read."""
        now = utcnow()
        self._purge_events(now)
        with self._guard("check in", write=True), self.engine.begin() as conn:
            if event_id and not upsert(conn, EVENTS, {"event_id": event_id, "expires_at": now + ttl},
                                       keys=("event_id",)):
                return CheckIn(first=False)
            counted = count(conn) if count is not None and key else None
            row = conn.execute(READ_RESIDENT, {"key": key}).mappings().first() if key else None
            return CheckIn(True, Resident(**row) if row is not None else None, counted)

    def _purge_events(self, now: datetime) -> None:
        if time.monotonic() - self._purged < 600:
            return
        self._purged = time.monotonic()
        with contextlib.suppress(Unavailable), self._guard("expire event ids", write=True), \
                Session(self.engine) as s:
            s.exec(delete(ProcessedEvent).where(ProcessedEvent.expires_at < now))  # type: ignore[arg-type]
            s.commit()

    # Anonymous log

    def log(self, channel: str, intents: list[str], area: str | None, crisis: bool) -> None:
        """Write a referral-log row; if the database is away, keep it (and those before it) for later."""
        self.record(channel, None, intents, area, crisis)

    def record(self, channel: str, key: str | None, intents: list[str], area: str | None, crisis: bool,
               learned: str | None = None, resident: dict[str, Any] | None = None) -> None:
        """After a referral, one transaction: the resident seen (with an area they named and `resident`'s
        fields: the reply's language, the question it asked) and the log row.

        If the database is away the log row waits in memory with those before it (Unavailable is raised).
        """
        row = {"at": utcnow(), "channel": channel, "intents": ",".join(intents)[:400], "area": area,
               "crisis": crisis}
        with self._lock:
            self._pending.append(row)
            rows = list(self._pending)
            self._pending.clear()
        try:
            with self._guard("referral log", write=True), self.engine.begin() as conn:
                if key:
                    self._seen(conn, key, channel, {**({"area": learned} if learned else {}), **(resident or {})})
                conn.execute(REFERRALS.insert(), rows)
        except Unavailable:
            with self._lock:  # back in line, oldest first; past PENDING_LIMIT the oldest go
                self._pending = deque([*rows, *self._pending], maxlen=PENDING_LIMIT)
            raise

    def recent_log(self, limit: int = 100) -> list[ReferralLog]:
        with self._guard("read referral log", write=False), Session(self.engine) as s:
            return list(s.exec(select(ReferralLog).order_by(ReferralLog.id.desc()).limit(limit)))  # type: ignore[union-attr]

    # Messages (only with STORE_MESSAGES)

    def keep_message(self, key: str, channel: str, text: str, intents: list[str]) -> None:
        with self._guard("stored message", write=True), Session(self.engine) as s:
            s.add(StoredMessage(resident=key, channel=channel, text=text[:MAX_STORED_TEXT],
                                intents=",".join(intents)[:400]))
            s.commit()

    # Retention

    def purge(self, retention: timedelta, messages: timedelta | None,
              now: datetime | None = None) -> dict[str, int]:
        """Delete what is past keeping; `messages=None` deletes every stored message (STORE_MESSAGES off).

        referral log rows and residents unseen for `retention`; messages older than `messages`;
        expired event ids and rate-limit windows; the question last asked, once past answering.
        Returns how many rows of each went (or were cleared).
        """
        now = now or utcnow()
        old = now - retention
        with self._guard("purge", write=True), Session(self.engine) as s:
            statements = {
                "referral_log": delete(ReferralLog).where(ReferralLog.at < old),  # type: ignore[arg-type]
                "residents": delete(Resident).where(Resident.last_seen < old),  # type: ignore[arg-type]
                "messages": delete(StoredMessage) if messages is None
                else delete(StoredMessage).where(StoredMessage.at < now - messages),  # type: ignore[arg-type]
                "processed_events": delete(ProcessedEvent).where(ProcessedEvent.expires_at < now),  # type: ignore[arg-type]
                "rate_hits": delete(RateHit).where(RateHit.expires_at < now),  # type: ignore[arg-type]
                # The question the bot asked, past answering: a resident who did not write again.
                "questions_asked": sa_update(RESIDENTS).where(RESIDENTS.c.asked_at < now - ASKED_FOR)
                .values(asked=None, asked_at=None),
            }
            gone = {name: s.exec(statement).rowcount for name, statement in statements.items()}  # type: ignore[call-overload]
            s.commit()
            return gone


def create_all(url: str) -> None:
    """Only for throwaway databases; real ones are made by `bot db upgrade`."""
    SQLModel.metadata.create_all(make_engine(url))

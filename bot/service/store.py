"""What the server remembers, in any SQLAlchemy database (SQLite by default).

    residents        keyed hash -> area, rounded location, language (chosen, last replied in), the
                     question last asked (30 minutes), first/last seen
    processed_events event id (unique) -> expiry: redelivery answered at most once
    referral_log     time, channel, intent ids, area code, crisis: no text, no id
    messages         raw text, only when an operator sets STORE_MESSAGES; kept N days
    rate_hits        hashed bucket, window -> count: rate limits every worker shares (bot/service/limits.py)
    parked_events    events waiting for their turn while the queue is full, sealed (bot/service/parking.py)

The schema belongs to alembic (`bot db upgrade`, bot/service/migrations); `Store`
only reads and writes rows.  All methods are synchronous and short: call
them from a worker thread in async code.

A database that is down, locked or read-only raises `Unavailable` (never a
driver error), and for `timeout` seconds after that every call of the same
kind raises it at once instead of waiting again; then one call tries it (the
others still fail at once) and its outcome opens or closes the way: the bot
answers without its memory meanwhile.

On the reply path nothing waits for the database longer than `deadline`:

    store.within("check in", lambda: store.check_in(...))   # on the store's threads; Unavailable past it
    store.later(channel, key, needs, area, crisis)          # written by the writer thread, in batches

A call past its deadline goes on in its thread and finishes or fails there (a hung
server holds one thread, not the reply).  Rows `later` could not write wait in memory
(at most PENDING_LIMIT) and go with the next batch once the database is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Generic, TypeVar

from sqlalchemy import Column, Connection, LargeBinary, Table, Text, bindparam
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
PENDING_LIMIT = 1000  # referral-log rows (and residents seen) kept in memory while the database is away
MAX_STORED_TEXT = 5000
RESIDENT_BUCKETS = ("resident", "resident-warned")  # rate-limit buckets keyed by a resident (bot/channels)
ASKED_FOR = timedelta(minutes=30)  # how long the next message is read as the answer to the bot's question
DB_THREADS = 4  # the store's own threads for calls with a deadline; a hung server holds one each
BACKGROUND_THREADS = 2  # ... and for the parking lot's, apart
WRITE_EVERY = 0.02  # seconds the writer gathers rows before one transaction
WRITE_BATCH = 500  # rows that make the writer go at once
EXPIRE_EVENTS_EVERY = 600.0  # seconds between deletions of expired event ids (by the writer)

T = TypeVar("T")
log = logging.getLogger("bot.store")


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


class ParkedEvent(SQLModel, table=True):
    """A platform event waiting for its turn while the queue is full (bot/service/parking.py).

    The event itself is sealed (AES-GCM, a key derived from the hash key: bot/service/privacy.py): the
    database alone never shows its text or ids.  Deleted once answered; purged a day after it came.
    """

    __tablename__ = "parked_events"

    id: int | None = Field(default=None, primary_key=True)  # the order of arrival
    channel: str = Field(max_length=16)
    priority: int = 1  # bot/service/intake.py: 0 crisis (never parked), 1 a resident's message, 2 the rest
    resident: str | None = Field(default=None, max_length=64, index=True)  # keyed hash, for forget()
    received: float  # epoch seconds the webhook came: the reply token's age, across hosts
    sealed: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    claimed_by: str | None = Field(default=None, max_length=64)  # the worker answering it now
    claimed_until: float | None = Field(default=None, index=True)  # epoch seconds; then anyone may take it
    expires: float = Field(index=True)  # epoch seconds: purged after this, answered or not


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


@lru_cache(maxsize=16)
def _upsert_many(dialect: str, table: Table, columns: tuple[str, ...], keys: tuple[str, ...],
                 update: tuple[str, ...]) -> Any:
    """`_upsert_statement` without RETURNING, for many rows at once (the driver's executemany)."""
    insert = sqlite_insert if dialect == "sqlite" else pg_insert
    statement = insert(table).values({c: bindparam(c, type_=table.c[c].type) for c in columns})
    return statement.on_conflict_do_update(index_elements=list(keys), set_={c: statement.excluded[c] for c in update})


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


class Breaker:
    """After a failure, calls of one kind fail at once for `pause` seconds; then one call may try
    (the others still fail at once) and its outcome closes the way or opens it again."""

    def __init__(self, pause: float) -> None:
        self.pause = pause
        self.until = 0.0  # 0: closed (calls go through)
        self.trying = False
        self._lock = threading.Lock()

    def blocked(self) -> bool:
        """Open now: a call would fail at once (a peek; it does not take the one try)."""
        return self.until != 0.0 and (self.trying or time.monotonic() < self.until)

    def allow(self) -> bool:
        if self.until == 0.0:
            return True
        with self._lock:
            if self.until == 0.0:
                return True
            if self.trying or time.monotonic() < self.until:
                return False
            self.trying = True
            return True

    def ok(self) -> None:
        if self.until != 0.0:
            with self._lock:
                self.until, self.trying = 0.0, False

    def failed(self) -> None:
        with self._lock:
            self.until, self.trying = time.monotonic() + self.pause, False


class Store:
    def __init__(self, url: str, timeout: float = 5.0, deadline: float | None = None) -> None:
        """`timeout`: how long to wait for a locked SQLite database, and how long to skip it after a failure.
        `deadline`: how long `within` waits for a call (None: as long as it takes)."""
        self.url = url
        self.timeout = timeout
        self.deadline = deadline
        self.engine = make_engine(url, timeout)
        self._expired = -math.inf  # never: the writer's first round deletes expired event ids
        self._breakers = {"read": Breaker(timeout), "write": Breaker(timeout)}
        self._pending: deque[dict[str, Any]] = deque(maxlen=PENDING_LIMIT)
        self._seen_later: dict[str, tuple[str, dict[str, Any]]] = {}  # resident key -> (channel, fields)
        self._texts_later: deque[dict[str, Any]] = deque(maxlen=PENDING_LIMIT)
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._writer: threading.Thread | None = None
        self._flushing = threading.Lock()  # a batch from taking it to its commit; forget() waits for it
        self._calls: ThreadPoolExecutor | None = None
        self._background: ThreadPoolExecutor | None = None
        self._closing = False
        self.dropped = 0  # rows `later` let go because PENDING_LIMIT were already waiting
        # SQLite lets one writer in at a time, and a writer it turns away sleeps in its busy handler
        # (1, 2, 5, 10 ... 100 ms) however soon the lock is free: the threads of one process take
        # turns here instead, and the busy handler is left for other processes.
        self._writing = threading.RLock() if self.engine.dialect.name == "sqlite" else contextlib.nullcontext()

    def close(self, wait: float = 2.0) -> None:
        """Write what `later` holds (waiting at most `wait` seconds), then let the connections go."""
        with self._lock:
            self._closing = True
            self._wake.notify()
        if self._writer is not None:
            self._writer.join(wait)
        for pool in (self._calls, self._background):
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
        self.engine.dispose()

    # Faults

    @contextlib.contextmanager
    def _guard(self, what: str, write: bool) -> Iterator[None]:
        kind = "write" if write else "read"
        breaker = self._breakers[kind]
        with self._writing if write else contextlib.nullcontext():
            if not breaker.allow():
                raise Unavailable(f"{what}: database unavailable (retrying shortly)")
            try:
                yield
            except IntegrityError:
                breaker.ok()  # the database answered
                raise
            except (DBAPIError, PoolTimeout) as e:
                breaker.failed()
                if not write:  # a failed read means the database itself is away, not only writes
                    self._breakers["write"].failed()
                cause = type(getattr(e, "orig", None) or e).__name__
                raise Unavailable(f"{what}: {cause}") from None
            except BaseException:
                breaker.ok()  # not the database's fault: let the next call try
                raise
            else:
                breaker.ok()

    @contextlib.contextmanager
    def transaction(self, what: str, write: bool = True) -> Iterator[Connection]:
        """One transaction under the fault rules: `with store.transaction("park") as conn: ...`."""
        with self._guard(what, write), self.engine.begin() as conn:
            yield conn

    def guarded(self, what: str, fn: Callable[[], T], write: bool = True) -> T:
        """Run `fn` (a call to the database) under the same fault rules as the store's own methods."""
        with self._guard(what, write):
            return fn()

    # Deadlines: the reply path never waits on the database longer than `deadline`

    def within(self, what: str, fn: Callable[[], T], write: bool = True, deadline: float | None = None,
               trip: bool = True) -> T:
        """`fn()` (calls of this store) on the store's own threads, waited for at most `deadline` seconds
        (default `self.deadline`); past it Unavailable, and calls of the same kind fail at once for a
        while. With `trip=False` (a caller that chose to wait longer than the reply path does) the call is
        tried even while calls of its kind fail at once, and its lateness trips nothing.
        The call itself goes on in its thread and finishes or fails there."""
        deadline = self.deadline if deadline is None else deadline
        if deadline is None:
            return fn()
        future = self._start(what, fn, write, force=not trip)
        try:
            return future.result(deadline)
        except FutureTimeout:
            if not trip:
                raise Unavailable(f"{what}: no answer within {deadline:g} s") from None
            raise self._late(what, write, deadline) from None

    async def soon(self, what: str, fn: Callable[[], T], write: bool = True, deadline: float | None = None) -> T:
        """For the event loop's background work (the parking lot): `fn()` on threads of its own, apart
        from the reply path's, awaited for at most `deadline` seconds (None: until it is done)."""
        future = self._start(what, fn, write, background=True)
        if deadline is None:
            return await asyncio.wrap_future(future)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), deadline)
        except TimeoutError:
            raise self._late(what, write, deadline) from None

    def _start(self, what: str, fn: Callable[[], T], write: bool, background: bool = False,
               force: bool = False) -> Future[T]:
        breaker = self._breakers["write" if write else "read"]
        if breaker.blocked() and not force:  # fail at once, without a thread: the one try is under way or not due yet
            raise Unavailable(f"{what}: database unavailable (retrying shortly)")
        if self._calls is None or self._background is None:
            with self._lock:
                if self._calls is None:
                    self._calls = ThreadPoolExecutor(DB_THREADS, thread_name_prefix="db")
                    # The parking lot's transactions never queue in front of a resident's check-in.
                    self._background = ThreadPoolExecutor(BACKGROUND_THREADS, thread_name_prefix="db-lot")
        return (self._background if background else self._calls).submit(fn)

    def _late(self, what: str, write: bool, deadline: float) -> Unavailable:
        self._breakers["write" if write else "read"].failed()
        if not write:
            self._breakers["write"].failed()
        return Unavailable(f"{what}: no answer within {deadline:g} s")

    # Writing later, in batches (the referral log, residents seen, stored messages)

    def later(self, channel: str, key: str | None, intents: list[str], area: str | None, crisis: bool,
              learned: str | None = None, text: str | None = None, resident: dict[str, Any] | None = None) -> None:
        """`record` without waiting: the log row (and the resident seen, with an area they named and
        `resident`'s fields, and their words with STORE_MESSAGES) are written by the writer thread with
        others, within WRITE_EVERY; while the database is away they wait in memory (at most PENDING_LIMIT)."""
        now = utcnow()
        with self._lock:
            if len(self._pending) == PENDING_LIMIT:
                self.dropped += 1
            self._pending.append({"at": now, "channel": channel, "intents": ",".join(intents)[:400],
                                  "area": area, "crisis": crisis})
            if key:
                fields = dict(self._seen_later.get(key, (channel, {}))[1])
                if learned:
                    fields["area"] = learned
                fields.update(resident or {})
                if key in self._seen_later or len(self._seen_later) < PENDING_LIMIT:
                    self._seen_later[key] = (channel, fields)
                if text is not None:
                    self._texts_later.append({"resident": key, "channel": channel, "at": now,
                                              "text": text[:MAX_STORED_TEXT], "intents": ",".join(intents)[:400]})
            if len(self._pending) >= WRITE_BATCH:
                self._wake.notify()
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_loop, name="db-writer", daemon=True)
                self._writer.start()

    def flush(self) -> bool:
        """Write what `later` holds now, in this thread; False if the database refused (it is kept)."""
        with self._flushing:
            return self._flush()

    def _flush(self) -> bool:
        with self._lock:
            rows, seen, texts = list(self._pending), dict(self._seen_later), list(self._texts_later)
            self._pending.clear()
            self._seen_later.clear()
            self._texts_later.clear()
        if not (rows or seen or texts):
            return True
        try:
            with self._guard("referral log", write=True), self.engine.begin() as conn:
                self._seen_many(conn, seen)
                if rows:
                    conn.execute(REFERRALS.insert(), rows)
                if texts:
                    conn.execute(StoredMessage.__table__.insert(), texts)  # type: ignore[attr-defined]
            return True
        except Unavailable:
            with self._lock:  # back in line, oldest first; past PENDING_LIMIT the oldest go
                self._pending = deque([*rows, *self._pending], maxlen=PENDING_LIMIT)
                for key, value in seen.items():
                    self._seen_later.setdefault(key, value)
                self._texts_later = deque([*texts, *self._texts_later], maxlen=PENDING_LIMIT)
            return False

    def _write_loop(self) -> None:
        while True:
            with self._lock:
                if not self._closing and len(self._pending) < WRITE_BATCH:
                    self._wake.wait(WRITE_EVERY)
                closing = self._closing
            try:
                written = self.flush()
                if time.monotonic() - self._expired >= EXPIRE_EVENTS_EVERY:
                    self.expire_events()
            except Exception as e:  # noqa: BLE001  (the writer outlives any one bad batch)
                log.error("database writer: %s", type(e).__name__)
                written = False
            if closing:
                return
            if not written:
                time.sleep(min(self.timeout, 1.0))  # the breaker's pause, more or less: no busy retrying

    @property
    def pending(self) -> int:
        """Referral-log rows waiting in memory for the database."""
        return len(self._pending)

    # Residents

    def resident(self, key: str) -> Resident | None:
        with self._guard("read resident", write=False), self.engine.connect() as conn:
            row = conn.execute(READ_RESIDENT, {"key": key}).mappings().first()
        return self._as_written(key, row)

    def _as_written(self, key: str, row: Any) -> Resident | None:
        """The resident as read, with what `later` holds for them on top: this process reads its own
        writes at once (the question just asked, an area just named), before the writer's batch lands."""
        with self._lock:
            channel, fields = self._seen_later.get(key, (None, None))
        if fields is None:
            return Resident(**row) if row is not None else None
        return Resident(**{**(row or {"key": key, "channel": channel}), **fields})

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

    def _seen_many(self, conn: Connection, seen: dict[str, tuple[str, dict[str, Any]]]) -> None:
        """The residents of one batch, seen now: one statement for each set of columns (executemany)."""
        if conn.dialect.name not in ("sqlite", "postgresql"):
            for key, (channel, fields) in seen.items():
                self._seen(conn, key, channel, dict(fields))
            return
        now = utcnow()
        shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for key, (channel, fields) in seen.items():
            shapes.setdefault(tuple(sorted(fields)), []).append(
                {"key": key, "channel": channel, "created_at": now, "last_seen": now, **fields})
        for shape, values in shapes.items():
            columns = ("key", "channel", "created_at", "last_seen", *shape)
            conn.execute(_upsert_many(conn.dialect.name, RESIDENTS, columns, ("key",), ("last_seen", *shape)), values)

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
        # A batch on its way to the database would bring the resident back after the deletion: wait
        # for it, and drop what waits for the next one.
        with self._flushing, self._guard("forget resident", write=True), Session(self.engine) as s:
            with self._lock:
                self._seen_later.pop(key, None)
                self._texts_later = deque((m for m in self._texts_later if m["resident"] != key),
                                          maxlen=PENDING_LIMIT)
            gone = {
                "residents": s.exec(delete(Resident).where(Resident.key == key)).rowcount,  # type: ignore[arg-type]
                "messages": s.exec(delete(StoredMessage).where(StoredMessage.resident == key)).rowcount,  # type: ignore[arg-type]
                "rate_hits": s.exec(delete(RateHit).where(RateHit.bucket.in_(buckets))).rowcount,  # type: ignore[attr-defined]
                "parked_events": s.exec(delete(ParkedEvent).where(ParkedEvent.resident == key)).rowcount,  # type: ignore[arg-type]
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
        with self._guard("check in", write=True), self.engine.begin() as conn:
            if event_id and not upsert(conn, EVENTS, {"event_id": event_id, "expires_at": now + ttl},
                                       keys=("event_id",)):
                return CheckIn(first=False)
            counted = count(conn) if count is not None and key else None
            row = conn.execute(READ_RESIDENT, {"key": key}).mappings().first() if key else None
            return CheckIn(True, self._as_written(key, row) if key else None, counted)

    def expire_events(self) -> int:
        """Delete expired event ids (the writer does it every EXPIRE_EVENTS_EVERY, off the reply path)."""
        self._expired = time.monotonic()
        with contextlib.suppress(Unavailable), self._guard("expire event ids", write=True), \
                Session(self.engine) as s:
            gone = s.exec(delete(ProcessedEvent).where(ProcessedEvent.expires_at < utcnow())).rowcount  # type: ignore[arg-type]
            s.commit()
            return gone
        return 0

    # Anonymous log

    def log(self, channel: str, intents: list[str], area: str | None, crisis: bool) -> None:
        """Write a referral-log row; if the database is away, keep it (and those before it) for later."""
        self.record(channel, None, intents, area, crisis)

    def record(self, channel: str, key: str | None, intents: list[str], area: str | None, crisis: bool,
               learned: str | None = None, resident: dict[str, Any] | None = None) -> None:
        """After a referral, now: the resident seen (with an area they named and `resident`'s fields: the
        reply's language, the question it asked) and the log row, in one transaction with anything `later`
        holds.  If the database is away they wait in memory with the rows before them (Unavailable)."""
        self.later(channel, key, intents, area, crisis, learned, resident=resident)
        if not self.flush():
            raise Unavailable("referral log: database unavailable (kept for later)")

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
        expired event ids, rate-limit windows and parked events; the question last asked, once past
        answering.  Returns how many rows of each went (or were cleared).
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
                "parked_events": delete(ParkedEvent).where(ParkedEvent.expires < now.timestamp()),  # type: ignore[arg-type]
            }
            gone = {name: s.exec(statement).rowcount for name, statement in statements.items()}  # type: ignore[call-overload]
            s.commit()
            return gone


def create_all(url: str) -> None:
    """Only for throwaway databases; real ones are made by `bot db upgrade`."""
    SQLModel.metadata.create_all(make_engine(url))

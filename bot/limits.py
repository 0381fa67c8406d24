"""Rate limits that every worker shares, counted in the database.

    limiter = Limiter(db, "console-login-ip", limit=10, per=900)
    decision = limiter.hit(client_ip)        # counts this attempt
    if not decision.allowed: answer 429 with Retry-After: decision.retry_after

Counts live in `rate_hits` (bot/store.py) under a hashed bucket, so no address
or id is stored in the clear, in fixed windows of `per` seconds weighted into a
sliding window: count = this window + last window x the part of it still inside
the last `per` seconds.  Rows expire after two windows (`Store.purge`).

Each `hit` is one short transaction (an upsert on SQLite and PostgreSQL): any
number of workers and processes agree.
Database errors are the caller's to handle (the bot lets a message through when
its database is away; a login page should refuse).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, delete

from bot.store import RateHit, bucket


@dataclass(frozen=True)
class Decision:
    allowed: bool
    count: float  # hits in the sliding window, this one included
    retry_after: int  # seconds until a hit would be allowed again (0 when allowed)


class Limiter:
    def __init__(self, db: Engine, name: str, limit: int, per: float = 60.0) -> None:
        if limit < 1 or per <= 0:
            raise ValueError("limit must be at least 1 and per above 0")
        self.db = db
        self.name = name
        self.limit = limit
        self.per = per

    def hit(self, key: str, now: float | None = None) -> Decision:
        """Count one hit for `key` and say whether it is within the limit (hits over it count too)."""
        now = time.time() if now is None else now
        window = int(now // self.per * self.per)
        b = bucket(self.name, key)
        expires = datetime.fromtimestamp(window + 2 * self.per, UTC)
        table = RateHit.__table__  # type: ignore[attr-defined]
        with self.db.begin() as conn:
            dialect = conn.dialect.name
            if dialect in ("sqlite", "postgresql"):  # one statement: insert, or count up the row there is
                insert = sqlite_insert if dialect == "sqlite" else pg_insert
                statement = insert(table).values(bucket=b, window=window, count=1, expires_at=expires)
                conn.execute(statement.on_conflict_do_update(index_elements=["bucket", "window"],
                                                             set_={"count": table.c.count + 1}))
            else:
                changed = conn.execute(update(table).where(table.c.bucket == b, table.c.window == window)
                                       .values(count=table.c.count + 1)).rowcount
                if not changed:
                    conn.execute(table.insert().values(bucket=b, window=window, count=1, expires_at=expires))
            rows = dict(conn.execute(select(table.c.window, table.c.count).where(
                table.c.bucket == b, table.c.window.in_((window, window - int(self.per))))).all())
        return self._decide(rows, window, now)

    def peek(self, key: str, now: float | None = None) -> Decision:
        """The decision a hit would get now, without counting one."""
        now = time.time() if now is None else now
        window = int(now // self.per * self.per)
        table = RateHit.__table__  # type: ignore[attr-defined]
        with self.db.connect() as conn:
            rows = dict(conn.execute(select(table.c.window, table.c.count).where(
                table.c.bucket == bucket(self.name, key),
                table.c.window.in_((window, window - int(self.per))))).all())
        return self._decide(rows, window, now, extra=1)

    def reset(self, key: str) -> None:
        """Forget every hit of `key` (after a successful login, or when a resident is forgotten)."""
        with Session(self.db) as s:
            s.exec(delete(RateHit).where(RateHit.bucket == bucket(self.name, key)))  # type: ignore[arg-type]
            s.commit()

    def _decide(self, rows: dict[int, int], window: int, now: float, extra: int = 0) -> Decision:
        current, previous = rows.get(window, 0) + extra, rows.get(window - int(self.per), 0)
        elapsed = (now - window) / self.per
        count = current + previous * (1 - elapsed)
        if count <= self.limit:
            return Decision(True, count, 0)
        # Wait until the weighted count falls to the limit (the end of this window at most).
        left = self.per * (1 - elapsed)
        if current <= self.limit and previous:
            left = min(left, (count - self.limit) / previous * self.per)
        return Decision(False, count, max(1, int(left + 0.999)))

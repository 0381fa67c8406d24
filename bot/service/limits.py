"""Rate limits that every worker shares, counted in the database.

    limiter = Limiter(db, "console-login-ip", limit=10, per=900)
    decision = limiter.hit(client_ip)        # counts this attempt
    if not decision.allowed: answer 429 with Retry-After: decision.retry_after

Counts live in `rate_hits` (bot/service/store.py) under a hashed bucket, so no address
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

from sqlalchemy import Connection, Engine, bindparam, select
from sqlmodel import Session, delete

from bot.service.store import RateHit, bucket, upsert

_HITS = RateHit.__table__  # type: ignore[attr-defined]
COUNTS = select(_HITS.c.window, _HITS.c.count).where(  # this window's count and the last one's
    _HITS.c.bucket == bindparam("bucket"), _HITS.c.window.in_([bindparam("now"), bindparam("last")]))


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
        with self.db.begin() as conn:
            return self.hit_in(conn, key, now)

    def hit_in(self, conn: Connection, key: str, now: float | None = None) -> Decision:
        """`hit` inside the caller's transaction (Store.check_in counts a message with its other reads)."""
        now = time.time() if now is None else now
        window = int(now // self.per * self.per)
        b = bucket(self.name, key)
        expires = datetime.fromtimestamp(window + 2 * self.per, UTC)
        table = RateHit.__table__  # type: ignore[attr-defined]
        upsert(conn, table, {"bucket": b, "window": window, "count": 1, "expires_at": expires},
               keys=("bucket", "window"), increment="count")
        rows = dict(conn.execute(COUNTS, {"bucket": b, "now": window, "last": window - int(self.per)}).all())
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

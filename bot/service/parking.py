"""The parking lot: events that wait in the database while the queue is full (bot/service/intake.py).

    park(parcels)  -> one transaction: each event sealed (privacy.Sealer), in order of arrival
    claim(n)       -> the first n (by priority, then arrival) that nobody holds, leased to this worker
    done(ids)      -> deleted: answered
    release(ids)   -> back for anyone (a worker stopping before it got to them)

Every worker and host on the same database shares the lot: a burst one worker parked is answered by
whichever has room, and a worker that stops or dies leaves its events to the others (a lease runs
out after LEASE seconds).  A claim is waited for, however slow: given up on while it went through,
its events would wait out the lease unseen.  An event answered twice that way is still answered once: text events
claim their id in processed_events first, and a push carries a retry key made from the event id.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import delete, func, insert, or_, select, update

from bot.service.intake import Parcel
from bot.service.privacy import Sealer
from bot.service.store import ParkedEvent, Store

T = TypeVar("T")
LEASE = 60.0  # seconds a claimed event is this worker's; then another may answer it (by push, if it is late)
KEEP = 24 * 3600.0  # seconds a parked event is kept at most (Store.purge deletes it after that)
P = ParkedEvent.__table__  # type: ignore[attr-defined]


def worker_name() -> str:
    """This worker, as it signs its claims: host, process and a random part (pids are reused)."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class ParkingLot:
    def __init__(self, store: Store, sealer: Sealer, owner: str | None = None, lease: float = LEASE) -> None:
        self.store = store
        self.sealer = sealer
        self.owner = owner or worker_name()
        self.lease = lease

    async def run(self, what: str, fn: Callable[[], T], deadline: float | None = None) -> T:
        """A call of the lot on the store's background threads, from the event loop (None: no deadline)."""
        return await self.store.soon(what, fn, write=True, deadline=deadline)

    def park(self, parcels: list[Parcel]) -> list[int]:
        rows = [{"channel": p.channel, "priority": p.priority, "resident": p.resident, "received": p.received,
                 "sealed": self.sealer.seal(json.dumps(p.payload, ensure_ascii=False).encode()),
                 "expires": p.received + KEEP} for p in parcels]
        with self.store.transaction("park") as conn:
            ids = list(conn.execute(insert(P).returning(P.c.id, sort_by_parameter_order=True), rows).scalars())
        for parcel, row_id in zip(parcels, ids, strict=True):
            parcel.parked = row_id
        return ids

    def claim(self, count: int) -> list[Parcel]:
        now = time.time()
        free = or_(P.c.claimed_until.is_(None), P.c.claimed_until < now)
        oldest = select(P.c.id).where(free, P.c.expires > now).order_by(P.c.priority, P.c.received, P.c.id).limit(count)
        with self.store.transaction("claim parked") as conn:
            if conn.dialect.name == "postgresql":  # two workers claiming at once take different rows
                oldest = oldest.with_for_update(skip_locked=True)
            rows = conn.execute(
                update(P).where(P.c.id.in_(oldest.scalar_subquery()), free)
                .values(claimed_by=self.owner, claimed_until=now + self.lease)
                .returning(P.c.id, P.c.channel, P.c.priority, P.c.resident, P.c.received, P.c.sealed)).all()
        parcels = []
        for row in sorted(rows, key=lambda r: (r.priority, r.received, r.id)):
            payload = self._open(row.sealed)
            if payload is None:
                self.done([row.id])
                continue
            parcels.append(Parcel(row.channel, payload, row.priority, row.received, row.resident, row.id))
        return parcels

    def done(self, ids: list[int]) -> None:
        if ids:
            with self.store.transaction("parked done") as conn:
                conn.execute(delete(P).where(P.c.id.in_(ids)))

    def release(self, ids: list[int]) -> None:
        if ids:
            with self.store.transaction("parked release") as conn:
                conn.execute(update(P).where(P.c.id.in_(ids), P.c.claimed_by == self.owner)
                             .values(claimed_by=None, claimed_until=None))

    def waiting(self) -> int:
        """Parked events nobody holds now."""
        now = time.time()
        with self.store.transaction("count parked", write=False) as conn:
            return conn.execute(select(func.count()).select_from(P).where(
                or_(P.c.claimed_until.is_(None), P.c.claimed_until < now))).scalar_one()

    def _open(self, sealed: bytes) -> dict[str, Any] | None:
        try:
            payload = json.loads(self.sealer.open(sealed))
        except ValueError:  # sealed under a key this server does not have, or altered: nobody can answer it
            return None
        return payload if isinstance(payload, dict) else None

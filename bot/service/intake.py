"""Work in order of need: crisis first, then residents' messages, then the rest; nothing dropped.

    webhook (verified, parsed) -> Parcel(priority from a cheap look at the text) -> Intake.offer
        queue in memory, by (priority, arrival) --at most IN_FLIGHT at once--> the channel's handler
        queue full (QUEUE_MAX)? -> parked in the database (bot/service/parking.py), answered in turn
        database refusing too?  -> kept in memory up to HARD_LIMIT x QUEUE_MAX; past that, while the
                                   database still refuses, the webhook gets 503 so the platform
                                   delivers it again (counted: outcome "refused")

A crisis is never parked and never waits for a free slot: it goes to the front and starts at once.
While anything is parked, new messages (but crises) are parked behind it, so they keep their order.
The desk's threads are taken in the same order (`Gate`), one of them kept for crises: a slow route
(the semantic layer's encoder) never keeps a crisis waiting for a thread.

The priority travels with the work in a context variable (PRIORITY), so every Desk.call a handler
makes waits its turn with the rest of its event.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.service.metrics import Metrics
from bot.service.store import Unavailable

log = logging.getLogger("bot.intake")

CRISIS, RESIDENT, OTHER = 0, 1, 2
NAMES = {CRISIS: "crisis", RESIDENT: "resident", OTHER: "other"}
PRIORITY: ContextVar[int] = ContextVar("priority", default=RESIDENT)
QUEUE_MAX = 2000  # events waiting in memory (per worker) before new ones are parked in the database
IN_FLIGHT = 64  # events being answered at once (desk work and delivery); crises do not count
HARD_LIMIT = 4  # x QUEUE_MAX: kept in memory when the database cannot take parked events either
PARK_LINGER = 0.005  # seconds the parker gathers events into one transaction
PARK_DEADLINE = 2.0  # seconds a parking transaction may take before the events stay in memory instead
DRAIN_BATCH = 500  # parked events taken back at once
LOOK_EVERY = 2.0  # seconds between looks for events parked by others (other workers, a restart)
STOP_GRACE = 5.0  # seconds the events being answered get at shutdown


@dataclass(slots=True)
class Parcel:
    """One platform event on its way through the intake: the platform's own JSON, as received."""

    channel: str
    payload: dict[str, Any]
    priority: int = RESIDENT
    received: float = field(default_factory=time.time)  # wall clock: the reply token's age, across hosts
    resident: str | None = None  # the sender's keyed hash: forget() reaches a parked event too
    parked: int | None = None  # its row in parked_events while it is (or was) parked

    @property
    def age(self) -> float:
        return time.time() - self.received


class Lot(Protocol):
    """Where parcels wait when the queue is full (bot/service/parking.py ParkingLot)."""

    def park(self, parcels: list[Parcel]) -> list[int]: ...
    def claim(self, count: int) -> list[Parcel]: ...
    def done(self, ids: list[int]) -> None: ...
    def release(self, ids: list[int]) -> None: ...

    async def run(self, what: str, fn: Callable[[], Any], deadline: float | None = None) -> Any: ...


Handler = Callable[[Parcel], Awaitable[None]]


class Gate:
    """`slots` of the desk's threads, handed out by (priority, arrival); `reserved` of them only to crises."""

    def __init__(self, slots: int, reserved: int = 1) -> None:
        self.slots, self.reserved = slots, min(reserved, slots - 1)
        self.free, self.general = slots, 0  # free slots; slots held by non-crisis work
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    @property
    def waiting(self) -> int:
        """Calls waiting for a thread now."""
        return len(self._waiting)

    def _can(self, priority: int) -> bool:
        return self.free > 0 and (priority == CRISIS or self.general < self.slots - self.reserved)

    def _take(self, priority: int) -> None:
        self.free -= 1
        if priority != CRISIS:
            self.general += 1

    async def acquire(self, priority: int) -> None:
        # Whoever waits could not go at the last release, and nothing has been freed since: one that
        # can go now (a crisis, while messages wait for the threads they may use) goes ahead of them.
        if self._can(priority):
            self._take(priority)
            return
        future = asyncio.get_running_loop().create_future()
        entry = (priority, next(self._order), future)
        heapq.heappush(self._waiting, entry)
        try:
            await future  # the slot was taken on our behalf by release()
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release(priority)
            else:
                with contextlib.suppress(ValueError):
                    self._waiting.remove(entry)
                    heapq.heapify(self._waiting)
            raise

    def release(self, priority: int) -> None:
        self.free += 1
        if priority != CRISIS:
            self.general -= 1
        while self._waiting and self._can(self._waiting[0][0]):
            waiter_priority, _, future = heapq.heappop(self._waiting)
            if future.done():
                continue
            self._take(waiter_priority)
            future.set_result(None)


class Intake:
    def __init__(self, handlers: dict[str, Handler] | None = None, *, bound: int = QUEUE_MAX,
                 in_flight: int = IN_FLIGHT, lot: Lot | None = None, metrics: Metrics | None = None) -> None:
        self.handlers: dict[str, Handler] = dict(handlers or {})
        self.bound = max(1, bound)
        self.in_flight = max(1, in_flight)
        self.lot = lot
        self.metrics = metrics or Metrics()
        self.running = 0
        self._queue: list[tuple[int, int, Parcel]] = []
        self._order = itertools.count()
        self._parked_hint = 0  # parked events nobody holds, as far as this worker knows
        self._to_park: list[Parcel] = []
        self._lot_failing = False  # the last parking failed: past the hard limit, refuse (503)
        self._wake: asyncio.Event | None = None
        self._park_wake: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._jobs: set[asyncio.Task[None]] = set()
        self._done_ids: list[int] = []
        self._stopping = False

    # Life

    async def start(self) -> None:
        self._wake, self._park_wake = asyncio.Event(), asyncio.Event()
        self._tasks = [asyncio.create_task(self._dispatch(), name="intake")]
        if self.lot is not None:
            self._tasks += [asyncio.create_task(self._parker(), name="intake-parker"),
                            asyncio.create_task(self._drainer(), name="intake-drainer")]

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Park what has not started (a restart answers it), give what is running `grace` seconds."""
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        waiting = [parcel for _, _, parcel in self._queue] + self._to_park
        self._queue.clear()
        self._to_park = []
        if self.lot is not None:
            await self._park_at_stop(waiting)
        elif waiting:
            log.error("intake: %d events were still waiting at shutdown (no parking lot)", len(waiting))
        if self._jobs:
            _, late = await asyncio.wait(self._jobs, timeout=grace)
            for job in late:
                job.cancel()
        if self.lot is not None and self._done_ids:
            lot, ids = self.lot, list(self._done_ids)
            with contextlib.suppress(Exception):
                await lot.run("parked done", lambda: lot.done(ids), PARK_DEADLINE)

    async def _park_at_stop(self, parcels: list[Parcel]) -> None:
        assert self.lot is not None
        lot = self.lot
        back = [p.parked for p in parcels if p.parked is not None]
        fresh = [p for p in parcels if p.parked is None]
        try:
            if back:
                await lot.run("parked release", lambda: lot.release(back), PARK_DEADLINE)
            if fresh:
                await lot.run("park", lambda: lot.park(fresh), PARK_DEADLINE)
            if fresh or back:
                log.info("intake: %d waiting events parked for after the restart", len(fresh) + len(back))
        except (Unavailable, TimeoutError):
            log.error("intake: %d waiting events could not be parked at shutdown", len(fresh))

    # Admission

    async def offer(self, parcels: list[Parcel]) -> bool:
        """Admit a webhook's events; False when some could be neither queued nor parked (answer 503).

        Parking is handed to the parker and not waited for: the webhook's 200 goes out at once, so a
        burst does not back up at the platform's end (where a crisis would wait unseen).  Should the
        database refuse them, they are kept in memory (up to HARD_LIMIT x QUEUE_MAX).
        """
        refused = False
        for parcel in parcels:
            if parcel.priority == CRISIS or (len(self._queue) < self.bound and self._parked_hint <= 0) \
                    or self.lot is None or self._stopping:
                self._admitted(parcel, "queued")
            elif len(self._queue) + len(self._to_park) >= self.bound * HARD_LIMIT and self._lot_failing:
                refused = True
                self.metrics.admissions.labels(parcel.channel, NAMES[parcel.priority], "refused").inc()
            else:
                self._to_park.append(parcel)
                self._parked_hint += 1  # later arrivals line up behind it
        if self._to_park and self._park_wake is not None:
            self._park_wake.set()
        if refused:
            log.error("intake: queue and parking lot both full or away: the webhook is answered 503")
        return not refused

    def _admitted(self, parcel: Parcel, outcome: str) -> None:
        self.metrics.admissions.labels(parcel.channel, NAMES[parcel.priority], outcome).inc()
        self._push(parcel)

    def _push(self, parcel: Parcel) -> None:
        heapq.heappush(self._queue, (parcel.priority, next(self._order), parcel))
        self.metrics.queued.inc()
        if self._wake is not None:
            self._wake.set()

    async def _parker(self) -> None:
        assert self._park_wake is not None and self.lot is not None
        lot = self.lot
        while True:
            await self._park_wake.wait()
            await asyncio.sleep(PARK_LINGER)  # one transaction for what comes meanwhile
            self._park_wake.clear()
            parcels, self._to_park = self._to_park, []
            if not parcels:
                continue
            try:
                await lot.run("park", lambda parcels=parcels: lot.park(parcels), PARK_DEADLINE)
                self._lot_failing = False
                for parcel in parcels:
                    self.metrics.admissions.labels(parcel.channel, NAMES[parcel.priority], "parked").inc()
                continue
            except (Unavailable, TimeoutError) as e:
                log.warning("intake: could not park %d events (%s); keeping them in memory", len(parcels), e)
            except Exception as e:  # noqa: BLE001  (a bad parcel must not stop the parker)
                log.error("intake: parking failed (%s); keeping the events in memory", type(e).__name__)
            self._lot_failing = True
            self._parked_hint = max(0, self._parked_hint - len(parcels))
            for parcel in parcels:
                parcel.parked = None
                self._admitted(parcel, "kept")

    async def _drainer(self) -> None:
        """Take parked events back as the queue empties: ours, other workers', a stopped process's."""
        assert self.lot is not None
        lot = self.lot
        looked = 0.0
        while True:
            await asyncio.sleep(0.05)
            if self._done_ids:
                ids, self._done_ids = self._done_ids, []
                try:
                    await lot.run("parked done", lambda ids=ids: lot.done(ids), PARK_DEADLINE)
                except (Unavailable, TimeoutError):
                    self._done_ids = ids + self._done_ids  # the lease runs out meanwhile; no harm done
            room = min(DRAIN_BATCH, self.bound // 2 - len(self._queue))
            if room <= 0 or (self._parked_hint <= 0 and time.monotonic() - looked < LOOK_EVERY):
                continue
            looked = time.monotonic()
            try:
                parcels = await lot.run("claim parked", lambda room=room: lot.claim(room), None)
            except (Unavailable, TimeoutError):
                continue
            except Exception as e:  # noqa: BLE001
                log.error("intake: could not take parked events back (%s)", type(e).__name__)
                continue
            self._parked_hint = 0 if len(parcels) < room else max(self._parked_hint - len(parcels), 1)
            for parcel in parcels:
                self._push(parcel)

    # Work

    async def _dispatch(self) -> None:
        assert self._wake is not None
        while True:
            while self._queue and (self.running < self.in_flight or self._queue[0][0] == CRISIS):
                _, _, parcel = heapq.heappop(self._queue)
                self.metrics.queued.dec()
                self.running += 1
                job = asyncio.create_task(self._run(parcel))
                self._jobs.add(job)
                job.add_done_callback(self._jobs.discard)
            self._wake.clear()
            await self._wake.wait()

    async def _run(self, parcel: Parcel) -> None:
        PRIORITY.set(parcel.priority)  # this task's own context: every Desk.call of the event waits in turn
        self.metrics.queue_wait.labels(NAMES[parcel.priority]).observe(max(0.0, parcel.age))
        try:
            handler = self.handlers.get(parcel.channel)
            if handler is None:
                log.error("intake: no handler for a %s event", parcel.channel)
            else:
                await handler(parcel)
        except Exception as e:  # noqa: BLE001  (one bad event never stops the others)
            log.error("intake: %s while answering a %s event", type(e).__name__, parcel.channel)
        finally:
            self.running -= 1
            if parcel.parked is not None:
                self._done_ids.append(parcel.parked)
            if self._wake is not None:
                self._wake.set()

    # Figures

    @property
    def depth(self) -> int:
        """Events waiting in memory."""
        return len(self._queue)

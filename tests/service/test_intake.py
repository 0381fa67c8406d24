"""The intake: events answered in order of need, parked in the database when the queue is full, never dropped.

The parking lot runs on SQLite and PostgreSQL (`db_url`); the queue and the gate need no database.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import text

from bot.service import migrations
from bot.service.intake import CRISIS, OTHER, RESIDENT, Gate, Intake, Parcel
from bot.service.parking import ParkingLot
from bot.service.privacy import Hasher, Sealer
from bot.service.store import Store


def parcel(n: int, priority: int = RESIDENT, words: str = "借金が返せない", user: str = "U1") -> Parcel:
    return Parcel("line", {"n": n, "text": words, "user": user}, priority, resident=f"{user:0>64}")


class Recorder:
    """A channel's handler that notes the order it started answering in; `hold` keeps it busy."""

    def __init__(self, hold: float = 0.0) -> None:
        self.answered: list[int] = []
        self.hold = hold

    async def __call__(self, p: Parcel) -> None:
        self.answered.append(p.payload["n"])
        await asyncio.sleep(self.hold)


async def until(condition, timeout: float = 10.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the intake did not get there in time"
        await asyncio.sleep(0.01)


# The order of need


async def test_a_crisis_goes_before_the_messages_waiting_and_those_before_the_rest():
    handler = Recorder(hold=0.05)
    intake = Intake({"line": handler}, in_flight=1)
    await intake.start()
    try:
        await intake.offer([parcel(0)])  # starts at once, and holds the one slot a while
        await asyncio.sleep(0.01)
        await intake.offer([parcel(1, OTHER), parcel(2), parcel(3), parcel(4, OTHER)])
        await intake.offer([parcel(5, CRISIS, "死にたい"), parcel(6)])
        await until(lambda: len(handler.answered) == 7)
    finally:
        await intake.stop()
    assert handler.answered == [0, 5, 2, 3, 6, 1, 4]


async def test_a_crisis_starts_even_when_every_slot_is_busy():
    handler = Recorder(hold=0.5)
    intake = Intake({"line": handler}, in_flight=2)
    await intake.start()
    try:
        await intake.offer([parcel(n) for n in range(6)])
        await asyncio.sleep(0.05)
        await intake.offer([parcel(99, CRISIS, "死にたい")])
        await until(lambda: 99 in handler.answered, timeout=2)
        assert handler.answered == [0, 1, 99], "started next to the two running, ahead of the four waiting"
    finally:
        await intake.stop(grace=0)


async def test_the_gate_keeps_a_thread_for_crises_while_slow_routes_hold_the_others():
    gate = Gate(3, reserved=1)
    await gate.acquire(RESIDENT)
    await gate.acquire(RESIDENT)  # both general threads busy (a slow route each)
    third = asyncio.create_task(gate.acquire(RESIDENT))
    await asyncio.sleep(0.01)
    assert not third.done(), "a third message waits: the last thread is kept for crises"
    await asyncio.wait_for(gate.acquire(CRISIS), 0.1)  # the crisis gets it at once
    gate.release(RESIDENT)
    await asyncio.wait_for(third, 0.1)
    for priority in (RESIDENT, RESIDENT, CRISIS):
        gate.release(priority)
    assert (gate.free, gate.general) == (3, 0)


async def test_the_gate_counts_the_calls_waiting_for_a_thread_which_tell_the_engine_to_hurry():
    gate = Gate(2, reserved=1)
    await gate.acquire(RESIDENT)
    waiting = [asyncio.create_task(gate.acquire(RESIDENT)) for _ in range(3)]
    await asyncio.sleep(0.01)
    assert gate.waiting == 3
    gate.release(RESIDENT)
    await asyncio.sleep(0.01)
    assert gate.waiting == 2
    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)
    assert gate.waiting == 0


async def test_without_a_lot_a_full_queue_keeps_everything_up_to_the_hard_limit_then_refuses():
    intake = Intake({"line": Recorder()}, bound=2)  # not started: nothing is answered meanwhile
    intake._wake = asyncio.Event()
    assert await intake.offer([parcel(n) for n in range(8)])  # no lot: all kept in memory
    assert intake.depth == 8


# Parking


@pytest.fixture
def lot(db_url):  # noqa: ANN201
    migrations.upgrade(db_url)
    store = Store(db_url, deadline=2.0)
    yield ParkingLot(store, Sealer.of(Hasher(b"test-key")), owner="worker-a", lease=60)
    store.close()


def test_a_parked_event_is_sealed_claimed_once_and_deleted_when_answered(lot):
    ids = lot.park([parcel(1, user="Uparked", words="借金で首が回らない"), parcel(2, OTHER)])
    with lot.store.engine.connect() as conn:
        raw = b"".join(bytes(r[0]) for r in conn.execute(text("SELECT sealed FROM parked_events")))
    assert "借金".encode() not in raw and b"Uparked" not in raw, "the database alone shows no text and no id"
    other = ParkingLot(lot.store, lot.sealer, owner="worker-b", lease=60)
    claimed = lot.claim(10)
    assert [p.payload["n"] for p in claimed] == [1, 2] and [p.parked for p in claimed] == ids
    assert claimed[0].payload["text"] == "借金で首が回らない" and claimed[0].priority == RESIDENT
    assert other.claim(10) == [], "held by worker a"
    lot.done(ids)
    assert lot.waiting() == 0 and other.claim(10) == []


def test_an_event_a_stopped_worker_held_goes_to_another_once_its_lease_runs_out(lot):
    lot.lease = 0.2
    lot.park([parcel(1)])
    assert len(lot.claim(10)) == 1
    other = ParkingLot(lot.store, lot.sealer, owner="worker-b", lease=60)
    assert other.claim(10) == []
    time.sleep(0.3)
    assert [p.payload["n"] for p in other.claim(10)] == [1]


def test_forget_deletes_a_residents_parked_events_and_a_foreign_seal_is_dropped(lot):
    lot.park([parcel(1, user="Ugone"), parcel(2, user="Ustays")])
    assert lot.store.forget(f"{'Ugone':0>64}")["parked_events"] == 1
    stranger = ParkingLot(lot.store, Sealer.of(Hasher(b"another server's key")), owner="worker-c")
    assert stranger.claim(10) == [], "sealed under a key this server does not have: nobody can answer it"
    assert lot.waiting() == 0


async def test_a_full_queue_parks_in_order_and_a_restart_answers_what_was_waiting(lot):
    first = Recorder(hold=0.02)
    intake = Intake({"line": first}, bound=3, in_flight=1, lot=lot)
    await intake.start()
    await intake.offer([parcel(n) for n in range(12)])
    await intake.offer([parcel(99, CRISIS, "死にたい")])  # never parked
    await until(lambda: 99 in first.answered)
    await intake.stop(grace=1.0)  # the queue's leftovers are parked for the next process
    parked_first = [n for n in first.answered if n >= 3 and n != 99]
    assert all(first.answered.index(99) < first.answered.index(n) for n in parked_first), \
        "the crisis, which came last, went before anything parked"

    after = Recorder()
    restarted = Intake({"line": after}, bound=3, lot=ParkingLot(lot.store, lot.sealer, owner="worker-b"))
    await restarted.start()
    try:
        await until(lambda: len(set(first.answered + after.answered)) == 13)
    finally:
        await restarted.stop()
    assert sorted(first.answered + after.answered) == [*range(12), 99], "each answered once, none lost"
    assert after.answered == sorted(after.answered), "in the order they came"
    assert lot.waiting() == 0

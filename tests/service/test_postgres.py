"""The database as production runs it: PostgreSQL (and SQLite), migrations, several workers and hosts.

Every test here runs on both backends (`db_url`, tests/conftest.py); CI runs PostgreSQL too.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
from alembic import command
from sqlalchemy import inspect

from bot.bench import webhook as bench_webhook
from bot.fakes import Loopback
from bot.fakes.line import FakeLine
from bot.service import migrations
from bot.service.store import Store

TABLES = {"residents", "processed_events", "referral_log", "alembic_version"}


def test_migrations_go_up_down_and_up_again(db_url):
    migrations.upgrade(db_url)
    assert migrations.current(db_url) == migrations.head()
    store = Store(db_url)
    assert set(inspect(store.engine).get_table_names()) >= TABLES
    store.close()
    command.downgrade(migrations.config(db_url), "base")
    assert migrations.current(db_url) is None
    assert migrations.upgrade_if_behind(db_url) == migrations.head()
    assert migrations.upgrade_if_behind(db_url) is None


def test_one_event_is_first_delivered_once_under_concurrent_workers(db_url):
    """Many threads of two 'workers' (stores) claim the same event ids at once: one claim each wins."""
    migrations.upgrade(db_url)
    stores = [Store(db_url), Store(db_url)]
    wins: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def claim(n: int) -> None:
        start.wait()
        for i in range(20):
            if stores[n % 2].first_delivery(f"line:race-{i}"):
                with lock:
                    wins.append(f"line:race-{i}")

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    assert sorted(wins) == sorted(f"line:race-{i}" for i in range(20))


def test_two_hosts_on_one_database_answer_a_redelivered_event_once(db_url, engine, offline, settings_for,
                                                                   tmp_path):
    """Two servers (as on two hosts) share only the database; LINE redelivers to the other one."""
    from dataclasses import replace

    from bot.service.server import create_app

    migrations.upgrade(db_url)
    line = FakeLine()
    with Loopback(line.api()) as api:
        settings = replace(settings_for(tmp_path / "unused.db", line, api.url, None, None), database_url=db_url)
        with Loopback(create_app(settings, engine)) as host_a, Loopback(create_app(settings, engine)) as host_b:
            event = line.text("もう死にたい", event_id="01REDELIVERED0000000000000")
            assert line.send(host_a.url, event).status_code == 200
            assert line.wait_reply().tel()
            again = dict(event, replyToken="reply-token-again", deliveryContext={"isRedelivery": True})
            assert line.send(host_b.url, again).status_code == 200
            assert line.send(host_a.url, again).status_code == 200
            assert len(line.recorder.quiet("reply", 0.8)) == 1


@pytest.fixture(scope="session")
def snapshot_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("engine-cache")


def test_two_workers_behind_one_port_answer_a_redelivered_event_exactly_once(db_url, snapshot_dir, tmp_path):
    """`bot serve --workers 2`: redeliveries on fresh connections reach either worker; one reply in all.
    A worker that dies is started again and the port keeps answering."""
    line = FakeLine(secret=bench_webhook.SECRET, token=bench_webhook.TOKEN)
    with Loopback(line.api()) as api:
        with bench_webhook.bot_serve(api.url, 2, db_url, tmp_path, snapshot_dir, line_api_base=api.url) as served:
            pids = served.pids()
            assert len(pids) == 3, f"expected a supervisor and 2 workers: {pids}"
            event = line.text("借金が返せなくて死にたい", event_id="01TWOWORKERS00000000000000")
            assert line.send(served.url, event).status_code == 200
            again = [dict(event, replyToken=f"again-{n}", deliveryContext={"isRedelivery": True}) for n in range(6)]
            senders = [threading.Thread(target=line.send, args=(served.url, e)) for e in again]
            for s in senders:
                s.start()
            for s in senders:
                s.join()
            # Whichever copy comes first in its turn is answered (the original or a redelivery); once.
            assert line.wait_reply().token in {event["replyToken"], *(e["replyToken"] for e in again)}
            assert len(line.recorder.quiet("reply", 1.0)) == 1

            os.kill(pids[1], signal.SIGKILL)
            deadline = time.monotonic() + 30
            while pids[1] in served.pids() or len(served.pids()) < 3:
                assert time.monotonic() < deadline, "the dead worker was not started again"
                time.sleep(0.1)
            for _ in range(4):  # new connections: some reach the new worker once it is up
                assert httpx.get(f"{served.url}/healthz", timeout=30).status_code == 200
            assert line.send(served.url, line.text("ひきこもりの相談")).status_code == 200
            assert line.wait_reply(2, timeout=30)
        log = served.log.read_text()
    assert "借金" not in log and "U1111" not in log


def test_the_urls_platforms_hand_out_mean_psycopg():
    from bot.service.store import database_url

    assert database_url("postgres://u:p%40ss@db.example:5432/bot") == "postgresql+psycopg://u:p%40ss@db.example:5432/bot"
    assert database_url("postgresql://db/bot") == "postgresql+psycopg://db/bot"
    assert database_url("postgresql+psycopg://db/bot") == "postgresql+psycopg://db/bot"
    assert database_url("sqlite:///tsunagu.db") == "sqlite:///tsunagu.db"


def test_a_rate_limit_holds_across_workers(db_url):
    """Two workers' limiters count the same resident in the database: together they allow no more than the limit."""
    limits = pytest.importorskip("bot.service.limits")
    migrations.upgrade(db_url)
    stores = [Store(db_url), Store(db_url)]
    limiters = [limits.Limiter(s.engine, "resident", limit=10, per=60) for s in stores]
    allowed: list[bool] = []
    start = threading.Barrier(6)

    def send(n: int) -> None:
        start.wait()
        for _ in range(5):
            decision = limiters[n % 2].hit("k" * 64, now=1_000_000.0)
            allowed.append(decision.allowed)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    # Never more than the limit; a hit that reads the count after a concurrent one may be refused early.
    assert len(allowed) == 30 and 0 < allowed.count(True) <= 10
    assert not limiters[0].hit("k" * 64, now=1_000_000.0).allowed

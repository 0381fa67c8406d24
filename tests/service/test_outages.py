"""The database never holds a reply hostage: locked, stopped or hanging, 「死にたい」 gets the 24-hour lines
within 2 s on LINE and on Telegram; when it is back, service goes on as before, nothing said twice.

    SQLite locked by another process           a second process holding BEGIN EXCLUSIVE
    PostgreSQL stopped, then back              a loopback proxy in front of the test cluster resets
                                               every connection, then forwards again
    PostgreSQL hanging, then back              the same proxy holds every byte, then lets them through
    a server that accepts and never answers    a loopback TCP server with nothing behind it: an honest
                                               stand-in for a hung server (it accepts, it never speaks)
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time

import pytest
from sqlalchemy import make_url

from bot.channels import words
from bot.fakes import Loopback
from bot.service import migrations
from bot.service.server import create_app
from tests.support import FlakyTcp, eventually

HOLD_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(120)
"""


@pytest.fixture(scope="module")
def twenty_four_hour(engine) -> set[str]:
    """The numbers of the catalogue's 24-hour phone lines, as the channels show them."""
    return {words.number(s.phone) for s in engine.catalogue.services if s.always_open and s.phone}


def outage_settings(settings_for, tmp_path, platforms, database_url: str | None = None):  # noqa: ANN001, ANN201
    line, line_url, tg, tg_url = platforms
    line.reset()
    tg.reset()
    settings = settings_for(tmp_path / "bot.db", line, line_url, tg, tg_url)
    return dataclasses.replace(settings, database_url=database_url or settings.database_url, db_timeout=1.0,
                               line_push_fallback=True, api_timeout=2.0)


def crisis_answered_within_2s(bot_url: str, platforms, twenty_four_hour: set[str], user: str, chat: int) -> None:  # noqa: ANN001
    """「死にたい」 on LINE and on Telegram: the 24-hour lines, 2 s from the webhook at most."""
    line, _, tg, _ = platforms
    replies, sent = len(line.delivered()), len(tg.sent())
    started = time.monotonic()
    assert line.send(bot_url, line.text("死にたい", user=user)).status_code == 200
    reply = line.wait_reply(replies + 1, timeout=10)
    assert reply.at - started < 2.0, f"LINE answered after {reply.at - started:.2f} s"
    assert {"110", "119"} <= set(reply.tel()) and any(words.dial(n)[4:] in reply.tel() for n in twenty_four_hour)
    started = time.monotonic()
    assert tg.send(bot_url, tg.text("死にたい", chat_id=chat)).status_code == 200
    message = tg.wait_sent(sent + 1, timeout=10)
    assert message.at - started < 2.0, f"Telegram answered after {message.at - started:.2f} s"
    assert any(n in message.text for n in twenty_four_hour)


def service_resumes(bot_url: str, platforms, user: str) -> None:  # noqa: ANN001
    """The area the resident set before the outage is used again, once the database answers."""
    line, _, _, _ = platforms

    def remembered() -> bool:
        replies = len(line.delivered())
        assert line.send(bot_url, line.text("ひきこもりの相談をしたい", user=user)).status_code == 200
        return "浜松" in line.wait_reply(replies + 1, timeout=10).all_text()

    eventually(remembered, timeout=15)


def said_once_each(platforms, line_sends: int, telegram_sends: int) -> None:  # noqa: ANN001
    line, _, tg, _ = platforms
    assert len(line.recorder.quiet("reply", 0.3, ok=True)) + len(line.pushes()) == line_sends
    assert len(tg.sent()) == telegram_sends


def test_sqlite_locked_by_another_process(engine, platforms, tmp_path, offline, settings_for, twenty_four_hour):
    settings = outage_settings(settings_for, tmp_path, platforms)
    line = platforms[0]
    with Loopback(create_app(settings, engine)) as bot:
        assert line.send(bot.url, line.text("浜松市", user="Ulocked")).status_code == 200
        line.wait_reply()
        time.sleep(0.2)  # the area is written just after the reply
        holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(settings.sqlite_path)],
                                  stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout.readline().strip() == "locked"
            crisis_answered_within_2s(bot.url, platforms, twenty_four_hour, "Ulocked", 5150)
        finally:
            holder.kill()
            holder.wait()
        service_resumes(bot.url, platforms, "Ulocked")
        said_once_each(platforms, len(line.delivered()), 1)


def test_an_event_delivered_again_while_the_database_is_slow_is_answered_once(engine, platforms, tmp_path, offline,
                                                                            settings_for):
    # The first delivery is answered without the database at its 1 s deadline; the same event, delivered
    # again while the lock still holds, waits for its check-in, which finds the first one's claim.
    settings = dataclasses.replace(outage_settings(settings_for, tmp_path, platforms), db_timeout=5.0)
    line = platforms[0]
    with Loopback(create_app(settings, engine)) as bot:
        assert line.send(bot.url, line.text("こんにちは", user="Uwarm")).status_code == 200
        line.wait_reply()
        before = len(line.delivered())
        holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK.replace("time.sleep(120)", "time.sleep(2.5)"),
                                   str(settings.sqlite_path)], stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout.readline().strip() == "locked"
            event_id = "01AGAINAGAINAGAINAGAIN0001"
            first = line.text("夜眠れなくてつらい", user="Uagain", event_id=event_id)
            assert line.send(bot.url, first).status_code == 200
            line.wait_reply(before + 1, timeout=5)
            again = line.text("夜眠れなくてつらい", user="Uagain", event_id=event_id, redelivery=True)
            assert line.send(bot.url, again).status_code == 200
        finally:
            holder.wait(timeout=10)
        time.sleep(3.0)  # the redelivery's check-in, once the lock is gone
        assert len(line.recorder.quiet("reply", 0.3, ok=True)) + len(line.pushes()) == before + 1


@pytest.mark.parametrize("outage", ["refuse", "hang"])
def test_postgresql_stopped_or_hanging_then_back(outage, db_url, engine, platforms, tmp_path, offline, settings_for,
                                                 twenty_four_hour):
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only (SQLite: the test above)")
    migrations.upgrade(db_url)
    real = make_url(db_url)
    proxy = FlakyTcp((real.host or "127.0.0.1", real.port or 5432))
    settings = outage_settings(settings_for, tmp_path, platforms, proxy.url(db_url))
    line = platforms[0]
    try:
        with Loopback(create_app(settings, engine)) as bot:
            assert line.send(bot.url, line.text("浜松市", user="Upg")).status_code == 200
            line.wait_reply()
            time.sleep(0.2)
            proxy.mode = outage
            crisis_answered_within_2s(bot.url, platforms, twenty_four_hour, "Upg", 6160)
            proxy.mode = "pass"
            service_resumes(bot.url, platforms, "Upg")
            said_once_each(platforms, len(line.delivered()), 1)
    finally:
        proxy.close()


def test_a_database_that_accepts_connections_and_never_answers(engine, platforms, tmp_path, offline, settings_for,
                                                                twenty_four_hour):
    silent = FlakyTcp(None)  # accepts every connection and never sends a byte
    url = f"postgresql+psycopg://bot@127.0.0.1:{silent.port}/tsunagu"
    settings = outage_settings(settings_for, tmp_path, platforms, url)
    try:
        started = time.monotonic()
        with Loopback(create_app(settings, engine)) as bot:
            assert time.monotonic() - started < settings.db_timeout + 5, "the start waited for the database"
            crisis_answered_within_2s(bot.url, platforms, twenty_four_hour, "Uhung", 7170)
            crisis_answered_within_2s(bot.url, platforms, twenty_four_hour, "Uhung2", 7171)
    finally:
        silent.close()

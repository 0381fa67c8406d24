"""When things fail: the platforms' APIs, the database, the catalogue, one event of many.

The fakes fail on demand (bot.fakes.Faults); the bot runs as it does in production,
with the real SDKs over HTTP on 127.0.0.1.  What is asserted is what a resident sees:
exactly one answer, and the 24-hour lines when they are needed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, select

from bot.channels import words
from bot.fakes import Loopback
from bot.fakes.line import FakeLine
from bot.fakes.telegram import FakeTelegram
from bot.service.server import create_app
from bot.service.store import ReferralLog, Store
from tests.support import ROOT, World, eventually, fresh_world


@pytest.fixture(scope="module")
def twenty_four_hour(engine) -> set[str]:
    """tel: URIs of the catalogue's 24-hour phone lines."""
    return {words.dial(s.phone) for s in engine.catalogue.services if s.always_open and s.phone}


@pytest.fixture(scope="module")
def fault_server(engine, platforms, tmp_path_factory) -> Iterator[tuple[str, object]]:
    """A bot server of its own (its database is broken on purpose), with short timeouts and push fallback."""
    from tests.support import server_settings

    line, line_url, tg, tg_url = platforms
    base = server_settings(tmp_path_factory.mktemp("faults") / "bot.db", line, line_url, tg, tg_url)
    settings = dataclasses.replace(base, api_timeout=1.0, api_retry_seconds=0.05, line_push_fallback=True,
                                   db_timeout=0.5)
    with Loopback(create_app(settings, engine)) as bot:
        yield bot.url, settings


@pytest.fixture
def faulty(fault_server, platforms, offline) -> World:
    return fresh_world(fault_server, platforms)


def log_rows(world: World) -> list[ReferralLog]:
    store = Store(world.settings.database_url)
    try:
        with Session(store.engine) as s:
            return list(s.exec(select(ReferralLog)))
    finally:
        store.close()


# LINE: the reply API fails


def test_a_500_on_the_first_reply_attempt_still_gives_exactly_one_reply(world, twenty_four_hour):
    world.line.faults.add("reply", status=500)
    event = world.line.text("死にたい")
    assert world.line.send(world.url, event).status_code == 200
    reply = world.line.wait_reply()
    assert reply.token == event["replyToken"] and reply.actions()[0]["uri"] in twenty_four_hour
    assert [c.status for c in world.line.recorder.quiet("reply", 0.5)] == [500, 200]
    assert len(world.line.delivered()) == 1


def test_a_reply_that_timed_out_but_arrived_is_not_sent_again(faulty):
    faulty.line.faults.add("reply", delay=1.5)  # past API_TIMEOUT_SECONDS=1; LINE still takes it
    assert faulty.line.send(faulty.url, faulty.line.text("死にたい")).status_code == 200
    faulty.line.recorder.wait("reply", 2, timeout=10)  # the late success, then the retry LINE refuses
    calls = faulty.line.recorder.quiet("reply", 0.5)
    assert sorted(c.status for c in calls) == [200, 400]
    assert faulty.line.recorder.calls("push") == []
    assert len(faulty.line.delivered()) == 1


def test_an_expired_reply_token_falls_back_to_one_push(faulty, twenty_four_hour):
    faulty.line.faults.add("reply", status=400, message="Invalid reply token")
    assert faulty.line.send(faulty.url, faulty.line.text("死にたい", user="Uexpired")).status_code == 200
    faulty.line.recorder.wait("push", ok=True)
    delivered = faulty.line.delivered()
    assert len(faulty.line.recorder.quiet("push", 0.3)) == 1 and len(delivered) == 1
    assert delivered[0].token == "Uexpired" and delivered[0].actions()[0]["uri"] in twenty_four_hour


def test_line_down_for_every_reply_attempt_pushes_once_and_a_failed_push_is_retried_with_the_same_key(faulty):
    faulty.line.faults.add("reply", status=503, times=3)
    faulty.line.faults.add("push", status=500)
    assert faulty.line.send(faulty.url, faulty.line.text("死にたい")).status_code == 200
    faulty.line.recorder.wait("push", ok=True, timeout=10)
    pushes = faulty.line.recorder.quiet("push", 0.3)
    assert [c.status for c in pushes] == [500, 200]
    assert len({c.headers["x-line-retry-key"] for c in pushes}) == 1
    assert len(faulty.line.delivered()) == 1


def test_a_reply_line_refuses_as_invalid_is_sent_again_as_plain_text(faulty, twenty_four_hour):
    faulty.line.faults.add("reply", status=400, message="The request body has errors")
    assert faulty.line.send(faulty.url, faulty.line.text("死にたい")).status_code == 200
    reply = faulty.line.wait_reply()
    assert [m["type"] for m in reply.messages] == ["text"]
    numbers = {uri[4:] for uri in twenty_four_hour}
    assert any(n in reply.all_text() for n in numbers)
    assert len(faulty.line.delivered()) == 1


def test_failures_are_logged_without_text_or_ids(faulty, caplog):
    caplog.set_level("DEBUG")
    faulty.line.faults.add("reply", status=500, times=3)
    faulty.line.faults.add("push", status=500, times=3)
    assert faulty.line.send(faulty.url, faulty.line.text("借金で死にたい", user="Usecretuser")).status_code == 200
    faulty.line.recorder.wait("push", 3, timeout=10)
    deadline = time.monotonic() + 5
    while "push not delivered" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "HTTP 500" in caplog.text and "push not delivered" in caplog.text
    assert "借金" not in caplog.text and "Usecretuser" not in caplog.text and faulty.line.token not in caplog.text


# Telegram: the Bot API fails


def test_telegram_flood_control_is_waited_out_and_answered_once(world):
    world.telegram.faults.add("sendMessage", status=429, retry_after=1)
    sent = world.telegram_says("死にたい")
    assert "110" in sent.text
    assert [c.status for c in world.telegram.recorder.quiet("sendMessage", 0.5)] == [429, 200]


def test_a_telegram_500_is_retried_once_answered(world):
    world.telegram.faults.add("sendMessage", status=500, times=2)
    assert world.telegram_says("死にたい").text
    assert [c.status for c in world.telegram.recorder.quiet("sendMessage", 0.5)] == [500, 500, 200]


def test_a_telegram_call_that_timed_out_waiting_is_not_repeated(faulty):
    faulty.telegram.faults.add("sendMessage", delay=1.5)  # past API_TIMEOUT_SECONDS=1; Telegram still sends it
    assert faulty.telegram.send(faulty.url, faulty.telegram.text("死にたい")).status_code == 200
    faulty.telegram.wait_sent(timeout=10)
    assert len(faulty.telegram.recorder.quiet("sendMessage", 1.0)) == 1


# One event of many


def test_a_slow_or_failing_event_holds_up_no_other_in_the_same_body(world):
    line = world.line
    slow, failing, fine = line.text("死にたい", "Uslow"), line.text("死にたい", "Ufail"), line.text("死にたい", "Ufine")
    line.faults.add("reply", delay=1.5, when=lambda p: p["replyToken"] == slow["replyToken"])
    line.faults.add("reply", status=403, times=-1, when=lambda p: p["replyToken"] == failing["replyToken"])
    assert line.send(world.url, slow, failing, fine, {"type": "nonsense"}, 42).status_code == 200
    line.wait_reply(2, timeout=10)
    tokens = [r.token for r in line.replies()]
    assert tokens == [fine["replyToken"], slow["replyToken"]], "the fine event was answered first"


# The database fails


@contextlib.contextmanager
def read_only(db: Path) -> Iterator[None]:
    """The database file and its write-ahead log made read-only, as root too (chattr +i).

    (Not the -shm index: SQLite maps it into memory, and a mapping it cannot grow ends the process.)
    """
    files = [p for p in (db, db.with_name(db.name + "-wal")) if p.is_file()]
    modes = {p: p.stat().st_mode for p in files}
    immutable: list[Path] = []
    try:
        for p in files:
            p.chmod(0o444)
        if os.geteuid() == 0:
            for p in files:
                if subprocess.run(["chattr", "+i", str(p)], capture_output=True).returncode != 0:
                    pytest.skip("running as root on a filesystem without chattr +i: cannot make a file read-only")
                immutable.append(p)
        yield
    finally:
        for p in immutable:
            subprocess.run(["chattr", "-i", str(p)], check=True)
        for p, mode in modes.items():
            p.chmod(mode)


def test_with_the_database_read_only_a_crisis_still_gets_the_24_hour_lines(faulty, twenty_four_hour, caplog):
    caplog.set_level("WARNING")
    faulty.line_says("浜松市", user="Uro")  # a resident with an area: the database is in use
    with read_only(faulty.settings.sqlite_path):
        reply = faulty.line_says("死にたい", user="Uro")
        assert reply.actions()[0]["uri"] in twenty_four_hour
        assert {"110", "119"} <= set(reply.tel())
        assert "database: event id not done" in caplog.text or "database:" in caplog.text
        assert faulty.telegram_says("死にたい", chat_id=606).text  # Telegram too
    assert "死にたい" not in caplog.text
    time.sleep(faulty.settings.db_timeout)  # the pause after a failure, then the database is tried again
    reply = faulty.line_says("息子がひきこもりで悩んでいる", user="Uro")
    assert "ひきこもり" in reply.all_text()
    rows = eventually(lambda: [log_rows(faulty)][-1] if len(log_rows(faulty)) == 4 else None)
    assert len(rows) == 4, "rows that waited in memory were written once the database was back"
    assert sum(r.crisis for r in rows) == 2


def test_with_the_database_locked_the_reply_goes_out_and_the_next_event_works(faulty, twenty_four_hour):
    import sqlite3

    faulty.line_says("こんにちは", user="Ulock")
    holder = sqlite3.connect(faulty.settings.sqlite_path, timeout=0.1)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("INSERT INTO referral_log (at, channel, intents, area, crisis) "
                       "VALUES ('2020-01-01 00:00:00', 'x', '', NULL, 0)")
        assert faulty.line.send(faulty.url, faulty.line.text("死にたい", "Ulock")).status_code == 200
        assert faulty.line.wait_reply(2, timeout=15).actions()[0]["uri"] in twenty_four_hour
    finally:
        holder.rollback()
        holder.close()
    time.sleep(faulty.settings.db_timeout)
    assert faulty.line_says("死にたい", user="Ulock").tel()
    eventually(lambda: len(log_rows(faulty)) == 3)


def test_a_server_started_without_its_database_still_answers(engine, platforms, tmp_path, offline, settings_for,
                                                             twenty_four_hour):
    line, line_url, _, _ = platforms
    line.reset()
    missing = tmp_path / "no-such-dir" / "deeper"
    settings = settings_for(missing / "bot.db", line, line_url, None, None)
    with Loopback(create_app(dataclasses.replace(settings, hash_key="k", db_timeout=0.5), engine)) as bot:
        assert line.send(bot.url, line.text("死にたい")).status_code == 200
        assert line.wait_reply(timeout=10).actions()[0]["uri"] in twenty_four_hour


# The catalogue changes while the server runs


def _rename_first_line(path: Path, text: str, reply_tel: str, engine) -> str:  # noqa: ANN001
    """Write `text` with the entry behind a tel: button renamed; the new name."""
    service = next(s for s in engine.catalogue.services if s.phone and words.dial(s.phone) == reply_tel)
    new = f"{service.name}（改訂）"
    text = text.replace(f"\n  name: {service.name}\n", f"\n  name: {new}\n", 1)
    assert new in text
    path.write_text(text)
    return new


@pytest.fixture(scope="module")
def own_catalogue(tmp_path_factory):  # noqa: ANN201
    from bot.engine import Engine

    path = tmp_path_factory.mktemp("catalogue") / "services.yaml"
    shutil.copy(ROOT / "services.yaml", path)
    return path, Engine.load(path)


def test_the_catalogue_is_reloaded_under_load_and_a_broken_file_is_refused(own_catalogue, platforms, tmp_path,
                                                                         offline, settings_for, caplog):
    caplog.set_level("INFO")
    path, engine = own_catalogue
    line, line_url, _, _ = platforms
    line.reset()
    settings = dataclasses.replace(settings_for(tmp_path / "bot.db", line, line_url, None, None),
                                   catalogue_poll_seconds=0.05, rate_limit=0)
    good = path.read_text()
    with Loopback(create_app(settings, engine)) as bot:
        first = line_says(line, bot.url, "死にたい")
        version = engine.catalogue.version
        sent, stop = [0], threading.Event()

        def residents_keep_writing() -> None:
            while not stop.is_set():
                assert line.send(bot.url, line.text("死にたい", user=f"U{sent[0]:04d}")).status_code == 200
                sent[0] += 1

        writer = threading.Thread(target=residents_keep_writing)
        writer.start()
        try:
            path.write_text(good.replace('phone: "110"', 'phone: "not a number"', 1))
            deadline = time.monotonic() + 10
            while "refused" not in caplog.text and time.monotonic() < deadline:
                time.sleep(0.05)
            assert engine.catalogue.version == version, "the last good catalogue stays in service"
            new_name = _rename_first_line(path, good, first.actions()[0]["uri"], engine)
            while engine.catalogue.version == version and time.monotonic() < deadline + 10:
                time.sleep(0.05)
        finally:
            stop.set()
            writer.join()
        assert engine.catalogue.version != version
        line.wait_reply(sent[0] + 1, timeout=20)  # every message sent during the reloads was answered
        assert len(line.recorder.quiet("reply", 0.3)) == sent[0] + 1
        assert new_name in json.dumps(line_says(line, bot.url, "死にたい").messages, ensure_ascii=False)
        metrics = httpx.get(f"{bot.url}/metrics").text
    problems = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert any(f"{path.name}:" in p and any(ch.isdigit() for ch in p.split(f"{path.name}:")[1][:6])
               for p in problems), problems
    assert f'tsunagu_catalogue_info{{version="{engine.catalogue.version}"}} 1.0' in metrics
    assert 'tsunagu_catalogue_reloads_total{result="refused"}' in metrics
    path.write_text(good)


def line_says(line: FakeLine, url: str, text: str):  # noqa: ANN201
    n = len(line.recorder.calls("reply", ok=True)) + 1
    assert line.send(url, line.text(text)).status_code == 200
    return line.wait_reply(n)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sighup_reloads_the_catalogue_of_a_running_bot_serve(tmp_path, engine, offline):
    path = tmp_path / "services.yaml"
    shutil.copy(ROOT / "services.yaml", path)
    tg = FakeTelegram()
    port = _free_port()
    with Loopback(tg.api()) as tg_api:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LINE_", "TELEGRAM_", "TSUNAGU_"))}
        env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'bot.db'}", CATALOGUE_PATH=str(path),
                   TSUNAGU_CACHE_DIR=str(tmp_path / "cache"),
                   CATALOGUE_POLL_SECONDS="0", TELEGRAM_BOT_TOKEN=tg.token, TELEGRAM_WEBHOOK_SECRET=tg.secret,
                   TELEGRAM_API_BASE=tg_api.url)
        url = f"http://127.0.0.1:{port}"
        with open(tmp_path / "serve.log", "w") as out:
            process = subprocess.Popen([sys.executable, "-m", "bot.cli.server", "serve", "--port", str(port)],
                                       env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, (tmp_path / "serve.log").read_text()
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                assert time.monotonic() < deadline, "bot serve did not become healthy"
                time.sleep(0.1)
            assert tg.send(url, tg.text("死にたい")).status_code == 200
            before = tg.wait_sent(timeout=10).text
            service = next(s for s in engine.catalogue.services
                           if s.always_open and s.phone and s.name in before and "emergency" not in s.intents)
            text = path.read_text().replace(f"\n  name: {service.name}\n", f"\n  name: {service.name}（改訂）\n", 1)
            path.write_text(text.replace('phone: "110"', "phone: [", 1))  # broken first
            process.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 10
            while "refused" not in (tmp_path / "serve.log").read_text() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert tg.send(url, tg.text("死にたい")).status_code == 200
            assert "（改訂）" not in tg.wait_sent(2, timeout=10).text
            path.write_text(text)
            process.send_signal(signal.SIGHUP)
            while "SIGHUP; serving version" not in (tmp_path / "serve.log").read_text() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert tg.send(url, tg.text("死にたい")).status_code == 200
            assert f"{service.name}（改訂）" in tg.wait_sent(3, timeout=10).text
            assert process.poll() is None
        finally:
            process.terminate()
            process.wait(timeout=10)
    log = (tmp_path / "serve.log").read_text()
    entries = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert any("services.yaml:" in e["message"] and e["level"] == "ERROR" for e in entries), log
    assert "死にたい" not in log and tg.token not in log

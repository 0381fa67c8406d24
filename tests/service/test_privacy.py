"""Keeping as little as possible: forget, retention, stored messages, key rotation, the notice."""

from __future__ import annotations

import dataclasses
import time
from datetime import timedelta

import pytest
from sqlalchemy import inspect, text
from sqlmodel import Session, select

from bot.channels import words
from bot.cli import server as cli_server
from bot.fakes import Loopback
from bot.service import migrations
from bot.service.desk import Desk
from bot.service.privacy import Hasher, load_key
from bot.service.server import create_app
from bot.service.store import ReferralLog, Resident, Store, StoredMessage, bucket, utcnow
from tests.support import eventually

ROOT_TABLES = ("residents", "messages", "rate_hits", "referral_log", "processed_events")


def every_row(url: str) -> list[str]:
    """Every row of every table, as text, for 'nothing of them remains' checks."""
    store = Store(url)
    try:
        with store.engine.connect() as conn:
            rows = []
            for table in inspect(conn).get_table_names():
                rows += [f"{table}: {tuple(r)}" for r in conn.execute(text(f'SELECT * FROM "{table}"'))]
            return rows
    finally:
        store.close()


def traces(world, channel: str, user: str) -> list[str]:
    """Rows holding anything derived from the resident: their key, its rate-limit buckets, the raw id."""
    key = Hasher(world.settings.hash_key.encode()).resident(channel, user)
    marks = [key, user, *(bucket(name, key) for name in ("resident", "resident-warned"))]
    return [row for row in every_row(world.settings.database_url) if any(m in row for m in marks)]


# Forgetting


def test_after_forget_on_line_the_database_holds_no_row_for_that_resident(world):
    world.line_says("浜松市", user="Uforget")
    world.line_event(world.line.location(34.71, 137.72, user="Uforget"))
    world.line_says("死にたい", user="Uforget")
    assert traces(world, "line", "Uforget"), "the resident was remembered"
    reply = world.line_says("/forget", user="Uforget")
    assert reply.all_text() == words.t("ja", "chat.forgotten")
    assert traces(world, "line", "Uforget") == []
    assert len(world.line_says("死にたい", user="Uother").tel()) > 0  # others unaffected


def test_after_forget_on_telegram_the_database_holds_no_row_for_that_resident(world):
    world.telegram_says("/area 浜松市", chat_id=5150)
    world.telegram_says("死にたい", chat_id=5150)
    assert traces(world, "telegram", "5150")
    assert world.telegram_says("/forget", chat_id=5150).text == words.t("ja", "chat.forgotten")
    assert traces(world, "telegram", "5150") == []


def test_unfollow_deletes_everything_linked(world):
    world.line_says("浜松市", user="Ublock")
    assert world.line.send(world.url, world.line.unfollow("Ublock")).status_code == 200
    deadline = time.monotonic() + 5
    while traces(world, "line", "Ublock") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert traces(world, "line", "Ublock") == []


def test_bot_forget_deletes_a_resident_by_platform_id(world, monkeypatch, capsys):
    world.line_says("浜松市", user="Ucli")
    key = Hasher(world.settings.hash_key.encode()).resident("line", "Ucli")
    eventually(lambda: Store(world.settings.database_url).resident(key))  # written just after the reply
    monkeypatch.setenv("DATABASE_URL", world.settings.database_url)
    monkeypatch.setenv("TSUNAGU_HASH_KEY", world.settings.hash_key)
    assert cli_server.main(["forget", "--channel", "line", "--user", "Ucli"]) == 0
    assert "1 residents" in capsys.readouterr().out
    assert traces(world, "line", "Ucli") == []


# What is stored, and for how long


def test_messages_are_stored_only_with_store_messages_and_forget_deletes_them(engine, platforms, tmp_path, offline,
                                                                          settings_for):
    line, line_url, _, _ = platforms
    line.reset()
    settings = dataclasses.replace(settings_for(tmp_path / "bot.db", line, line_url, None, None),
                                   store_messages=True, store_messages_days=7)
    with Loopback(create_app(settings, engine)) as bot:
        line.send(bot.url, line.follow("Ukeep"))
        notice = line.wait_reply().messages[1]["text"]
        assert "7日間" in notice and words.t("ja", "privacy.kept_nothing") not in notice
        line.send(bot.url, line.text("借金が返せない", user="Ukeep"))
        line.wait_reply(2)
        store = Store(settings.database_url)

        def kept() -> list[StoredMessage]:
            with Session(store.engine) as s:
                return list(s.exec(select(StoredMessage)))

        assert [m.text for m in eventually(kept)] == ["借金が返せない"]
        line.send(bot.url, line.text("/forget", user="Ukeep"))
        line.wait_reply(3)
        with Session(store.engine) as s:
            assert list(s.exec(select(StoredMessage))) == []
        store.close()


def test_without_store_messages_the_notice_says_nothing_is_kept_and_no_text_is_written(world):
    reply = world.line_event(world.line.follow("Unotice"))
    notice = reply.messages[1]["text"]
    assert words.t("ja", "privacy.kept_nothing") in notice and "/forget" in notice
    world.line_says("借金が返せない", user="Unotice")
    assert not any("借金" in row for row in every_row(world.settings.database_url))
    sent = world.telegram_says("/start", chat_id=8080)
    assert "I do not keep" in words.privacy("en") and words.t("ja", "privacy.kept_nothing") in sent.text


def test_purge_removes_what_is_past_keeping_and_keeps_the_rest(tmp_path):
    url = f"sqlite:///{tmp_path / 'p.db'}"
    migrations.upgrade(url)
    store = Store(url)
    old = utcnow() - timedelta(days=400)
    with Session(store.engine) as s:
        s.add(ReferralLog(at=old, channel="line", intents="x"))
        s.add(ReferralLog(channel="line", intents="y"))
        s.add(Resident(key="a" * 64, channel="line", last_seen=old))
        s.add(Resident(key="b" * 64, channel="line"))
        s.add(StoredMessage(resident="b" * 64, channel="line", text="old", at=utcnow() - timedelta(days=31)))
        s.add(StoredMessage(resident="b" * 64, channel="line", text="new"))
        s.commit()
    assert store.first_delivery("line:expired", ttl=timedelta(seconds=-1))
    gone = store.purge(timedelta(days=365), timedelta(days=30))
    assert gone == {"referral_log": 1, "residents": 1, "messages": 1, "processed_events": 1, "rate_hits": 0,
                    "questions_asked": 0,
                    "parked_events": 0}
    assert [r.intents for r in store.recent_log()] == ["y"]
    assert store.purge(timedelta(days=365), None)["messages"] == 1, "STORE_MESSAGES off: none are kept"
    store.close()


def test_bot_purge_runs_with_the_settings(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'p.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("RETENTION_DAYS", "1")
    assert cli_server.main(["purge"]) == 0
    assert "purged: 0 referral_log" in capsys.readouterr().out


# Keys


def test_a_rotated_key_moves_a_resident_on_their_next_message(tmp_path, engine):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    migrations.upgrade(url)
    store = Store(url)
    before = Desk(engine, store, load_key("old key", None)[0])
    before.set_area("line", before.key("line", "Urotate"), "浜松市")
    after = Desk(engine, store, load_key("new key", None, ("old key",))[0])
    key = after.key("line", "Urotate")
    assert after.context(key).area is not None, "the area followed the resident to the new key"
    with Session(store.engine) as s:
        assert [r.key for r in s.exec(select(Resident))] == [key]
    store.close()


def test_the_hash_key_never_shows_in_a_repr():
    hasher, _ = load_key("very secret key", None, ("older secret",))
    assert "secret" not in repr(hasher)


@pytest.mark.parametrize("table", ROOT_TABLES)
def test_no_table_has_a_column_for_a_raw_id(tmp_path, table):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    migrations.upgrade(url)
    columns = {c["name"] for c in inspect(Store(url).engine).get_columns(table)}
    assert not columns & {"user_id", "chat_id", "platform_id", "user", "ip"}

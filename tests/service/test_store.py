"""The server's memory: keyed residents, redelivery ids, an anonymous log; schema by alembic."""

from __future__ import annotations

import os
import stat
import time
from datetime import timedelta

import pytest
from sqlalchemy import inspect

from bot.service import migrations
from bot.service.privacy import load_key
from bot.service.settings import Settings
from bot.service.store import Store


@pytest.fixture
def url(db_url) -> str:  # SQLite and PostgreSQL (tests/conftest.py)
    migrations.upgrade(db_url)
    return db_url


@pytest.fixture
def store(url):
    s = Store(url)
    yield s
    s.close()


def test_upgrade_creates_the_schema_and_is_idempotent(url):
    assert migrations.current(url) == migrations.head() == migrations.HEAD, "HEAD names the newest migration"
    assert migrations.upgrade_if_behind(url) is None
    tables = set(inspect(Store(url).engine).get_table_names())
    assert {"residents", "processed_events", "referral_log", "alembic_version"} <= tables


def test_the_console_tables_are_made_by_the_migrations_as_its_models_describe_them(url):
    from bot.console.models import TABLES

    found = inspect(Store(url).engine)
    for table in TABLES:
        assert {c["name"] for c in found.get_columns(table.name)} == {c.name for c in table.columns}, table.name
        assert {i["name"] for i in found.get_indexes(table.name)} == {i.name for i in table.indexes}, table.name


def test_a_fresh_database_is_brought_to_head(tmp_path):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    assert migrations.upgrade_if_behind(url) == migrations.head()


def test_an_event_is_first_delivered_once_even_across_stores(url, store):
    other_worker = Store(url)
    assert store.first_delivery("line:01ABC")
    assert not store.first_delivery("line:01ABC")
    assert not other_worker.first_delivery("line:01ABC")
    assert other_worker.first_delivery("line:01ABD")


def test_expired_event_ids_are_purged_off_the_reply_path(store):
    assert store.first_delivery("telegram:1", ttl=timedelta(seconds=-1))
    assert not store.first_delivery("telegram:1"), "claiming an id deletes nothing on the way"
    store.later("telegram", None, [], None, False)  # the writer's first round deletes expired ids
    deadline = time.monotonic() + 5
    while not store.first_delivery("telegram:1"):
        assert time.monotonic() < deadline, "the writer did not delete the expired event id"
        time.sleep(0.02)


def test_a_resident_is_remembered_by_key_with_a_rounded_location(store):
    store.remember("k" * 64, "line", area="221309", lat=34.71234, lon=137.72589, lang="en")
    row = store.resident("k" * 64)
    assert (row.area, row.lat, row.lon, row.lang) == ("221309", 34.71, 137.73, "en")
    assert store.forget("k" * 64)["residents"] == 1
    assert store.resident("k" * 64) is None
    assert not any(store.forget("k" * 64).values())


def test_the_log_holds_no_text_and_no_id(store):
    store.log("telegram", ["suicide_risk", "financial_hardship"], "13", True)
    row = store.recent_log()[0]
    assert (row.channel, row.intents, row.area, row.crisis) == ("telegram", "suicide_risk,financial_hardship", "13", True)
    assert set(row.model_dump()) == {"id", "at", "channel", "intents", "area", "crisis"}


def test_keyed_hashes_differ_by_channel_and_key(tmp_path):
    hasher, _ = load_key("one key", None)
    other, _ = load_key("another key", None)
    assert hasher.resident("line", "U1") == hasher.resident("line", "U1")
    assert hasher.resident("line", "U1") != hasher.resident("telegram", "U1")
    assert hasher.resident("line", "U1") != other.resident("line", "U1")
    assert "U1" not in hasher.resident("line", "U1")


def test_without_a_key_one_is_generated_beside_the_database_with_0600(tmp_path):
    db = tmp_path / "bot.db"
    hasher, said = load_key(None, db)
    key_file = tmp_path / "bot.hashkey"
    assert "generated" in said and str(key_file) in said
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    again, said_again = load_key(None, db)
    assert again == hasher and "generated" not in said_again


def test_settings_from_the_environment():
    s = Settings.from_env({"PORT": "9000", "LINE_CHANNEL_SECRET": "s", "LINE_CHANNEL_ACCESS_TOKEN": "t",
                           "TELEGRAM_BOT_TOKEN": "1:x", "TELEGRAM_API_BASE": "http://127.0.0.1:1/"})
    assert s.port == 9000 and s.line_on and not s.telegram_on
    assert s.telegram_api_base == "http://127.0.0.1:1"
    assert s.line_data_api_base == "https://api-data.line.me"
    assert s.problems() == ["Telegram is off: TELEGRAM_WEBHOOK_SECRET not set"]
    assert Settings.from_env({}).sqlite_path.name == "tsunagu.db"
    assert Settings.from_env({"DATABASE_URL": "postgresql://h/db"}).sqlite_path is None


def test_the_residents_table_matches_its_model_after_the_migrations(url):
    from bot.service.store import RESIDENTS

    found = {c["name"]: c for c in inspect(Store(url).engine).get_columns("residents")}
    assert set(found) == {c.name for c in RESIDENTS.columns}
    assert found["lang"]["type"].length >= len("ja-easy")


def test_a_residents_language_and_the_question_asked_are_remembered_and_cleared(url, store):
    from datetime import UTC, datetime

    store.remember("k1", "line", lang="ja-easy")
    asked_at = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
    store.record("line", "k1", ["mental_health"], None, False,
                 resident={"last_lang": "vi", "asked": "suicide_check", "asked_at": asked_at})
    row = store.resident("k1")
    assert (row.lang, row.last_lang, row.asked) == ("ja-easy", "vi", "suicide_check")
    assert row.asked_at.replace(tzinfo=row.asked_at.tzinfo or UTC) == asked_at
    store.record("line", "k1", ["suicide_risk"], None, True, resident={"last_lang": "vi", "asked": None,
                                                                       "asked_at": None})
    row = store.resident("k1")
    assert row.asked is None and row.asked_at is None and row.lang == "ja-easy"


def test_the_migration_down_and_up_again_keeps_residents(url):
    from sqlalchemy import text

    store = Store(url)
    store.remember("k2", "telegram", lang="en", area="221309")
    store.remember("k3", "telegram", lang="ja-easy")
    from alembic import command

    command.downgrade(migrations.config(url), "0003")
    with store.engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT key, lang FROM residents")).all())
    assert rows == {"k2": "en", "k3": None}
    migrations.upgrade(url)
    assert store.resident("k2").area == "221309"
    store.close()

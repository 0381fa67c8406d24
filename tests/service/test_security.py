"""Nobody in where they do not belong: signatures, secrets, size caps, rate limits."""

from __future__ import annotations

import inspect
import logging
import time

import httpx
import pytest

from bot.channels import line as line_channel
from bot.channels import telegram as telegram_channel
from bot.channels import words
from bot.service import limits, logs
from bot.service.limits import Limiter
from bot.service.settings import Settings
from bot.service.store import make_engine


def test_unsigned_requests_learn_nothing(world):
    answers = set()
    for signature in ["", "bad", "x" * 5000]:
        for body in [b"{}", b"not json", world.line.text("死にたい").__repr__().encode()]:
            r = world.line.send(world.url, body=body, signature=signature)
            answers.add((r.status_code, r.content))
    assert answers == {(400, b"")}, "missing, wrong and malformed look the same"
    for secret in ["", "wrong"]:
        r = world.telegram.send(world.url, body=b"{}", secret=secret)
        assert (r.status_code, r.content) == (403, b"")
    assert world.line.recorder.calls() == [] and world.telegram.recorder.quiet("sendMessage", 0.2) == []


def test_signatures_and_secrets_are_compared_in_constant_time():
    assert "hmac.compare_digest" in inspect.getsource(line_channel.LineChannel.signed)
    assert "hmac.compare_digest" in inspect.getsource(telegram_channel.TelegramChannel.receive)


def test_a_body_over_the_cap_is_refused_unread_and_a_100_kb_message_is_answered(world):
    huge = b'{"events": []}' + b" " * 1_100_000
    assert world.line.send(world.url, body=huge).status_code == 413
    assert world.telegram.send(world.url, body=huge).status_code == 413
    reply = world.line_says("死にたい" + "あ" * 100_000)  # about 300 KB of JSON: within the cap
    assert {"110", "119"} <= set(reply.tel())
    assert world.telegram_says("ひきこもり" + "い" * 100_000).text


def test_a_resident_over_the_rate_limit_gets_one_kind_word_and_a_crisis_is_always_answered(world):
    left = 60 - time.time() % 60
    if left < 25:  # all 23 messages inside one minute window of the limiter, whatever the clock says
        time.sleep(left + 0.1)
    for n in range(20):
        assert world.line_says(f"ひきこもり {n}", user="Uflood").messages
    slow = world.line_says("ひきこもり", user="Uflood")
    assert slow.all_text() == words.t("ja", "chat.slow_down")
    assert "24時間の窓口" in slow.quick_labels()
    assert world.line.send(world.url, world.line.text("ひきこもり", user="Uflood")).status_code == 200
    crisis = world.line_says("死にたい", user="Uflood")  # past the limit, and answered in full
    assert {"110", "119"} <= set(crisis.tel())
    replies = world.line.recorder.quiet("reply", 0.3)
    assert len(replies) == 22, "the second message over the limit got no reply"
    assert world.line_says("ひきこもり", user="Uneighbour").messages, "others are not limited"


def test_the_limiter_counts_across_workers_and_resets(tmp_path):
    from bot.service import migrations

    url = f"sqlite:///{tmp_path / 'l.db'}"
    migrations.upgrade(url)
    one, other = Limiter(make_engine(url), "login", 3, 60), Limiter(make_engine(url), "login", 3, 60)
    decisions = [(one if n % 2 else other).hit("203.0.113.9", now=1000.0) for n in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert decisions[-1].retry_after > 0
    assert other.hit("198.51.100.1", now=1000.0).allowed, "another address has its own count"
    assert not one.peek("203.0.113.9", now=1000.0).allowed
    assert one.peek("203.0.113.9", now=1200.0).allowed, "two windows later it is forgotten"
    one.reset("203.0.113.9")
    assert one.hit("203.0.113.9", now=1000.0).allowed
    with pytest.raises(ValueError):
        Limiter(make_engine(url), "x", 0)
    assert "203.0.113.9" not in str(limits.bucket("login", "203.0.113.9"))


def test_secrets_never_show_in_settings_or_logs(world, caplog):
    caplog.set_level("DEBUG")
    settings = world.settings
    shown = repr(Settings(**{**settings.__dict__, "database_url": "postgresql://bot:pw123@db/x",
                             "metrics_token": "metrics-secret"}))
    for secret in (settings.line_channel_secret, settings.telegram_bot_token, settings.hash_key, "pw123",
                   "metrics-secret"):
        assert secret not in shown
    world.line_says("死にたい")
    world.telegram_says("死にたい")
    world.line.send(world.url, body=b"{}", signature="forged")
    for secret in (world.line.secret, world.line.token, world.telegram.token, world.telegram.secret,
                   settings.hash_key):
        assert secret not in caplog.text


def test_json_logs_blank_ids_and_tokens_and_leave_out_tracebacks():
    formatter = logs.JsonFormatter()
    try:
        raise ValueError("借金 U0123456789abcdef0123456789abcdef")
    except ValueError:
        record = logging.LogRecord("bot.x", logging.ERROR, __file__, 1,
                                   "user U0123456789abcdef0123456789abcdef token 123456:%s bearer abc.def",
                                   ("A" * 35,), exc_info=True)
        import sys

        record.exc_info = sys.exc_info()
    line = formatter.format(record)
    assert "U0123456789abcdef" not in line and "A" * 35 not in line and "abc.def" not in line
    assert "借金" not in line and '"error": "ValueError"' in line


def test_metrics_can_want_a_token(engine, tmp_path, offline, settings_for):
    from bot.fakes import Loopback
    from bot.service.server import create_app

    settings = Settings(**{**settings_for(tmp_path / "m.db", None, None, None, None).__dict__,
                           "metrics_token": "scrape-me"})
    with Loopback(create_app(settings, engine)) as bot:
        assert httpx.get(f"{bot.url}/metrics").status_code == 401
        assert httpx.get(f"{bot.url}/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
        ok = httpx.get(f"{bot.url}/metrics", headers={"Authorization": "Bearer scrape-me"})
        assert ok.status_code == 200 and "tsunagu_catalogue_info" in ok.text

"""The server as operators run it: settings from the environment, `bot serve`, the CLI tools."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.channels.telegram import TelegramChannel
from bot.cli import server as cli_server
from bot.fakes import Loopback
from bot.fakes.line import FakeLine
from bot.fakes.telegram import FakeTelegram
from bot.service import migrations
from bot.service.desk import Desk
from bot.service.privacy import Hasher
from bot.service.server import create_app
from bot.service.store import Store
from tests.support import ROOT


def test_healthz_says_which_channels_are_on(world):
    response = httpx.get(f"{world.url}/healthz")
    assert response.status_code == 200
    assert response.json() == {"ok": True, "channels": {"line": True, "telegram": True}}


def test_a_channel_without_settings_is_off_and_the_server_still_runs(engine, tmp_path, offline, caplog,
                                                                    settings_for):
    caplog.set_level("WARNING", logger="bot.server")
    line = FakeLine()
    with Loopback(line.api()) as line_api:
        settings = settings_for(tmp_path / "bot.db", line, line_api.url, None, None)
        with Loopback(create_app(settings, engine)) as bot:
            assert httpx.get(f"{bot.url}/healthz").json()["channels"] == {"line": True, "telegram": False}
            assert httpx.post(f"{bot.url}/webhooks/telegram", json={}).status_code == 404
            assert line.send(bot.url, line.text("死にたい")).status_code == 200
            assert line.wait_reply().tel()
    assert "Telegram is off: TELEGRAM_BOT_TOKEN, TELEGRAM_WEBHOOK_SECRET not set" in caplog.text


def test_telegram_refusing_the_token_leaves_telegram_off_not_the_server(engine, tmp_path, offline, caplog,
                                                                       settings_for):
    tg = FakeTelegram(token="999:right")
    with Loopback(tg.api()) as tg_api:
        settings = settings_for(tmp_path / "bot.db", None, None, FakeTelegram(token="999:wrong"), tg_api.url)
        with Loopback(create_app(settings, engine)) as bot:
            assert httpx.get(f"{bot.url}/healthz").json()["channels"] == {"line": False, "telegram": False}
    assert tg.recorder.calls("getMe")
    assert "telegram is off: could not start" in caplog.text


def test_logs_carry_no_message_text_and_no_ids(world, caplog):
    caplog.set_level("DEBUG")
    world.line_says("借金で首が回らなくて死にたい", user="Usecret")
    world.telegram_says("借金で首が回らなくて死にたい", chat_id=4242)
    world.line.send(world.url, body=b"{broken")
    assert "借金" not in caplog.text and "Usecret" not in caplog.text and "4242" not in caplog.text
    assert world.telegram.token not in caplog.text and world.line.token not in caplog.text


# The CLI tools


def test_line_richmenu_creates_uploads_and_sets_the_default(offline, monkeypatch, capsys):
    line = FakeLine()
    with Loopback(line.api()) as api:
        monkeypatch.setenv("LINE_CHANNEL_ACCESS_TOKEN", line.token)
        monkeypatch.setenv("LINE_API_BASE", api.url)
        assert cli_server.main(["line", "richmenu"]) == 0
    menu_id = line.default_rich_menu
    assert menu_id and menu_id in capsys.readouterr().out
    menu = line.rich_menus[menu_id]
    labels = [area["action"]["label"] for area in menu["areas"]]
    assert labels == ["相談する", "近くの窓口", "24時間の窓口", "使い方"]
    image = line.recorder.calls("richmenu_image")[0].params
    assert image["contentType"] == "image/png" and image["size"] > 1000


def test_telegram_set_webhook_registers_the_secret(offline, monkeypatch):
    tg = FakeTelegram()
    with Loopback(tg.api()) as api:
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", tg.token)
        monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", tg.secret)
        monkeypatch.setenv("TELEGRAM_API_BASE", api.url)
        assert cli_server.main(["telegram", "set-webhook", "https://bot.example.jp/webhooks/telegram"]) == 0
    assert tg.webhook["url"] == "https://bot.example.jp/webhooks/telegram"
    assert tg.webhook["secret_token"] == tg.secret
    assert tg.recorder.calls("setMyCommands")


def test_db_upgrade(tmp_path, capsys):
    assert cli_server.main(["db", "upgrade", "--url", f"sqlite:///{tmp_path / 'x.db'}"]) == 0
    assert f"revision {migrations.head()}" in capsys.readouterr().out


def test_every_server_command_has_help_and_is_in_the_docs():
    import argparse

    parser = argparse.ArgumentParser(prog="bot")
    sub = parser.add_subparsers()
    cli_server.add_commands(sub)
    docs = (ROOT / "docs" / "channels.md").read_text()
    for name, command in sub.choices.items():
        nested = [a for a in command._actions if isinstance(a, argparse._SubParsersAction)]
        leaves = [f"{name} {n}" for a in nested for n in a.choices] or [name]
        for leaf in leaves:
            assert f"bot {leaf}" in docs, f"`bot {leaf}` is missing from docs/channels.md"
    for action in sub._choices_actions:
        assert action.help, f"`bot {action.dest}` has no help"


# End to end: `bot serve` as a process


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bot_command() -> list[str]:
    script = Path(sys.executable).parent / "bot"
    if script.exists() and subprocess.run([script, "serve", "--help"], capture_output=True).returncode == 0:
        return [str(script)]
    return [sys.executable, "-m", "bot.cli.server"]


@pytest.fixture
def served(tmp_path) -> Iterator[tuple[str, FakeLine, FakeTelegram, subprocess.Popen]]:
    line, tg = FakeLine(), FakeTelegram()
    port = _free_port()
    with Loopback(line.api()) as line_api, Loopback(tg.api()) as tg_api:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LINE_", "TELEGRAM_", "TSUNAGU_"))}
        env.update(PORT=str(port), DATABASE_URL=f"sqlite:///{tmp_path / 'bot.db'}",
                   LINE_CHANNEL_SECRET=line.secret, LINE_CHANNEL_ACCESS_TOKEN=line.token, LINE_API_BASE=line_api.url,
                   TELEGRAM_BOT_TOKEN=tg.token, TELEGRAM_WEBHOOK_SECRET=tg.secret, TELEGRAM_API_BASE=tg_api.url)
        url = f"http://127.0.0.1:{port}"
        with open(tmp_path / "serve.log", "w") as log:
            process = subprocess.Popen([*_bot_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
                                       env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, (tmp_path / "serve.log").read_text()
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "bot serve did not become healthy"
                time.sleep(0.1)
            yield url, line, tg, process
        finally:
            process.terminate()
            process.wait(timeout=10)


def test_bot_serve_answers_signed_webhooks_end_to_end(served, tmp_path):
    url, line, tg, process = served
    assert httpx.get(f"{url}/healthz").json()["channels"] == {"line": True, "telegram": True}

    assert line.send(url, line.text("もう死にたい"), signature="bad").status_code == 400
    assert tg.send(url, tg.text("死にたい"), secret="bad").status_code == 403
    assert line.recorder.calls("reply") == [] and tg.recorder.calls("sendMessage") == []

    latencies = []
    for n, text in enumerate(["もう死にたい", "息子がひきこもりで悩んでいる", "死にたい"], 1):
        event = line.text(text)
        started = time.monotonic()
        assert line.send(url, event).status_code == 200
        reply = line.wait_reply(n, timeout=3)
        latencies.append(reply.at - started)
        assert reply.token == event["replyToken"]
    assert line.replies()[0].tel()[0] not in ("110", "119")
    assert "ひきこもり" in line.replies()[1].all_text()

    redelivered = dict(event, deliveryContext={"isRedelivery": True})
    assert line.send(url, redelivered).status_code == 200
    assert line.send(url, body=b'{"events": [{"type": "message"}]}').status_code < 500
    assert tg.send(url, body=b'{"update_id": 5}').status_code < 500

    started = time.monotonic()
    assert tg.send(url, tg.text("死にたい", chat_id=31)).status_code == 200
    sent = tg.wait_sent(timeout=3)
    latencies.append(sent.at - started)
    assert sent.chat_id == 31 and re.search(r"0120-\d", sent.text)

    assert len(line.recorder.quiet("reply", 0.3)) == 3
    assert httpx.get(f"{url}/healthz").status_code == 200 and process.poll() is None
    print(f"\nreply latency (s): {', '.join(f'{x:.3f}' for x in latencies)}")
    assert max(latencies) < 3
    log = (tmp_path / "serve.log").read_text()
    assert "死にたい" not in log and "U1111" not in log and tg.token not in log


async def test_telegram_polling_answers_without_a_public_url(engine, tmp_path, offline):
    """What `bot telegram poll` runs: the same channel, fed by getUpdates instead of the webhook."""
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    migrations.upgrade(url)
    tg = FakeTelegram()
    tg.queue.append(tg.text("死にたい", chat_id=55))
    with Loopback(tg.api()) as api:
        channel = TelegramChannel(Desk(engine, Store(url), Hasher(b"k")), tg.token, None, api.url, polling=True)
        async with channel.app:
            await channel.app.start()
            await channel.app.updater.start_polling(poll_interval=0, timeout=1)
            deadline = time.monotonic() + 10
            while not tg.sent() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            await channel.app.updater.stop()
            await channel.app.stop()
    sent = tg.sent()[0]
    assert sent.chat_id == 55 and "110" in sent.text
    assert tg.recorder.calls("deleteWebhook")

"""Fixtures for the server and channel tests: one engine, fake platforms, a bot server.

    world.line.send(world.url, world.line.text("もう死にたい")); world.line.wait_reply()

Everything runs on 127.0.0.1; `offline` makes any other connection fail the test.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.fakes import Loopback
from bot.fakes.line import FakeLine, Reply
from bot.fakes.telegram import FakeTelegram, Sent
from bot.service.settings import Settings

pytest_plugins = ["tests.db_backends"]  # db_url: each database test on SQLite and PostgreSQL

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Connections anywhere but 127.0.0.1 raise (PTB's OfflineRequest, for every client at once)."""
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def connect(self: socket.socket, address: object) -> None:
        if isinstance(address, tuple) and address[0] not in LOOPBACK:
            raise OSError(f"test tried the network: {address}")
        return real_connect(self, address)  # type: ignore[arg-type]

    def getaddrinfo(host: object, *args: object, **kw: object) -> object:
        if host not in LOOPBACK and host is not None:
            raise OSError(f"test tried the network: {host}")
        return real_getaddrinfo(host, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture(scope="session")
def engine():  # noqa: ANN201
    from bot.engine import Engine

    return Engine.load()


@dataclass
class World:
    """A bot server wired to fake LINE and Telegram APIs, and ways to talk to it as a resident."""

    url: str
    line: FakeLine
    telegram: FakeTelegram
    settings: Settings

    def line_says(self, text: str, user: str = "U1111", nth: int | None = None, **kw: object) -> Reply:
        """Send a LINE text message and return the reply it got."""
        return self.line_event(self.line.text(text, user, **kw), nth)

    def line_event(self, event: dict, nth: int | None = None) -> Reply:
        nth = nth or len(self.line.recorder.calls("reply", ok=True)) + 1
        response = self.line.send(self.url, event)
        assert response.status_code == 200, response.text
        return self.line.wait_reply(nth)

    def telegram_says(self, text: str, chat_id: int = 42, **kw: object) -> Sent:
        return self.telegram_update(self.telegram.text(text, chat_id, **kw))

    def telegram_update(self, update: dict) -> Sent:
        nth = len(self.telegram.recorder.calls("sendMessage", ok=True)) + 1
        response = self.telegram.send(self.url, update)
        assert response.status_code == 200, response.text
        return self.telegram.wait_sent(nth)


def _settings(db: Path, line: FakeLine | None, line_url: str | None, tg: FakeTelegram | None,
              tg_url: str | None) -> Settings:
    return Settings(
        database_url=f"sqlite:///{db}",
        line_channel_secret=line.secret if line else None,
        line_channel_access_token=line.token if line else None,
        line_api_base=line_url or "https://api.line.me",
        telegram_bot_token=tg.token if tg else None,
        telegram_webhook_secret=tg.secret if tg else None,
        telegram_api_base=tg_url or "https://api.telegram.org",
        hash_key="test-hash-key",
    )


@pytest.fixture
def settings_for():  # noqa: ANN201
    """Settings for a test server: (db path, FakeLine, its url, FakeTelegram, its url); None turns a channel off."""
    return _settings


@pytest.fixture(scope="session")
def platforms() -> Iterator[tuple[FakeLine, str, FakeTelegram, str]]:
    """Fake LINE and Telegram APIs, started once; `world` resets them for each test."""
    line, tg = FakeLine(), FakeTelegram()
    with Loopback(line.api()) as line_api, Loopback(tg.api()) as tg_api:
        yield line, line_api.url, tg, tg_api.url


@pytest.fixture(scope="module")
def bot_server(engine, platforms, tmp_path_factory) -> Iterator[tuple[str, Settings]]:  # noqa: ANN001
    """One bot server per test module over the shared fake platforms."""
    from bot.service.server import create_app

    line, line_url, tg, tg_url = platforms
    settings = _settings(tmp_path_factory.mktemp("bot") / "bot.db", line, line_url, tg, tg_url)
    with Loopback(create_app(settings, engine)) as bot:
        yield bot.url, settings


def fresh_world(server, platforms) -> World:  # noqa: ANN001
    """A running bot server with an empty database and fake platforms that have seen nothing."""
    from sqlmodel import SQLModel

    from bot.service.store import Store

    url, settings = server
    line, _, tg, _ = platforms
    line.reset()
    tg.reset()
    store = Store(settings.database_url)
    with store.engine.begin() as conn:
        for table in SQLModel.metadata.sorted_tables:
            conn.execute(table.delete())
    store.close()
    return World(url, line, tg, settings)


@pytest.fixture
def world(bot_server, platforms, offline: None) -> World:  # noqa: ANN001
    """The module's bot server with an empty database and fake platforms that have seen nothing."""
    return fresh_world(bot_server, platforms)

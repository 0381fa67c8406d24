"""Every fixture the tests share, in one place (plain helpers are in tests/support.py).

    offline       any connection but to 127.0.0.1 fails the test
    engine        one loaded engine for the session
    understood    the conversation tests' engine over a copy of services.yaml (tests/support.py), one for the session
    platforms     fake LINE and Telegram APIs; bot_server: a bot server per test module over them
    world         that server with an empty database: world.line_says("もう死にたい")
    settings_for  Settings for a test server of one's own
    db_url        each database test on SQLite and on PostgreSQL (TEST_POSTGRES_URL)
    fast_hashes   Argon2 at its cheapest, for the console's tests (pytestmark usefixtures)

Everything runs on 127.0.0.1.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator

import pytest

from bot.fakes import Loopback
from bot.fakes.line import FakeLine
from bot.fakes.telegram import FakeTelegram
from bot.service.settings import Settings
from tests.support import World, fresh_world, server_settings

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


@pytest.fixture(scope="session")
def understood(tmp_path_factory):  # noqa: ANN201
    from tests.support import understood_engine

    return understood_engine(tmp_path_factory.mktemp("understood"))


@pytest.fixture
def settings_for():  # noqa: ANN201
    """Settings for a test server: (db path, FakeLine, its url, FakeTelegram, its url); None turns a channel off."""
    return server_settings


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
    settings = server_settings(tmp_path_factory.mktemp("bot") / "bot.db", line, line_url, tg, tg_url)
    with Loopback(create_app(settings, engine)) as bot:
        yield bot.url, settings


@pytest.fixture
def world(bot_server, platforms, offline: None) -> World:  # noqa: ANN001
    """The module's bot server with an empty database and fake platforms that have seen nothing."""
    return fresh_world(bot_server, platforms)


# The database tests on both backends: SQLite always, PostgreSQL when TEST_POSTGRES_URL is set.
#
#     def test_x(db_url): ...        -> test_x[sqlite], test_x[postgresql]
#
# `.ci/run` starts a throwaway PostgreSQL and sets TEST_POSTGRES_URL, so CI runs both; on a laptop
# without it the PostgreSQL half is skipped (`eval "$(.ci/postgres start)"` to run it there too).
# Each test gets an empty database: a new SQLite file, or a new PostgreSQL schema (first on the
# search_path of every connection made with the URL), dropped after the test.
BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'bot.db'}"
        return
    base = os.environ.get("TEST_POSTGRES_URL", "").strip()
    if not base:
        pytest.skip("TEST_POSTGRES_URL is not set (CI sets it; locally: eval \"$(.ci/postgres start)\")")
    from sqlalchemy import create_engine, make_url, text

    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            # Connections a test left open (a killed worker's) must not hold the schema.
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE pid <> pg_backend_pid() AND datname = current_database() "
                              "AND state = 'idle in transaction'"))
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="module")
def fast_hashes():
    """Argon2 at its cheapest: the tests are about behaviour, not the cost of guessing."""
    from argon2 import PasswordHasher

    from bot.console import auth

    recommended = auth.HASHER
    auth.HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    auth.HASHER = recommended

"""What the tests share besides fixtures (those are all in tests/conftest.py).

    ROOT, SHARED                the repository and the shared folder beside it (../shared)
    engine(), at(), WEDNESDAY_NOON, TUESDAY_3AM     one engine per session, fixed times
    World, fresh_world(), server_settings()         a bot server wired to fake LINE and Telegram
    understood_engine()    the conversation tests' engine over a copy of services.yaml
    eventually(fn)              fn()'s answer once it is truthy: the log and residents are written just after a reply
    FlakyTcp                    a loopback proxy to a database that can refuse or hang on demand
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from bot.engine import Engine
from bot.engine.catalogue.hours import TOKYO
from bot.fakes.line import FakeLine, Reply
from bot.fakes.telegram import FakeTelegram, Sent
from bot.service.settings import Settings
from bot.service.store import WRITE_EVERY

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@lru_cache(maxsize=1)
def engine() -> Engine:
    return Engine.load()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TOKYO)


# A Wednesday afternoon, not a holiday: most offices are open.
WEDNESDAY_NOON = at("2026-12-02T12:00")
# A Tuesday at 3 a.m.: only 24-hour lines answer.
TUESDAY_3AM = at("2026-12-01T03:00")


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


def server_settings(db: Path, line: FakeLine | None, line_url: str | None, tg: FakeTelegram | None,
                    tg_url: str | None) -> Settings:
    """Settings for a test server over SQLite at `db`; a channel whose fake is None is off."""
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


def settled() -> None:
    """Wait for the server's writer (Store.later) to land what the last reply left in the database."""
    time.sleep(5 * WRITE_EVERY)


def eventually(fn: Callable[[], object], timeout: float = 5.0) -> object:
    """`fn()` once it returns something truthy (polled); AssertionError with its last answer if it never does.

    The server writes the referral log and the residents it saw in batches just after each reply
    (Store.later): what a test reads from the database right after a reply may not be there yet.
    """
    deadline = time.monotonic() + timeout
    while True:
        found = fn()
        if found or time.monotonic() > deadline:
            assert found, f"still {found!r} after {timeout}s"
            return found
        time.sleep(0.02)


def fresh_world(server, platforms) -> World:  # noqa: ANN001
    """A running bot server with an empty database and fake platforms that have seen nothing."""
    from sqlmodel import SQLModel

    from bot.service.store import Store

    url, settings = server
    line, _, tg, _ = platforms
    line.reset()
    tg.reset()
    time.sleep(3 * WRITE_EVERY)  # the last test's log rows land before the tables are emptied, not after
    store = Store(settings.database_url)
    with store.engine.begin() as conn:
        for table in SQLModel.metadata.sorted_tables:
            conn.execute(table.delete())
    store.close()
    return World(url, line, tg, settings)


# Two lines that speak residents' languages, copied from data/sourced/foreign_residents.csv (facts
# and sources as read there) for the conversation tests, until they are in services.yaml (#15).


def understood_engine(folder: Path) -> Engine:
    """The engine over a copy of services.yaml in `folder` (the conversation tests may reload it)."""
    catalogue = folder / "services.yaml"
    catalogue.write_text((ROOT / "services.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    return Engine.load(catalogue)


class FlakyTcp:
    """A loopback TCP proxy whose far side can go away or hang, for database outages:

        proxy = FlakyTcp(("127.0.0.1", pg_port))   # forwards: the database as it is
        proxy.mode = "refuse"                       # as a stopped server: connections reset, open ones cut
        proxy.mode = "hang"                         # accepts, and neither forwards nor answers anything
        proxy.mode = "pass"                         # back: what waited goes through

    With `target=None` it only ever accepts and stays silent: an honest stand-in for a database
    server that hangs (nothing behind it answers, as a wedged server would not).
    """

    def __init__(self, target: tuple[str, int] | None = None) -> None:
        self.target = target
        self.mode = "pass" if target else "hang"
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True, name=f"flaky-{self.port}").start()

    def url(self, database_url: str) -> str:
        """`database_url` with its host and port replaced by this proxy's."""
        from sqlalchemy import make_url

        return make_url(database_url).set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.mode == "refuse":
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                client.close()  # a reset, as from a port nobody listens on
                continue
            with self._lock:
                self._open.append(client)
            if self.target is None:
                continue  # accepted, and never a byte back
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.append(server)
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        src.settimeout(0.05)
        while not self._closed and self.mode != "refuse":
            if self.mode == "hang":
                time.sleep(0.01)  # hold everything: the other side waits for an answer that does not come
                continue
            try:
                data = src.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            try:
                dst.sendall(data)
            except OSError:
                break
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.close()

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        with self._lock:
            for s in self._open:
                with contextlib.suppress(OSError):
                    s.close()

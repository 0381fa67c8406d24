"""The web server: both channels on one Starlette app, over one engine and one store.

    GET  /healthz           200 {"ok": true, "channels": {...}} once started
    GET  /metrics           Prometheus text (bot/service/metrics.py); METRICS_TOKEN, when set, as a bearer token
    POST /webhooks/line     -> channels/line.py      (off without LINE settings: 404)
    POST /webhooks/telegram -> channels/telegram.py  (off without Telegram settings: 404)

Every webhook request passes `WebhookGate` first: a body over WEBHOOK_MAX_BYTES
gets 413 unread, a POST goes straight to its channel's `receive` (no router, no
request objects: it is the hot path), and each answer is counted by channel and
status.  The channels offer each event to the intake (bot/service/intake.py):
crisis first, the rest in turn, parked in the database while the queue is full.

Start-up loads the engine, upgrades the database if it is behind, and starts
each channel whose settings are present; a channel that cannot start, or a
database that cannot be reached, is reported and the server runs on.  While
it runs: the catalogue is reloaded when services.yaml changes (polled every
CATALOGUE_POLL_SECONDS) or on SIGHUP, a bad file is refused with file:line in
the log and the last good catalogue stays in service; once a day (and at
start) rows past their keeping are purged (Store.purge).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import signal
import threading
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot import console
from bot.engine import Engine
from bot.service import migrations
from bot.service.desk import Desk
from bot.service.intake import Intake
from bot.service.metrics import Metrics
from bot.service.parking import ParkingLot
from bot.service.privacy import Sealer, load_key
from bot.service.retry import Backoff
from bot.service.settings import Settings
from bot.service.store import Store, Unavailable

log = logging.getLogger("bot.server")

PURGE_EVERY = 24 * 3600.0  # seconds between retention purges


def create_app(settings: Settings, engine: Engine | None = None) -> Starlette:
    """The ASGI app; `engine` lets tests share one loaded engine between servers."""
    channels: dict[str, Any] = {}
    metrics = Metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        quiet_libraries()
        loaded = engine or await asyncio.to_thread(Engine.load)
        metrics.catalogue_in_service(loaded.catalogue.version)
        try:  # a database that hangs holds up the start for DB_TIMEOUT_SECONDS at most
            revision = await asyncio.wait_for(asyncio.to_thread(migrations.upgrade_if_behind, settings.database_url,
                                                                settings.db_timeout),
                                              settings.db_timeout)
            if revision:
                log.info("database upgraded to revision %s", revision)
        except Exception as e:  # noqa: BLE001  (answer without memory rather than not at all)
            log.error("database: could not check the schema at start (%s); answering without it until it is back",
                      type(e).__name__)
        store = Store(settings.database_url, timeout=settings.db_timeout, deadline=settings.db_deadline)
        hasher, where = load_key(settings.hash_key, settings.sqlite_path, settings.previous_hash_keys)
        log.info(where)
        desk = Desk(loaded, store, hasher, metrics=metrics, rate_limit=settings.rate_limit,
                    store_messages=settings.store_messages, store_messages_days=settings.store_messages_days)
        intake = Intake(bound=settings.queue_max, lot=ParkingLot(store, Sealer.of(hasher)), metrics=metrics)
        await intake.start()
        for problem in settings.problems():
            log.warning(problem)
        backoff = Backoff(first=settings.api_retry_seconds)
        if settings.line_on:
            from bot.channels.line import LineChannel

            channels["line"] = LineChannel(desk, settings.line_channel_secret or "",
                                           settings.line_channel_access_token or "", settings.line_api_base,
                                           push_fallback=settings.line_push_fallback, timeout=settings.api_timeout,
                                           backoff=backoff, intake=intake, token_seconds=settings.reply_token_seconds)
        if settings.telegram_on:
            from bot.channels.telegram import TelegramChannel

            channels["telegram"] = TelegramChannel(desk, settings.telegram_bot_token or "",
                                                   settings.telegram_webhook_secret, settings.telegram_api_base,
                                                   timeout=settings.api_timeout, backoff=backoff, intake=intake)
        for name, channel in list(channels.items()):
            try:
                await channel.start()
            except Exception as e:  # noqa: BLE001  (e.g. Telegram getMe refused: that channel stays off)
                log.error("%s is off: could not start (%s)", name, type(e).__name__)
                del channels[name]
        catalogue = CatalogueWatch(loaded, metrics)
        tasks = [asyncio.create_task(purge_daily(store, settings), name="purge")]
        if settings.catalogue_poll_seconds > 0:
            tasks.append(asyncio.create_task(catalogue.poll(settings.catalogue_poll_seconds), name="catalogue"))
        hup = catalogue.on_sighup()
        log.info("ready: channels %s", ", ".join(channels) or "none")
        try:
            yield
        finally:
            hup()
            for task in tasks:
                task.cancel()
            await intake.stop()  # what has not started is parked for after the restart
            for channel in channels.values():
                with contextlib.suppress(Exception):
                    await channel.stop()
            desk.close()
            store.close()

    async def healthz(request: Request) -> Response:
        # 200 while the server runs, busy or not: a burst is no reason to restart it.
        return JSONResponse({"ok": True, "channels": {n: n in channels for n in ("line", "telegram")}})

    async def metrics_page(request: Request) -> Response:
        if settings.metrics_token:
            given = request.headers.get("authorization", "").removeprefix("Bearer ").encode("utf-8", "replace")
            if not hmac.compare_digest(given, settings.metrics_token.encode()):
                return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})
        return Response(metrics.render(), media_type=metrics.content_type)

    def webhook(name: str) -> Any:
        async def endpoint(request: Request) -> Response:
            channel = channels.get(name)
            if channel is None:
                return Response(status_code=404)
            return await channel.webhook(request)

        return endpoint

    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/metrics", metrics_page),
            Route("/webhooks/line", webhook("line"), methods=["POST"]),
            Route("/webhooks/telegram", webhook("telegram"), methods=["POST"]),
            console.mount(LazyConsole(engine := engine or Engine.load(), settings.database_url)),  # one engine
        ],
        lifespan=lifespan,
    )
    app.add_middleware(WebhookGate, max_bytes=settings.webhook_max_bytes, metrics=metrics, channels=channels)
    app.state.metrics = metrics
    return app


class LazyConsole:
    """The staff console, imported and built at its first request: its imports (Jinja2, argon2, the
    pages) are not on the way to the first resident's answer.  If its database cannot be reached,
    that request gets a 503 page and the next one tries again; the bot answers on either way."""

    def __init__(self, engine: Engine, database_url: str) -> None:
        self.engine = engine
        self.database_url = database_url
        self.app: ASGIApp | None = None
        self._building = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self.app or await asyncio.to_thread(self._build)
        if app is None:
            response = Response("console unavailable: database unreachable", 503, media_type="text/plain")
            await response(scope, receive, send)
            return
        await app(scope, receive, send)

    def _build(self) -> ASGIApp | None:
        with self._building:
            if self.app is None:
                try:
                    self.app = console.console_app(self.engine, self.database_url)
                except Exception as e:  # noqa: BLE001
                    log.error("console is off for now: its database could not be reached (%s)", type(e).__name__)
            return self.app


class WebhookGate:
    """Before a webhook: refuse a body over `max_bytes` (413, unread past the limit); hand a POST straight
    to its channel's `receive(body, header)`; count every answer."""

    PREFIX = "/webhooks/"
    HEADERS = {"line": b"x-line-signature", "telegram": b"x-telegram-bot-api-secret-token"}

    def __init__(self, app: ASGIApp, max_bytes: int, metrics: Metrics, channels: dict[str, Any] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.metrics = metrics
        self.channels = channels if channels is not None else {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.PREFIX):
            await self.app(scope, receive, send)
            return
        channel = scope["path"][len(self.PREFIX):].strip("/")
        channel = channel if channel in ("line", "telegram") else "other"
        status = 500

        async def counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            body = await self._read(scope, receive)
            if body is None:
                await Response(status_code=413)(scope, receive, counted)
                return
            handler = self.channels.get(channel)
            if handler is not None and scope["method"] == "POST":
                header = next((v for k, v in scope["headers"] if k == self.HEADERS[channel]), b"")
                status, answer = await handler.receive(body, header.decode("latin-1"))
                await _respond(send, status, answer)
                return
            replayed = False

            async def replay() -> Message:
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            await self.app(scope, replay, counted)
        finally:
            self.metrics.webhooks.labels(channel, str(status)).inc()

    async def _read(self, scope: Scope, receive: Receive) -> bytes | None:
        """The whole body, or None when it is (or says it is) over the limit."""
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    if int(value) > self.max_bytes:
                        return None
                except ValueError:
                    return None
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


async def _respond(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-length", str(len(body)).encode())]
    if body:
        headers.append((b"content-type", b"application/json"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class CatalogueWatch:
    """Reload the catalogue when its file changes or on SIGHUP; a refused file is retried only once changed."""

    def __init__(self, engine: Engine, metrics: Metrics) -> None:
        self.engine = engine
        self.metrics = metrics
        self.path = Path(engine.catalogue_path)
        self.seen = _mtime(self.path)
        self._lock = asyncio.Lock()

    async def poll(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                if (now := _mtime(self.path)) != self.seen:
                    self.seen = now
                    await self.reload("file changed")
            except Exception as e:  # noqa: BLE001  (the watcher must outlive any one bad reload)
                log.error("catalogue: watcher error (%s)", type(e).__name__)

    async def reload(self, why: str) -> list[str]:
        """Reload now; the problems (file:line: what) if the file was refused, else []."""
        async with self._lock:
            self.seen = _mtime(self.path)
            problems = await asyncio.to_thread(self.engine.reload)
        version = self.engine.catalogue.version
        if problems:
            self.metrics.reloads.labels("refused").inc()
            log.error("catalogue: %s; refused with %d problem(s), still serving version %s: %s", why,
                      len(problems), version, "; ".join(problems[:5]))
        else:
            self.metrics.reloads.labels("ok").inc()
            self.metrics.catalogue_in_service(version)
            log.info("catalogue: %s; serving version %s (%d services)", why, version,
                     len(self.engine.catalogue.services))
        return problems

    def on_sighup(self) -> Any:
        """Install the SIGHUP handler (main thread only); returns what removes it."""
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(self.reload("SIGHUP")))
        except (ValueError, RuntimeError, NotImplementedError, AttributeError):  # not the main thread, or Windows
            return lambda: None
        return lambda: loop.remove_signal_handler(signal.SIGHUP)


async def purge_daily(store: Store, settings: Settings) -> None:
    """Store.purge at start and then once a day: referral log, idle residents, messages, event ids."""
    messages = timedelta(days=settings.store_messages_days) if settings.store_messages else None
    while True:
        try:
            gone = await asyncio.to_thread(store.purge, timedelta(days=settings.retention_days), messages)
            if any(gone.values()):
                log.info("purged: %s", ", ".join(f"{n} {name}" for name, n in gone.items() if n))
        except Unavailable as e:
            log.warning("purge not done (%s); trying again in a day", e)
        await asyncio.sleep(PURGE_EVERY)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def quiet_libraries() -> None:
    """Library loggers that would write ids, tokens or text into the logs are held at WARNING."""
    for name in ("httpx", "httpcore", "telegram", "telegram.ext", "linebot", "aiohttp.access"):
        logging.getLogger(name).setLevel(logging.WARNING)

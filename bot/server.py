"""The web server: both channels on one Starlette app, over one engine and one store.

    GET  /healthz           200 {"ok": true, "channels": {...}} once started
    POST /webhooks/line     -> channels/line.py      (off without LINE settings: 404)
    POST /webhooks/telegram -> channels/telegram.py  (off without Telegram settings: 404)

Start-up loads the engine, upgrades the database if it is behind, and starts
each channel whose settings are present; a channel that cannot start is
reported and left off, and the server runs on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot import console, migrations
from bot.channels import Desk
from bot.engine import Engine
from bot.privacy import load_key
from bot.settings import Settings
from bot.store import Store

log = logging.getLogger("bot.server")


def create_app(settings: Settings, engine: Engine | None = None) -> Starlette:
    """The ASGI app; `engine` lets tests share one loaded engine between servers."""
    channels: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        quiet_libraries()
        loaded = engine or await asyncio.to_thread(Engine.load)
        if revision := await asyncio.to_thread(migrations.upgrade_if_behind, settings.database_url):
            log.info("database upgraded to revision %s", revision)
        store = Store(settings.database_url)
        hasher, where = load_key(settings.hash_key, settings.sqlite_path)
        log.info(where)
        desk = Desk(loaded, store, hasher)
        for problem in settings.problems():
            log.warning(problem)
        if settings.line_on:
            from bot.channels.line import LineChannel

            channels["line"] = LineChannel(desk, settings.line_channel_secret or "",
                                           settings.line_channel_access_token or "", settings.line_api_base)
        if settings.telegram_on:
            from bot.channels.telegram import TelegramChannel

            channels["telegram"] = TelegramChannel(desk, settings.telegram_bot_token or "",
                                                   settings.telegram_webhook_secret, settings.telegram_api_base)
        for name, channel in list(channels.items()):
            try:
                await channel.start()
            except Exception as e:  # noqa: BLE001  (e.g. Telegram getMe refused: that channel stays off)
                log.error("%s is off: could not start (%s: %s)", name, type(e).__name__, e)
                del channels[name]
        log.info("ready: channels %s", ", ".join(channels) or "none")
        try:
            yield
        finally:
            for channel in channels.values():
                with contextlib.suppress(Exception):
                    await channel.stop()
            store.close()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True, "channels": {n: n in channels for n in ("line", "telegram")}})

    def webhook(name: str) -> Any:
        async def endpoint(request: Request) -> Response:
            channel = channels.get(name)
            if channel is None:
                return JSONResponse({"error": f"{name} is not configured"}, 404)
            return await channel.webhook(request)

        return endpoint

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/webhooks/line", webhook("line"), methods=["POST"]),
            Route("/webhooks/telegram", webhook("telegram"), methods=["POST"]),
            console.mount(engine := engine or Engine.load(), settings.database_url),  # one engine, shared
        ],
        lifespan=lifespan,
    )


def quiet_libraries() -> None:
    """Library loggers that would write ids, tokens or text into the logs are held at WARNING."""
    for name in ("httpx", "httpcore", "telegram", "telegram.ext", "linebot", "aiohttp.access"):
        logging.getLogger(name).setLevel(logging.WARNING)

"""`bot` commands for the server, its database and the two channels.

    bot serve --host H --port P          both channels on one server (Starlette + uvicorn)
              [--workers N]              N processes on one port, forked after loading (bot/service/workers.py)
    bot db upgrade                       create or upgrade the schema (alembic)
    bot line richmenu [--image PNG]      create and set the default rich menu
    bot line send TEXT                   post a signed text event to a running server
    bot telegram poll                    long polling, for local use without a public URL
    bot telegram set-webhook URL         register the webhook with the secret
    bot telegram send TEXT               post an update with the secret to a running server
    bot fakes --port P                   loopback fake LINE and Telegram APIs, printing each call
    bot forget --channel C --user ID     delete everything linked to one resident
    bot purge                            delete what is past keeping (RETENTION_DAYS, STORE_MESSAGES_DAYS)

Settings come from the environment (bot/service/settings.py); each command is a few
lines over the library.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

RICH_MENU_IMAGE = Path(__file__).parents[1] / "data" / "line_richmenu.png"


def _settings() -> Any:
    from bot.service.settings import Settings

    return Settings.from_env()


def _engine(args: argparse.Namespace) -> Any:
    from bot.engine import Engine

    return Engine.load(getattr(args, "catalogue", None))


def _logging() -> None:
    from bot.service.logs import setup

    setup()  # JSON lines without text or ids; LOG_FORMAT=text for the plain format


def _desk(args: argparse.Namespace, settings: Any) -> Any:
    from bot.service import migrations
    from bot.service.desk import Desk
    from bot.service.privacy import load_key
    from bot.service.store import Store

    migrations.upgrade_if_behind(settings.database_url)
    hasher, where = load_key(settings.hash_key, settings.sqlite_path, settings.previous_hash_keys)
    logging.getLogger("bot.server").info(where)
    return Desk(_engine(args), Store(settings.database_url, timeout=settings.db_timeout), hasher,
                rate_limit=settings.rate_limit, store_messages=settings.store_messages,
                store_messages_days=settings.store_messages_days)


# -- serve, db ----------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from bot.engine.snapshot import load_engine
    from bot.service import workers
    from bot.service.server import create_app

    workers.limit_malloc_arenas()
    _logging()
    settings = _settings()
    engine = load_engine(args.catalogue)
    port = args.port or settings.port
    options: dict[str, Any] = {"log_level": "info", "access_log": False, "log_config": None}
    if args.workers <= 1:
        _warm(engine)
        workers.freeze()
        uvicorn.run(create_app(settings, engine), host=args.host, port=port, **options)
        return 0
    _prepare_workers(settings, engine)
    return workers.serve(lambda: create_app(settings, engine), args.host, port, args.workers, **options)


def _prepare_workers(settings: Any, engine: Any) -> None:
    """What every worker would otherwise do at once on start: done once, before they are forked."""
    import importlib

    from bot.service import migrations
    from bot.service.privacy import load_key

    migrations.upgrade_if_behind(settings.database_url)  # the console's tables too (0003)
    load_key(settings.hash_key, settings.sqlite_path)  # a generated key file is written once
    for module in ("bot.channels.line", *(("bot.channels.telegram",) if settings.telegram_on else ())):
        importlib.import_module(module)  # imported once, shared by the workers
    _warm(engine)


def _warm(engine: Any) -> None:
    """Sudachi, the caches and the crisis keywords, made once before serving (and before any fork).
    Made by the first burst instead, the desk's threads each opened Sudachi's dictionary at the same
    moment: two 200 MB mappings of it, and 530 MB RSS for one worker."""
    from bot.engine.engine import crisis_words
    from bot.engine.understand import language

    engine.route("死にたい")
    language.warm()  # lingua's models (~20 MB), shared by the workers rather than built in each
    crisis_words(engine)


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from bot.service import migrations

    url = args.url or _settings().database_url
    migrations.upgrade(url)
    print(f"database at revision {migrations.current(url)}")
    return 0


# -- privacy: forget, purge ---------------------------------------------------------------------


def cmd_forget(args: argparse.Namespace) -> int:
    from bot.service import migrations
    from bot.service.privacy import load_key
    from bot.service.store import Store

    settings = _settings()
    migrations.upgrade_if_behind(settings.database_url)
    hasher, _ = load_key(settings.hash_key, settings.sqlite_path, settings.previous_hash_keys)
    store = Store(settings.database_url)
    try:
        gone: dict[str, int] = {}
        for key in (hasher.resident(args.channel, args.user), *hasher.former(args.channel, args.user)):
            for table, n in store.forget(key).items():
                gone[table] = gone.get(table, 0) + n
    finally:
        store.close()
    print("deleted: " + ", ".join(f"{n} {table}" for table, n in gone.items()))
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from bot.service import migrations
    from bot.service.store import Store

    settings = _settings()
    migrations.upgrade_if_behind(settings.database_url)
    store = Store(settings.database_url)
    messages = timedelta(days=settings.store_messages_days) if settings.store_messages else None
    try:
        gone = store.purge(timedelta(days=settings.retention_days), messages)
    finally:
        store.close()
    print("purged: " + ", ".join(f"{n} {table}" for table, n in gone.items()))
    return 0


# -- LINE ---------------------------------------------------------------------------------------


def cmd_line_richmenu(args: argparse.Namespace) -> int:
    from linebot.v3.messaging import ApiClient, Configuration, MessagingApi, MessagingApiBlob

    from bot.channels.line import rich_menu_request

    settings = _settings()
    if not settings.line_channel_access_token:
        print("LINE_CHANNEL_ACCESS_TOKEN is not set", file=sys.stderr)
        return 2
    image = Path(args.image) if args.image else RICH_MENU_IMAGE
    token = settings.line_channel_access_token
    with ApiClient(Configuration(host=settings.line_api_base, access_token=token)) as client:
        menu_id = MessagingApi(client).create_rich_menu(rich_menu_request()).rich_menu_id
        with ApiClient(Configuration(host=settings.line_data_api_base, access_token=token)) as data_client:
            kind = "image/jpeg" if image.suffix.lower() in (".jpg", ".jpeg") else "image/png"
            MessagingApiBlob(data_client).set_rich_menu_image(menu_id, body=image.read_bytes(),
                                                              _headers={"Content-Type": kind})
        MessagingApi(client).set_default_rich_menu(menu_id)
    print(f"default rich menu set: {menu_id}")
    return 0


def cmd_line_send(args: argparse.Namespace) -> int:
    from bot.fakes.line import FakeLine

    settings = _settings()
    line = FakeLine(secret=settings.line_channel_secret or "line-secret")
    response = line.send(args.server, line.text(args.text, user=args.user))
    print(response.status_code, response.text)
    return 0 if response.status_code == 200 else 1


# -- Telegram -----------------------------------------------------------------------------------


def cmd_telegram_poll(args: argparse.Namespace) -> int:
    from bot.channels.telegram import ALLOWED_UPDATES, TelegramChannel, set_commands
    from bot.service.server import quiet_libraries

    _logging()
    settings = _settings()
    if not settings.telegram_bot_token:
        print("TELEGRAM_BOT_TOKEN is not set", file=sys.stderr)
        return 2
    channel = TelegramChannel(_desk(args, settings), settings.telegram_bot_token, settings.telegram_webhook_secret,
                              settings.telegram_api_base, polling=True)
    quiet_libraries()
    print("polling Telegram; Ctrl-C to stop")
    channel.app.post_init = lambda app: set_commands(app.bot)
    channel.app.run_polling(allowed_updates=ALLOWED_UPDATES)
    return 0


def cmd_telegram_set_webhook(args: argparse.Namespace) -> int:
    from telegram import Bot

    from bot.channels.telegram import register_webhook

    settings = _settings()
    if not (settings.telegram_bot_token and settings.telegram_webhook_secret):
        print("TELEGRAM_BOT_TOKEN and TELEGRAM_WEBHOOK_SECRET must be set", file=sys.stderr)
        return 2

    async def run() -> None:
        async with Bot(settings.telegram_bot_token, base_url=f"{settings.telegram_api_base}/bot") as bot:
            await register_webhook(bot, args.url, settings.telegram_webhook_secret)

    asyncio.run(run())
    print(f"webhook set: {args.url}")
    return 0


def cmd_telegram_send(args: argparse.Namespace) -> int:
    from bot.fakes.telegram import FakeTelegram

    settings = _settings()
    tg = FakeTelegram(secret=settings.telegram_webhook_secret or "hook-secret")
    response = tg.send(args.server, tg.text(args.text, chat_id=args.chat))
    print(response.status_code, response.text)
    return 0 if response.status_code == 200 else 1


# -- fakes --------------------------------------------------------------------------------------


def cmd_fakes(args: argparse.Namespace) -> int:
    """Both fake APIs on one port: LINE under /line, Telegram under /telegram."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from bot.fakes.line import FakeLine, Reply
    from bot.fakes.telegram import FakeTelegram

    settings = _settings()
    line = FakeLine(token=settings.line_channel_access_token or "line-token")
    tg = FakeTelegram(token=settings.telegram_bot_token or "123456:TEST-token")

    def show_line(call: Any) -> None:
        if call.method == "reply":
            reply = Reply(call.params["replyToken"], call.params["messages"], call.at)
            print(f"\n[LINE reply] tel: {reply.tel()}\n" + reply.all_text(), flush=True)
        else:
            print(f"\n[LINE {call.method}] {json.dumps(call.params, ensure_ascii=False)[:300]}", flush=True)

    def show_telegram(call: Any) -> None:
        if call.method == "sendMessage":
            print(f"\n[Telegram sendMessage to {call.params.get('chat_id')}]\n{call.params.get('text')}", flush=True)
        elif call.method != "getUpdates":
            print(f"\n[Telegram {call.method}]", flush=True)

    line.recorder.listeners.append(show_line)
    tg.recorder.listeners.append(show_telegram)
    app = Starlette(routes=[Mount("/line", line.api()), Mount("/telegram", tg.api())])
    base = f"http://127.0.0.1:{args.port}"
    print(f"LINE_API_BASE={base}/line\nTELEGRAM_API_BASE={base}/telegram")
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")
    return 0


# -- wiring -------------------------------------------------------------------------------------


def add_commands(sub: Any) -> None:
    p = sub.add_parser("serve", help="run the LINE and Telegram webhooks on one server")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default: PORT, else 8000)")
    p.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY") or 1),
                   help="worker processes sharing the port (default: WEB_CONCURRENCY, else 1)")
    p.set_defaults(func=cmd_serve)

    db = sub.add_parser("db", help="the server's database").add_subparsers(dest="action", required=True)
    p = db.add_parser("upgrade", help="create or upgrade the schema to the latest revision")
    p.add_argument("--url", help="SQLAlchemy URL (default: DATABASE_URL, else sqlite:///tsunagu.db)")
    p.set_defaults(func=cmd_db_upgrade)

    line = sub.add_parser("line", help="LINE channel tools").add_subparsers(dest="action", required=True)
    p = line.add_parser("richmenu", help="create the default rich menu (相談する/近くの窓口/24時間の窓口/使い方)")
    p.add_argument("--image", help=f"2500x843 PNG or JPEG (default: the bundled {RICH_MENU_IMAGE.name})")
    p.set_defaults(func=cmd_line_richmenu)
    p = line.add_parser("send", help="post a signed text event to a running server (for trying it out)")
    p.add_argument("text", help="what the resident writes")
    p.add_argument("--server", default="http://127.0.0.1:8000", help="the bot server's base URL")
    p.add_argument("--user", default="Utry", help="the LINE user id to send as")
    p.set_defaults(func=cmd_line_send)

    tg = sub.add_parser("telegram", help="Telegram channel tools").add_subparsers(dest="action", required=True)
    p = tg.add_parser("poll", help="answer Telegram by long polling (local use, no public URL)")
    p.set_defaults(func=cmd_telegram_poll)
    p = tg.add_parser("set-webhook", help="register URL as the webhook, with TELEGRAM_WEBHOOK_SECRET")
    p.add_argument("url", help="public https URL ending in /webhooks/telegram")
    p.set_defaults(func=cmd_telegram_set_webhook)
    p = tg.add_parser("send", help="post a text update with the secret to a running server (for trying it out)")
    p.add_argument("text", help="what the resident writes")
    p.add_argument("--server", default="http://127.0.0.1:8000", help="the bot server's base URL")
    p.add_argument("--chat", type=int, default=42, help="the chat id to send as")
    p.set_defaults(func=cmd_telegram_send)

    p = sub.add_parser("forget", help="delete everything linked to one resident (their own /forget, by hand)")
    p.add_argument("--channel", required=True, choices=["line", "telegram"], help="the resident's channel")
    p.add_argument("--user", required=True, help="their platform id (LINE user id, Telegram user id)")
    p.set_defaults(func=cmd_forget)
    p = sub.add_parser("purge", help="delete referral-log rows, idle residents and messages past keeping")
    p.set_defaults(func=cmd_purge)

    p = sub.add_parser("fakes", help="run loopback fake LINE and Telegram APIs that print what the bot sends")
    p.add_argument("--port", type=int, default=8081, help="port on 127.0.0.1 (default 8081)")
    p.set_defaults(func=cmd_fakes)


def main(argv: list[str] | None = None) -> int:
    """Run these commands without bot.cli (tests of the server use it too)."""
    parser = argparse.ArgumentParser(prog="bot")
    parser.add_argument("--catalogue", help="path to services.yaml")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())

"""Telegram: POST /webhooks/telegram <-> Desk, over python-telegram-bot.

    X-Telegram-Bot-Api-Secret-Token == TELEGRAM_WEBHOOK_SECRET (constant time) -- else 403, empty
    Update.de_json -> the intake (bot/service/intake.py), crisis first -> 200 (503 only if it could not be kept)
    in its turn: update_id seen before? -> skip | Application.process_update -> handlers
    handlers -> Desk (worker thread) -> sendMessage (HTML; numbers as text; URL and callback buttons)

Delivery (`_deliver`): 429 waits Telegram's retry_after (up to MAX_RETRY_AFTER) and
tries again; 5xx and failures to connect are retried with backoff (3 attempts).  A
timeout while waiting for Telegram's answer is not retried: the message may have
been sent, and sendMessage has no way to make a repeat harmless.

Buttons (callback data, at most 64 bytes): the needs offered when the bot is unsure
(a=need&i=ID), the answers to the check-in question (a=ans&v=yes|no|unsure), the
language menu (a=langs, then a=lang&l=CODE; or `/lang [code]`).  The welcome is written
in the language Telegram says the resident's app uses, when the bot writes it.

The same Application runs long polling for `bot telegram poll` (no public URL
needed).  In groups the bot answers only when mentioned or replied to, and
keeps nothing about anyone.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import html
import json
import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import timedelta

import httpx
from starlette.requests import Request
from starlette.responses import Response
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.channels import action, more_action, words
from bot.engine.render import choice_labels, label, name, render_text, shown_lang, t
from bot.service.desk import Desk
from bot.service.intake import CRISIS, OTHER, RESIDENT, Intake, Parcel
from bot.service.retry import Backoff
from bot.types import REPLY_LANGS, Referral

log = logging.getLogger("bot.telegram")

CHANNEL = "telegram"
MAX_TEXT = 4096
MAX_CALLBACK = 64
MAX_URL_BUTTONS = 6
ALLOWED_UPDATES = ["message", "callback_query"]
MAX_RETRY_AFTER = 30  # seconds: a longer flood wait is given up (and logged) rather than waited out
ANSWERING: ContextVar[Parcel | None] = ContextVar("answering", default=None)  # the update being answered
COMMANDS = {
    "start": ("はじめに・このボットについて", "About this bot"),
    "help": ("使い方", "How to use"),
    "area": ("地域を設定（例：/area 浜松市）", "Set your area (e.g. /area Hamamatsu)"),
    "lang": ("言語を選ぶ（例：/lang vi）", "Choose a language (e.g. /lang vi)"),
    "forget": ("覚えている設定を削除", "Delete what the bot remembers about you"),
}


class TelegramChannel:
    def __init__(self, desk: Desk, token: str, secret: str | None, api_base: str, polling: bool = False, *,
                 timeout: float = 10.0, backoff: Backoff | None = None, intake: Intake | None = None) -> None:
        self.desk = desk
        self.secret = secret
        self.backoff = backoff or Backoff()
        self.metrics = desk.metrics
        self.intake = intake
        builder = (Application.builder().token(token).base_url(f"{api_base}/bot").concurrent_updates(True)
                   .connect_timeout(timeout).read_timeout(timeout).write_timeout(timeout).pool_timeout(timeout))
        if not polling:
            builder = builder.updater(None)
        self.app = builder.build()
        for command, handler in (("start", self.on_start), ("help", self.on_help), ("area", self.on_area),
                                 ("lang", self.on_lang), ("forget", self.on_forget)):
            self.app.add_handler(CommandHandler(command, handler))
        # Any other command in a private chat gets the help text.
        self.app.add_handler(MessageHandler(filters.COMMAND & filters.ChatType.PRIVATE, self.on_help))
        self.app.add_handler(MessageHandler(filters.LOCATION, self.on_location))
        self.app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, self.on_text))
        self.app.add_handler(CallbackQueryHandler(self.on_button))
        self.app.add_error_handler(self.on_error)

    async def start(self) -> None:
        """Calls getMe (the bot's own name, for mentions) and starts handling queued updates."""
        await self.app.initialize()
        await self.app.start()
        if self.intake is not None:
            self.intake.handlers[CHANNEL] = self.run

    async def stop(self) -> None:
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()

    # The edge

    async def webhook(self, request: Request) -> Response:
        status, body = await self.receive(await request.body(),
                                          request.headers.get("X-Telegram-Bot-Api-Secret-Token", ""))
        return Response(body, status, media_type="application/json" if body else None)

    async def receive(self, raw: bytes, secret: str) -> tuple[int, bytes]:
        """An update in, (status, body) out: checked, read, offered to the intake."""
        if not self.secret or not hmac.compare_digest(secret.encode("utf-8", "replace"), self.secret.encode()):
            return 403, b""
        try:
            data = json.loads(raw)
            if not isinstance(data, dict):
                raise ValueError("not an object")
            update = Update.de_json(data, self.app.bot)
            ids = [update.update_id, *(x.id for x in (update.effective_chat, update.effective_user) if x)]
            if any(type(i) is not int for i in ids):
                raise ValueError("an id is not an integer")
        except Exception as e:  # noqa: BLE001
            # Answered 200: Telegram would otherwise retry an update no retry can mend.
            log.warning("telegram: unreadable update ignored (%s)", type(e).__name__)
            return 200, b'{"ok": false, "ignored": "unreadable update"}'
        try:
            parcel = Parcel(CHANNEL, data, self.priority(update), resident=self._key(update, remember=False))
        except Exception as e:  # noqa: BLE001  (a field of an odd type: in line as a message, read in its turn)
            log.warning("telegram: an update with odd fields (%s) waits its turn", type(e).__name__)
            parcel = Parcel(CHANNEL, data, RESIDENT)
        if self.intake is None:
            await self.run(parcel, update)
            return 200, b'{"ok": true}'
        if await self.intake.offer([parcel]):
            return 200, b'{"ok": true}'
        return 503, b'{"ok": false, "busy": true}'  # Telegram delivers it again

    def priority(self, update: Update) -> int:
        """Crisis: a text with a crisis word (a cheap look) or the 24-hour button; a message next; the rest."""
        message, query = update.message, update.callback_query
        if message is not None and isinstance(message.text, str) and message.text:
            return CRISIS if self.desk.urgent(message.text) else RESIDENT
        if query is not None:
            return CRISIS if isinstance(query.data, str) and action(query.data).get("a") == "24h" else RESIDENT
        return RESIDENT if message is not None else OTHER

    async def run(self, parcel: Parcel, update: Update | None = None) -> None:
        """Answer one update in its turn (its id claimed first: a repeat is skipped)."""
        update = update or Update.de_json(parcel.payload, self.app.bot)
        if not await self.desk.call(self.desk.first_delivery, f"{CHANNEL}:{update.update_id}"):
            log.info("telegram: update delivered again; answered already")
            return
        ANSWERING.set(parcel)
        await self.app.process_update(update)

    # Who is writing, and in which language

    def _key(self, update: Update, remember: bool = True) -> str | None:
        """The resident's keyed hash in a private chat; None in groups (nothing is kept there).
        (`remember=False`: the hash alone, without moving a resident stored under an old key.)"""
        chat, user = update.effective_chat, update.effective_user
        if chat is None or user is None or chat.type != ChatType.PRIVATE:
            return None
        if not remember:
            return self.desk.hasher.resident(CHANNEL, str(user.id))
        return self.desk.key(CHANNEL, str(user.id))

    def _addressed(self, message: Message) -> str | None:
        """The text meant for the bot: all of it in private; in groups only when mentioned or replied to."""
        text = message.text or ""
        if message.chat.type == ChatType.PRIVATE:
            return text
        handle = f"@{self.app.bot.username}".lower()
        mentions = [e for e, t in message.parse_entities([MessageEntity.MENTION]).items() if t.lower() == handle]
        replied = message.reply_to_message is not None and message.reply_to_message.from_user is not None \
            and message.reply_to_message.from_user.id == self.app.bot.id
        if not mentions and not replied:
            return None
        for entity in sorted(mentions, key=lambda e: e.offset, reverse=True):
            # Entity offsets count UTF-16 code units.
            units = text.encode("utf-16-le")
            text = (units[: 2 * entity.offset] + units[2 * (entity.offset + entity.length):]).decode("utf-16-le")
        return text.strip()

    async def _send(self, update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> bool:
        chat = update.effective_chat
        if chat is None:
            return False
        chat_id = chat.id

        def send() -> Awaitable[Message]:
            return self.app.bot.send_message(chat_id, _cut_lines(text, MAX_TEXT), parse_mode=ParseMode.HTML,
                                             reply_markup=markup,
                                             link_preview_options=LinkPreviewOptions(is_disabled=True))

        sent = await self._deliver(send)
        parcel = ANSWERING.get()
        if sent:
            self.metrics.deliveries.labels(CHANNEL, "send").inc()
            if parcel is not None:
                self.metrics.reply_seconds.labels(CHANNEL).observe(parcel.age)
        return sent

    async def _deliver(self, call: Callable[[], Awaitable[object]]) -> bool:
        """Make one Bot API call, retried where a repeat cannot send twice; True when Telegram took it."""
        attempts = self.backoff.attempts
        for n, delay in enumerate(self.backoff.delays(), 1):
            await asyncio.sleep(delay)
            try:
                await call()
                return True
            except RetryAfter as e:
                self._failed("429")
                wait = _seconds(e)
                if wait > MAX_RETRY_AFTER or n == attempts:
                    log.error("telegram: flood control asks to wait %ss (attempt %d of %d); given up", wait, n,
                              attempts)
                    return False
                log.warning("telegram: flood control, waiting %ss (attempt %d of %d)", wait, n, attempts)
                await asyncio.sleep(wait)
            except TimedOut as e:
                self._failed("timeout")
                if not isinstance(e.__cause__, httpx.ConnectTimeout | httpx.PoolTimeout | httpx.WriteTimeout):
                    log.error("telegram: no answer in time; not retried, as the message may have been sent")
                    return False
                log.warning("telegram: could not send in time (attempt %d of %d)", n, attempts)
            except (BadRequest, Forbidden, InvalidToken) as e:
                self._failed(type(e).__name__)
                log.error("telegram: %s from the Bot API; not retried", type(e).__name__)
                return False
            except NetworkError as e:  # 5xx, connection refused or reset
                self._failed("network")
                log.warning("telegram: %s: server error or no connection (attempt %d of %d)", type(e).__name__, n,
                            attempts)
            except TelegramError as e:
                self._failed(type(e).__name__)
                log.error("telegram: %s from the Bot API; not retried", type(e).__name__)
                return False
        log.error("telegram: message not delivered after %d attempts", attempts)
        return False

    def _failed(self, kind: str) -> None:
        self.metrics.api_errors.labels(CHANNEL, kind).inc()

    async def _lang(self, key: str | None, text: str = "") -> str:
        return await self.desk.call(self.desk.lang, key, text)

    # Handlers

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or (text := self._addressed(message)) is None:
            return
        key = self._key(update)
        if not text:
            lang = await self._lang(key)
            await self._send(update, html.escape(t(lang, "chat.ask")))
            return
        answer = await self.desk.call(self.desk.answer, CHANNEL, key, text)
        referral = answer.referral
        if referral is None:
            if answer.slow_down:
                lang = await self._lang(key, text)
                await self._send(update, html.escape(t(lang, "chat.slow_down")), controls(lang, key is None,
                                                                                          twenty_four=True))
            return
        if answer.only_area and answer.learned is not None:
            lang = shown_lang(referral)
            said = t(lang, "chat.area_set", name=answer.learned.name)
            await self._send(update, html.escape(said), controls(lang, key is None))
            return
        await self._send(update, referral_html(referral, self.desk.kept_days), keyboard(referral, key is None))

    async def on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        key = self._key(update)
        if key:
            await self.desk.call(self.desk.seen, CHANNEL, key)
        lang = await self._lang(key)
        known = await self.desk.call(self.desk.context, key)
        user = update.effective_user
        if not known.lang and not known.last_lang and user is not None and user.language_code:
            # The language the resident's Telegram app is set to, until they write or choose;
            # one the bot does not write: やさしい日本語 with English.
            lang = words.lang_named(user.language_code) or words.BOTH
        welcome = f"{t(lang, 'chat.welcome')}\n\n{words.privacy(lang, self.desk.kept_days)}"
        await self._send(update, html.escape(welcome), controls(lang, key is None))

    async def on_help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        lang = await self._lang(self._key(update))
        await self._send(update, html.escape(t(lang, "chat.help")))

    async def on_area(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        key = self._key(update)
        lang = await self._lang(key)
        query = " ".join(context.args or [])
        if key is None:
            await self._send(update, html.escape(t(lang, "chat.group_nothing_stored")))
        elif not query:
            await self._send(update, html.escape(t(lang, "chat.ask_area")))
        elif area := await self.desk.call(self.desk.set_area, CHANNEL, key, query):
            await self._send(update, html.escape(t(lang, "chat.area_set", name=area.name)))
        else:
            await self._send(update, html.escape(t(lang, "chat.area_unknown", query=query[:40])))

    async def on_lang(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/lang vi, /lang やさしい日本語: answer in that language from now on; /lang alone: the menu."""
        key = self._key(update)
        chosen = words.lang_named(" ".join(context.args or []))
        if chosen is None:
            lang = await self._lang(key)
            await self._send(update, html.escape(t(lang, "chat.lang_choose")), language_menu())
            return
        if key:
            await self.desk.call(self.desk.set_lang, CHANNEL, key, chosen)
        await self._send(update, html.escape(t(chosen, "chat.lang_set")), controls(chosen, key is None))

    async def on_forget(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        key = self._key(update)
        lang = await self._lang(key)
        if key is None:
            await self._send(update, html.escape(t(lang, "chat.group_nothing_stored")))
            return
        done = await self.desk.call(self.desk.forget, key)
        await self._send(update, html.escape(t(lang, "chat.forgotten" if done else "chat.forget_failed")))

    async def on_location(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or message.location is None or message.chat.type != ChatType.PRIVATE:
            return
        key = self._key(update)
        lang = await self._lang(key)
        where = message.location
        area = await self.desk.call(self.desk.set_location, CHANNEL, key, where.latitude, where.longitude)
        said = t(lang, "chat.location_set", name=area.name) if area else t(lang, "chat.location_failed")
        await self._send(update, html.escape(said))

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        await self._deliver(query.answer)
        key = self._key(update)
        lang = await self._lang(key)
        act = action(query.data or "")
        kind = act.get("a")
        if kind == "more":
            referral = await self.desk.call(self.desk.more, key, act)
            if referral is None:
                await self._send(update, html.escape(t(lang, "chat.no_more")))
                return
            page = int(act.get("p", "1"))
            await self._send(update, referral_html(referral),
                             keyboard(referral, key is None, more=more_action(referral, page + 1, MAX_CALLBACK)))
        elif kind == "24h":
            referral = await self.desk.call(self.desk.lines_24h, key)
            await self._send(update, referral_html(referral), keyboard(referral, key is None, more=None))
        elif kind in ("need", "ans"):
            call = self.desk.choose if kind == "need" else self.desk.answer_check
            referral = await self.desk.call(call, CHANNEL, key, act.get("i" if kind == "need" else "v", ""))
            if referral is not None:
                await self._send(update, referral_html(referral, self.desk.kept_days), keyboard(referral, key is None))
        elif kind in ("area", "near"):
            await self._send(update, html.escape(t(lang, "chat.ask_area")))
        elif kind == "langs":
            await self._send(update, html.escape(t(lang, "chat.lang_choose")), language_menu())
        elif kind == "lang" and act.get("l") in REPLY_LANGS:
            chosen = act["l"]
            if key:
                await self.desk.call(self.desk.set_lang, CHANNEL, key, chosen)
            await self._send(update, html.escape(t(chosen, "chat.lang_set")), controls(chosen, key is None))

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        error = context.error
        log.error("telegram: %s while handling an update", type(error).__name__)
        log.debug("traceback (may name values, so DEBUG only)", exc_info=error)
        if isinstance(update, Update) and not isinstance(error, TelegramError):
            with contextlib.suppress(TelegramError):
                await self._send(update, html.escape(t("ja", "chat.trouble")))


async def register_webhook(bot: Bot, url: str, secret: str) -> None:
    """Point Telegram at `url`, sending `secret` with every update; list the commands in the menu."""
    await bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)
    await set_commands(bot)


async def set_commands(bot: Bot) -> None:
    for lang, index in (("ja", 0), ("en", 1)):
        await bot.set_my_commands([BotCommand(c, d[index]) for c, d in COMMANDS.items()], language_code=lang)


# Referral -> Telegram message (pure)


def referral_html(referral: Referral, kept_days: int | None = None) -> str:
    """The shared plain-text referral (bot.engine.render), escaped for HTML, its first line in bold."""
    text = render_text(referral, kept_days)
    first, _, rest = text.partition("\n")
    if referral.opening and first == referral.opening.split("\n")[0]:
        return f"<b>{html.escape(first)}</b>\n{html.escape(rest)}".rstrip()
    return html.escape(text)


def keyboard(referral: Referral, group: bool, more: str | None = "auto") -> InlineKeyboardMarkup:
    """The check-in's answers or the needs offered first; URL buttons for the services' websites; then
    more / area / language."""
    lang = shown_lang(referral)
    rows: list[list[InlineKeyboardButton]] = []
    if referral.asks == "suicide_check" and not group:
        rows.append([InlineKeyboardButton(label(lang, f"checkin.answer_{v}"), callback_data=f"a=ans&v={v}")
                     for v in ("yes", "no", "unsure")])
    if referral.choices and not group:
        buttons = [InlineKeyboardButton(text, callback_data=f"a=need&i={i}") for i, text in choice_labels(referral)]
        rows += [buttons[n:n + 2] for n in range(0, len(buttons), 2)]
    if "offer_plain" in referral.notes and not group:
        rows.append([InlineKeyboardButton(label("ja", "meta.name"), callback_data="a=lang&l=ja")])
    rows += [[InlineKeyboardButton(_cut(f"🌐 {name(h, lang)}", 40), url=h.url)]
             for h in referral.services if h.url and h.url.startswith(("https://", "http://"))][:MAX_URL_BUTTONS]
    if more == "auto":
        more = more_action(referral, 1, MAX_CALLBACK) if referral.services and not referral.choices else None
    return InlineKeyboardMarkup([*rows, *controls(lang, group, more).inline_keyboard])


def controls(lang: str, group: bool, more: str | None = None, twenty_four: bool = False) -> InlineKeyboardMarkup:
    row = []
    if more:
        row.append(InlineKeyboardButton(label(lang, "button.more"), callback_data=more))
    if twenty_four:
        row.append(InlineKeyboardButton(label(lang, "button.lines_24h"), callback_data="a=24h"))
    if not group:
        row.append(InlineKeyboardButton(label(lang, "button.set_area"), callback_data="a=area"))
        row.append(InlineKeyboardButton(label(lang, "button.language"), callback_data="a=langs"))
    return InlineKeyboardMarkup([row] if row else [])


def language_menu() -> InlineKeyboardMarkup:
    """The ten reply languages, each named in itself, two to a row."""
    buttons = [InlineKeyboardButton(text, callback_data=f"a=lang&l={code}") for code, text in words.languages()]
    return InlineKeyboardMarkup([buttons[n:n + 2] for n in range(0, len(buttons), 2)])


def _seconds(error: RetryAfter) -> float:
    """RetryAfter's wait, read without PTB's deprecation warning (int today, timedelta in PTB 23)."""
    value = getattr(error, "_retry_after", None)
    if value is None:
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cut_lines(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a line end so no HTML tag is split."""
    if len(text) <= limit:
        return text
    return text[: text.rfind("\n", 0, limit)]

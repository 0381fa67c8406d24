"""LINE: POST /webhooks/line <-> Desk, over line-bot-sdk v3.

    X-Line-Signature: HMAC-SHA256 of the raw body, compared in constant time -- bad or missing --> 400, empty
    each event -> the intake (bot/service/intake.py), crisis first -> 200 (503 only if it could not be kept)
    in its turn: webhookEventId seen before? -> skip | Desk (worker thread) -> messages -> reply or push

Delivery (`deliver`): the reply API, retried on 5xx, 429, timeouts and network errors with
backoff (3 attempts).  A reply token is single-use, so retrying one that may have arrived
can never make a second reply: LINE refuses the token.  LINE guarantees a token for a minute
after the webhook; an event older than REPLY_TOKEN_SECONDS (it waited its turn in a burst) goes
straight to the push API when LINE_PUSH_FALLBACK is on, as does one whose token LINE refused
(expired, or retries spent without any attempt that may have arrived).  A push carries an
X-Line-Retry-Key made from the event id, so LINE delivers it once however often it is sent,
by whichever worker.  A body LINE refuses (400) is sent again once as plain text.

A referral becomes a short warm text and a Flex carousel (one bubble per
service); a crisis referral, and the check-in question, lead with a card of
tel: buttons, 24-hour lines and 110/119, before anything else.  Quick replies
carry what the resident may answer with a tap: the needs offered when the bot
is unsure (postback a=need&i=ID), the answers to the check-in (a=ans&v=yes|no|
unsure), the language menu (a=langs, then a=lang&l=CODE) and, to a resident
writing very simple Japanese, やさしい日本語.  In group and room chats the bot
answers only when mentioned and keeps nothing about anyone.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import time
import urllib.request
import uuid
from dataclasses import replace
from functools import lru_cache
from typing import Any

import aiohttp
from linebot.v3.messaging import (
    AsyncApiClient,
    AsyncMessagingApi,
    Configuration,
    FlexBox,
    FlexBubble,
    FlexButton,
    FlexCarousel,
    FlexComponent,
    FlexMessage,
    FlexSeparator,
    FlexText,
    LocationAction,
    Message,
    PostbackAction,
    PushMessageRequest,
    QuickReply,
    QuickReplyItem,
    ReplyMessageRequest,
    TextMessage,
    URIAction,
)
from linebot.v3.messaging.exceptions import ApiException
from linebot.v3.webhooks import (
    Event,
    FollowEvent,
    JoinEvent,
    LocationMessageContent,
    MessageEvent,
    PostbackEvent,
    TextMessageContent,
    UnfollowEvent,
    UserMentionee,
    UserSource,
)
from starlette.requests import Request
from starlette.responses import Response

from bot.channels import action, more_action, words
from bot.engine.render import (
    area_line,
    choice_labels,
    closing,
    crisis_lines,
    label,
    leads_with_lines,
    name,
    place_lines,
    short,
    shown_lang,
    speaks,
    status,
    t,
)
from bot.service.desk import REDELIVERY, Desk
from bot.service.intake import CRISIS, OTHER, RESIDENT, Intake, Parcel
from bot.service.retry import Backoff
from bot.types import REPLY_LANGS, Referral, ServiceHit

log = logging.getLogger("bot.line")

CHANNEL = "line"
MAX_BUBBLES = 12
MAX_ALT_TEXT = 1500
MAX_TEXT = 5000
MAX_LABEL = 40  # Flex button label
MAX_QUICK_LABEL = 20
MAX_QUICK_ITEMS = 13
GREEN, GREY, AMBER, RED, BLUE = "#15803d", "#6b7280", "#b45309", "#b91c1c", "#1d4ed8"
CRISIS_INTENTS = ("suicide_risk", "emergency")
REPLY_CONNECTIONS = 100  # connections to the reply API kept open at once
REPLY_TOKEN_SECONDS = 50.0  # LINE guarantees a reply token for a minute after the webhook; past this, push
DAY = 86400.0
RETRY_KEYS = uuid.UUID("6f1d2c1e-3b0a-4f5e-9a52-7b1e2f0c9d41")  # namespace: a push's retry key from its event id
OK, UNREADABLE, BUSY = (200, b"{}"), (400, b'{"error": "unreadable body"}'), (503, b'{"error": "busy"}')


class Repeat(Exception):
    """The event was answered before (LINE delivered it again): nothing is sent."""


class LineChannel:
    def __init__(self, desk: Desk, secret: str, token: str, api_base: str, *, push_fallback: bool = False,
                 timeout: float = 10.0, backoff: Backoff | None = None, intake: Intake | None = None,
                 token_seconds: float = REPLY_TOKEN_SECONDS) -> None:
        self.desk = desk
        self.intake = intake
        self.token_seconds = token_seconds
        self.secret = secret.encode()
        self.configuration = Configuration(host=api_base, access_token=token)
        # The SDK keeps 5 connections a core: under a burst, replies queued for one of them until they timed out.
        self.configuration.connection_pool_maxsize = REPLY_CONNECTIONS
        self.push_fallback = push_fallback
        self.timeout = timeout
        self.backoff = backoff or Backoff()
        self.client: AsyncApiClient | None = None
        self.api: AsyncMessagingApi | None = None
        self.metrics = desk.metrics

    async def start(self) -> None:
        self.client = AsyncApiClient(self.configuration)
        self.api = AsyncMessagingApi(self.client)
        if not urllib.request.getproxies():
            # No proxy to honour: spare aiohttp its look for proxy settings and ~/.netrc at every call
            # (each one a hop to a thread and back; 3% of the server's CPU in a burst).
            self.client.rest_client.pool_manager._trust_env = False
        if self.intake is not None:
            self.intake.handlers[CHANNEL] = self.run

    async def stop(self) -> None:
        if self.client is not None:
            await self.client.close()

    # The edge

    def signed(self, raw: bytes, signature: str) -> bool:
        expected = base64.b64encode(hmac.new(self.secret, raw, hashlib.sha256).digest())
        return hmac.compare_digest(expected, signature.encode("utf-8", "replace"))

    async def webhook(self, request: Request) -> Response:
        status, body = await self.receive(await request.body(), request.headers.get("X-Line-Signature", ""))
        return Response(body, status, media_type="application/json" if body else None)

    async def receive(self, raw: bytes, signature: str) -> tuple[int, bytes]:
        """A webhook body in, (status, body) out: verified, each event offered to the intake.

        The events are read only as far as their place in line needs (kind, text); each is read in full
        by the SDK in its turn (`run`), where one the SDK cannot read is skipped and logged.
        """
        received = time.time()
        if not self.signed(raw, signature):
            return 400, b""  # the same for a missing and a wrong signature: nothing to learn
        items = webhook_items(raw)
        if items is None:
            log.warning("line: a signed webhook body that is not a LINE webhook was ignored")
            return UNREADABLE
        parcels = [self._parcel(item, received) for item in items if isinstance(item, dict)]
        if self.intake is None:  # no intake (a channel used on its own): answer at once, in order
            for parcel in parcels:
                await self.run(parcel)
            return OK
        return OK if await self.intake.offer(parcels) else BUSY

    def _parcel(self, item: dict[str, Any], received: float) -> Parcel:
        # A reply token's minute runs from LINE's side: an event that came late (LINE's deliveries backed
        # up, or a redelivery) is as old as its timestamp says, if that is earlier than its arrival here.
        stamp = item.get("timestamp")
        if isinstance(stamp, int | float) and received - DAY < stamp / 1000 < received:
            received = stamp / 1000
        try:
            return Parcel(CHANNEL, item, self.priority(item), received, self._resident(item))
        except Exception as e:  # noqa: BLE001  (odd fields: in line as a message; the SDK reads it in its turn)
            log.warning("line: an event with odd fields (%s) waits its turn", type(e).__name__)
            return Parcel(CHANNEL, item, RESIDENT, received)

    def priority(self, item: dict[str, Any]) -> int:
        """Crisis: a text with a crisis word (a cheap look) or the 24-hour button; a resident's own
        message next; then the rest (follows, other buttons, group chatter)."""
        message = item.get("message")
        if item.get("type") == "message" and isinstance(message, dict):
            text = message.get("text")
            if message.get("type") == "text" and isinstance(text, str):
                return CRISIS if self.desk.urgent(text) else RESIDENT
            return RESIDENT
        postback = item.get("postback")
        if item.get("type") == "postback" and isinstance(postback, dict):
            return CRISIS if action(str(postback.get("data", ""))).get("a") == "24h" else RESIDENT
        return OTHER

    def _resident(self, item: dict[str, Any]) -> str | None:
        source = item.get("source")
        user = source.get("userId") if isinstance(source, dict) and source.get("type") == "user" else None
        return self.desk.hasher.resident(CHANNEL, user) if isinstance(user, str) else None

    async def run(self, parcel: Parcel) -> None:
        """Answer one event in its turn: read it, the Desk, then reply (or push, once the token is stale)."""
        item = parcel.payload
        event_id = item.get("webhookEventId")
        if not isinstance(event_id, str) or not event_id:
            return
        plain = _plain_text(item)
        context = item.get("deliveryContext")
        REDELIVERY.set(isinstance(context, dict) and context.get("isRedelivery") is True)  # this task's own
        try:
            if plain is not None:  # a resident's text in a 1:1 chat, read straight from the JSON
                user_id, text = plain
                messages = await self.desk.call(self.respond_text, user_id, text, f"{CHANNEL}:{event_id}")
            else:
                event = read_event(item)
                if event is None:
                    return
                messages = await self.desk.call(self.respond, event, f"{CHANNEL}:{event_id}")
        except Repeat:
            log.info("line: %s event delivered again; answered already", item.get("type"))
            return
        except Exception as e:  # noqa: BLE001  (the resident still gets an answer)
            log.error("line: %s while answering a %s event", type(e).__name__, item.get("type"))
            messages = [TextMessage(text=t("ja", "chat.trouble"))]
        token = item.get("replyToken")
        source = item.get("source")
        user = source.get("userId") if isinstance(source, dict) and source.get("type") == "user" else None
        if messages and isinstance(token, str) and token:
            await self.deliver(token, messages, user if isinstance(user, str) else None, parcel, event_id)

    # Delivery

    async def deliver(self, token: str, messages: list[Message], user: str | None = None,
                      parcel: Parcel | None = None, event_id: str | None = None) -> bool:
        """Answer once, whatever fails on the way; True when LINE took the messages.  Never raises."""
        if self.api is None:
            return False
        if parcel is not None and parcel.age >= self.token_seconds and self.push_fallback and user:
            return await self.push(user, messages, parcel, event_id)  # the token is past LINE's guarantee
        maybe_arrived = False  # an attempt timed out or broke after sending: LINE may have it
        plain_tried = False
        attempts = self.backoff.attempts
        for n, delay in enumerate(self.backoff.delays(), 1):
            await asyncio.sleep(delay)
            try:
                await self._send("/v2/bot/message/reply", Reply.construct(reply_token=token, messages=messages))
                self._delivered(parcel, "reply")
                return True
            except ApiException as e:
                status = e.status or 0
                self._failed(str(status))
                if status == 400 and _token_refused(e):
                    if maybe_arrived:
                        log.warning("line: reply token refused after an attempt that may have arrived; "
                                    "taken as delivered (no second reply)")
                        return False
                    log.warning("line: reply token refused (expired or used)")
                    break
                if status == 400 and not plain_tried:
                    log.error("line: reply refused as invalid (HTTP 400); sending it as plain text")
                    messages, plain_tried = [plain(messages)], True
                    continue
                if status == 429 or status >= 500:
                    log.warning("line: reply refused with HTTP %s (attempt %d of %d)", status, n, attempts)
                    continue
                log.error("line: reply refused with HTTP %s; not retried", status)
                return False
            except (TimeoutError, aiohttp.ServerTimeoutError):
                maybe_arrived = True
                self._failed("timeout")
                log.warning("line: reply timed out after %ss (attempt %d of %d)", self.timeout, n, attempts)
            except aiohttp.ClientConnectorError as e:
                self._failed("network")
                log.warning("line: could not reach the reply API (%s, attempt %d of %d)", type(e).__name__, n,
                            attempts)
            except aiohttp.ClientError as e:
                maybe_arrived = True
                self._failed("network")
                log.warning("line: reply broke off (%s, attempt %d of %d)", type(e).__name__, n, attempts)
        else:
            if maybe_arrived:
                log.error("line: reply not confirmed after %d attempts; not pushed, as one may have arrived", attempts)
                return False
        if self.push_fallback and user:
            return await self.push(user, messages, parcel, event_id)
        log.error("line: reply not delivered%s", "" if user else " (no user to push to)" if self.push_fallback
                  else " (LINE_PUSH_FALLBACK is off)")
        return False

    async def push(self, user: str, messages: list[Message], parcel: Parcel | None = None,
                   event_id: str | None = None) -> bool:
        """The push API with one retry key for every attempt, made from the event id when there is one:
        LINE delivers it at most once (409 on a repeat), whichever worker sends it."""
        assert self.api is not None
        retry_key = str(uuid.uuid5(RETRY_KEYS, event_id) if event_id else uuid.uuid4())
        for n, delay in enumerate(self.backoff.delays(), 1):
            await asyncio.sleep(delay)
            try:
                await self._send("/v2/bot/message/push", Push.construct(to=user, messages=messages),
                                 {"X-Line-Retry-Key": retry_key})
                log.info("line: delivered by push instead of reply")
                self._delivered(parcel, "push")
                return True
            except ApiException as e:
                status = e.status or 0
                if status == 409:  # this retry key was accepted before: delivered
                    self._delivered(parcel, "push")
                    return True
                self._failed(f"push {status}")
                if status == 429 or status >= 500:
                    log.warning("line: push refused with HTTP %s (attempt %d of %d)", status, n, self.backoff.attempts)
                    continue
                log.error("line: push refused with HTTP %s; not retried", status)
                return False
            except (TimeoutError, aiohttp.ClientError) as e:
                self._failed("push network")
                log.warning("line: push failed (%s, attempt %d of %d)", type(e).__name__, n, self.backoff.attempts)
        log.error("line: push not delivered after %d attempts", self.backoff.attempts)
        return False

    async def _send(self, path: str, body: Any, headers: dict[str, str] | None = None) -> None:
        """POST a request model through the SDK's own client (its auth, serialisation, errors as
        ApiException), without what the generated method adds on top: validating the arguments
        twice and reading the answer into a model nobody looks at."""
        assert self.client is not None
        await self.client.call_api(
            path, "POST", header_params={"Accept": "application/json", "Content-Type": "application/json",
                                         **(headers or {})},
            body=body, response_types_map={}, auth_settings=["Bearer"], _return_http_data_only=True,
            _preload_content=True, _request_timeout=self.timeout, collection_formats={})

    def _delivered(self, parcel: Parcel | None, how: str) -> None:
        self.metrics.deliveries.labels(CHANNEL, how).inc()
        if parcel is not None:
            self.metrics.reply_seconds.labels(CHANNEL).observe(parcel.age)

    def _failed(self, kind: str) -> None:
        self.metrics.api_errors.labels(CHANNEL, kind).inc()

    # Events -> messages (synchronous: runs in a worker thread)

    def respond(self, event: Event, event_id: str | None = None) -> list[Message] | None:
        """The messages that answer an event (None: nothing to say).  With `event_id`, an event answered
        before raises Repeat; a resident's text claims its id in the same transaction as its other reads."""
        if event_id and not self._claims_with_text(event) and not self.desk.first_delivery(event_id):
            raise Repeat
        source = event.source
        key = self.desk.key(CHANNEL, source.user_id) if isinstance(source, UserSource) and source.user_id else None
        group = not isinstance(source, UserSource)
        if isinstance(event, FollowEvent):
            if key:
                self.desk.seen(CHANNEL, key)
            lang = self.desk.lang(key)
            return [TextMessage(text=t(lang, "chat.welcome")),
                    TextMessage(text=words.privacy(lang, self.desk.kept_days),
                                quick_reply=quick_replies(lang, group=False))]
        if isinstance(event, UnfollowEvent):
            if key:
                self.desk.forget(key)
            return None
        if isinstance(event, JoinEvent):
            return [TextMessage(text=t("ja", "chat.group_joined"))]
        if isinstance(event, PostbackEvent):
            return self._postback(key, group, event.postback.data)
        if isinstance(event, MessageEvent):
            message = event.message
            if isinstance(message, TextMessageContent):
                text = message.text
                if group:
                    text = mentioned(message)
                    if text is None:
                        return None
                return self._text(key, group, text, event_id)
            if group:
                return None
            lang = self.desk.lang(key)
            if isinstance(message, LocationMessageContent):
                area = self.desk.set_location(CHANNEL, key, float(message.latitude), float(message.longitude))
                text = t(lang, "chat.location_set", name=area.name) if area else t(lang, "chat.location_failed")
                return [TextMessage(text=text, quick_reply=quick_replies(lang, group))]
            return [TextMessage(text=t(lang, "chat.not_text"), quick_reply=quick_replies(lang, group))]
        return None

    def respond_text(self, user: str, text: str, event_id: str | None = None) -> list[Message] | None:
        """`respond` for a resident's text in a 1:1 chat, from the fields alone (no SDK models to build)."""
        return self._text(self.desk.key(CHANNEL, user), False, text, event_id)

    @staticmethod
    def _claims_with_text(event: Event) -> bool:
        """A text message whose event id `_text` claims itself (within Desk.answer), and other events not."""
        return isinstance(event, MessageEvent) and isinstance(event.message, TextMessageContent)

    def _text(self, key: str | None, group: bool, text: str, event_id: str | None = None) -> list[Message] | None:
        if event_id and (not text.strip() or text.strip().lower() in words.FORGET_WORDS):
            if not self.desk.first_delivery(event_id):
                raise Repeat
            event_id = None
        if not text.strip():
            lang = self.desk.lang(key)
            return [TextMessage(text=t(lang, "chat.ask"), quick_reply=quick_replies(lang, group))]
        if text.strip().lower() in words.FORGET_WORDS:
            lang = self.desk.lang(key)
            if key is None:
                return [TextMessage(text=t(lang, "chat.group_nothing_stored"))]
            said = t(lang, "chat.forgotten") if self.desk.forget(key) else t(lang, "chat.forget_failed")
            return [TextMessage(text=said)]
        answer = self.desk.answer(CHANNEL, key, text, event_id=event_id)
        if answer.repeat:
            raise Repeat
        referral = answer.referral
        if referral is None:
            if not answer.slow_down:
                return None
            lang = self.desk.lang(key, text)
            return [TextMessage(text=t(lang, "chat.slow_down"), quick_reply=quick_replies(lang, group))]
        if answer.only_area and answer.learned is not None:
            lang = shown_lang(referral)
            said = t(lang, "chat.area_set", name=answer.learned.name)
            return [TextMessage(text=said, quick_reply=quick_replies(lang, group))]
        return referral_messages(referral, group=group, kept_days=self.desk.kept_days)

    def _postback(self, key: str | None, group: bool, data: str) -> list[Message] | None:
        act = action(data)
        lang = self.desk.lang(key)
        kind = act.get("a")
        if kind == "more":
            referral = self.desk.more(key, act)
            if referral is None:
                return [TextMessage(text=t(lang, "chat.no_more"), quick_reply=quick_replies(lang, group))]
            page = int(act.get("p", "1"))
            return referral_messages(referral, group=group, more=more_action(referral, page + 1))
        if kind == "24h":
            return referral_messages(self.desk.lines_24h(key), group=group)
        if kind == "need" and (referral := self.desk.choose(CHANNEL, key, act.get("i", ""))):
            return referral_messages(referral, group=group, kept_days=self.desk.kept_days)
        if kind == "ans" and (referral := self.desk.answer_check(CHANNEL, key, act.get("v", ""))):
            return referral_messages(referral, group=group)
        if kind in ("area", "near"):
            return [TextMessage(text=t(lang, "chat.ask_area"), quick_reply=quick_replies(lang, group))]
        if kind == "ask":
            return [TextMessage(text=t(lang, "chat.ask"), quick_reply=quick_replies(lang, group))]
        if kind == "help":
            return [TextMessage(text=t(lang, "chat.help"), quick_reply=quick_replies(lang, group))]
        if kind == "langs":
            return [TextMessage(text=t(lang, "chat.lang_choose"), quick_reply=language_menu())]
        if kind == "lang" and act.get("l") in REPLY_LANGS:
            chosen = act["l"]
            if key:
                self.desk.set_lang(CHANNEL, key, chosen)  # type: ignore[arg-type]
            return [TextMessage(text=t(chosen, "chat.lang_set"), quick_reply=quick_replies(chosen, group))]
        return None


def as_json(model: Any) -> Any:
    """An SDK model as the dict its own `to_dict()` gives (by alias, without None), in one walk.

    The generated `to_dict()` dumps a model whole and then dumps each nested model again to
    replace its part, at every level: a carousel of 12 bubbles costs 3.3 ms that way and 0.2 ms
    here.  tests/channels/test_line.py checks both give the same dict for every kind of reply.
    """
    if isinstance(model, list):
        return [as_json(x) for x in model]
    if isinstance(model, dict):
        return {k: as_json(v) for k, v in model.items()}
    fields = getattr(model, "__fields__", None)
    if fields is None:
        return model
    out = {}
    for attr, field in fields.items():
        value = getattr(model, attr)
        if value is not None:
            out[field.alias] = as_json(value)
    return out


class Reply(ReplyMessageRequest):
    """The SDK's reply request, serialised by `as_json` (the SDK sends what `to_dict()` returns)."""

    def to_dict(self) -> dict[str, Any]:
        return as_json(self)


class Push(PushMessageRequest):
    """The SDK's push request, serialised by `as_json`."""

    def to_dict(self) -> dict[str, Any]:
        return as_json(self)


def webhook_items(raw: bytes) -> list[Any] | None:
    """The events of a (signed) webhook body, as JSON; None when it is not a webhook body at all
    (not UTF-8 JSON with an "events" list)."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        return None
    return body["events"]


def read_event(item: Any) -> Event | None:
    """One event as the SDK reads it; None (and a log line) for one it cannot read."""
    try:
        event = Event.from_dict(item)
    except Exception:  # noqa: BLE001  (pydantic, ValueError for unknown types, TypeError, ...)
        event = None
    if event is None:
        kind = item.get("type") if isinstance(item, dict) else None
        log.info("line: an event LINE's SDK cannot read was skipped (type %s)",
                 kind if isinstance(kind, str) and kind.isascii() and len(kind) < 30 else "?")
    return event


def parse_events(raw: bytes) -> list[Event] | None:
    """The events of a (signed) webhook body that the SDK can read; None when it is not a webhook body."""
    items = webhook_items(raw)
    if items is None:
        return None
    return [event for event in map(read_event, items) if event is not None]


def _plain_text(item: dict[str, Any]) -> tuple[str, str] | None:
    """(user id, text) of a resident's text message in a 1:1 chat, when every field is as LINE sends it;
    None for anything else (the SDK reads that one)."""
    message, source = item.get("message"), item.get("source")
    if item.get("type") != "message" or not isinstance(message, dict) or not isinstance(source, dict):
        return None
    text, user = message.get("text"), source.get("userId")
    if message.get("type") != "text" or source.get("type") != "user" or not isinstance(text, str) \
            or not isinstance(user, str) or not user or "mention" in message:
        return None
    return user, text


def _token_refused(error: ApiException) -> bool:
    """LINE's 400 for a reply token that is expired or used: {"message": "Invalid reply token"}."""
    try:
        message = json.loads(error.body or b"{}").get("message", "")
    except (ValueError, AttributeError):
        return False
    return isinstance(message, str) and "reply token" in message.lower()


def plain(messages: list[Message]) -> TextMessage:
    """The messages as one text: texts as they are, Flex by its alt text (names and numbers)."""
    parts = [m.text if isinstance(m, TextMessage) else m.alt_text if isinstance(m, FlexMessage) else ""
             for m in messages]
    text = "\n\n".join(p for p in parts if p) or t("ja", "chat.trouble")
    return TextMessage(text=_cut(text, MAX_TEXT))


def mentioned(message: TextMessageContent) -> str | None:
    """The text of a group message addressed to the bot, without the mention; None if not addressed."""
    mention = message.mention
    selves = [m for m in (mention.mentionees if mention else []) if isinstance(m, UserMentionee) and m.is_self]
    if not selves:
        return None
    text = message.text
    for m in sorted(selves, key=lambda m: m.index, reverse=True):
        text = text[: m.index] + text[m.index + m.length:]
    return text.strip()


# Referral -> LINE messages (pure)


def referral_messages(referral: Referral, *, group: bool = False, more: str | None = "auto",
                      kept_days: int | None = None) -> list[Message]:
    """At most 4 of LINE's 5 messages: [crisis card] [warm text] [carousel] [question], quick replies on the last.

    A crisis, and the check-in, lead with the card of tel: buttons; the check-in's question comes last,
    with its answers as quick replies.  `kept_days`: for the privacy notice (STORE_MESSAGES).
    """
    lang = shown_lang(referral)
    messages: list[Message] = []
    hits = list(referral.services)
    after = closing(referral, kept_days)
    if leads_with_lines(referral):
        lines = [h for h in crisis_lines(referral) if h.phone]
        messages.append(crisis_card(referral, lines))
        hits = [h for h in hits if h not in lines]
        text = "\n".join(x for x in (referral.opening if referral.asks else None, *after) if x)
    else:
        choose = t(lang, "unsure.choose") if referral.choices else None
        where = area_line(referral) if referral.services and not referral.choices else None
        text = "\n".join(x for x in (referral.opening, choose, where, *after) if x)
        if text:
            messages.append(TextMessage(text=text[:MAX_TEXT]))
        text = ""
    if hits:
        messages.append(carousel(hits[:MAX_BUBBLES], referral))
    if text:
        messages.append(TextMessage(text=text[:MAX_TEXT]))  # the question, last: answered by quick reply
    if not messages:
        messages.append(TextMessage(text=t(lang, "chat.help")))
    if more == "auto":
        more = more_action(referral) if referral.services and not referral.choices else None
    messages[-1].quick_reply = quick_replies(lang, group, more=more, referral=referral)
    return messages


def crisis_card(referral: Referral, lines: list[ServiceHit]) -> FlexMessage:
    """tel: buttons first: the 24-hour lines open now and 110/119 (110/119 on top when life is at risk)."""
    lang = shown_lang(referral)
    buttons: list[tuple[str, str]] = []  # (label, tel: uri)
    for hit in lines:
        if (uri := words.dial(hit.phone or "")) and (shown := words.number(hit.phone or "")):
            text = name(hit, lang)
            buttons.append((f"📞 {text}" if shown in text else f"📞 {shown} {text}", uri))
    have = {uri for _, uri in buttons}
    emergency = [(f"🚨 {label(lang, key)}", f"tel:{num}") for num, key in words.EMERGENCY if f"tel:{num}" not in have]
    buttons = emergency + buttons if referral.emergency else buttons + emergency
    body: list[FlexComponent] = [
        # Emergency numbers in red, the first line in green, the rest quieter: all white on colour.
        FlexButton(action=URIAction(label=_cut(text, MAX_LABEL), uri=uri), style="primary", height="sm", margin="sm",
                   color=RED if uri in ("tel:110", "tel:119") else (GREEN if i == 0 else BLUE))
        for i, (text, uri) in enumerate(buttons)
    ]
    badges = [b for h in lines if (b := speaks(h, referral))]
    notes = [x for x in (None if referral.asks else referral.opening, *dict.fromkeys(badges),
                         t(lang, "reply.not_counsellor"), t(lang, "reply.danger"),
                         t(lang, "reply.emergency_explain")) if x]
    body.append(FlexSeparator(margin="lg"))
    body += [FlexText(text=x, wrap=True, size="sm" if i == 0 else "xs", color=None if i == 0 else GREY,
                      margin="md") for i, x in enumerate(notes)]
    alt = "\n".join([referral.opening or label(lang, "button.lines_24h"), *(text for text, _ in buttons)])
    bubble = FlexBubble(body=FlexBox(layout="vertical", contents=body, spacing="sm"))
    return FlexMessage(alt_text=_cut(alt, MAX_ALT_TEXT), contents=bubble)


def carousel(hits: list[ServiceHit], referral: Referral) -> FlexMessage:
    lang = shown_lang(referral)
    alt = "\n".join(f"{name(h, lang)} {words.number(h.phone or '') or ''}".strip() for h in hits)
    heading = label(lang, "reply.more") if leads_with_lines(referral) else label(lang, "button.services")
    return FlexMessage(alt_text=_cut(f"{heading}\n{alt}", MAX_ALT_TEXT),
                       contents=FlexCarousel(contents=[bubble(h, lang, speaks(h, referral)) for h in hits]))


def bubble(hit: ServiceHit, lang: str, badge: str | None = None) -> FlexBubble:
    """One service: name, who it is for, the language it speaks, open-now badge or next opening, hours,
    free mark, buttons.

    Drawn once per service and state and then kept: the same few lines appear in most replies of a
    burst, and building the SDK's models (validated field by field) cost more than matching the
    message.  Kept bubbles are shared between replies: never change one.
    """
    return _bubble(shown(hit), lang, badge)


def shown(hit: ServiceHit) -> ServiceHit:
    """The hit with only what a bubble shows: the key it is kept under.  (`why` is for the console;
    `next_open` of an open service is the moment it was asked.)  tests/channels/test_line.py checks both agree."""
    return replace(hit, why="", next_open=None if hit.open_now else hit.next_open)


@lru_cache(maxsize=4096)
def _bubble(hit: ServiceHit, lang: str, badge: str | None = None) -> FlexBubble:
    colour = GREY if hit.open_now is None else (GREEN if hit.open_now else AMBER)
    body: list[FlexComponent] = [FlexText(text=name(hit, lang), weight="bold", size="md", wrap=True)]
    if hit.for_whom:
        body.append(FlexText(text=hit.for_whom, size="xs", color=GREY, wrap=True))
    if badge:
        body.append(FlexText(text=f"🗣 {badge}", size="sm", color=BLUE, weight="bold", wrap=True, margin="sm"))
    body.append(FlexText(text=status(hit, lang), size="sm", color=colour, weight="bold", wrap=True, margin="md"))
    if hit.hours_text and hit.open_now is not None and not hit.always_open:
        body.append(FlexText(text=hit.hours_text, size="xs", color=GREY, wrap=True))
    if hit.kind == "place":  # when and where it meets, and the credit its data's licence asks for
        body += [FlexText(text=x, size="xs", color=GREY, wrap=True) for x in place_lines(hit, lang)]
    marks = [x for x in (words.number(hit.phone) if hit.phone else None,
                         short(lang, "reply.free") if hit.free == "yes" else None,
                         short(lang, "reply.km", km=hit.distance_km) if hit.distance_km is not None else None) if x]
    if marks:
        body.append(FlexText(text="・".join(marks) if lang in ("ja", "ja-easy", "zh") else ", ".join(marks),
                             size="sm", wrap=True, margin="md"))
    buttons: list[FlexComponent] = []
    if hit.phone and (uri := words.dial(hit.phone)):
        buttons.append(FlexButton(action=URIAction(label=_cut(f"📞 {label(lang, 'button.call')} "
                                                              f"{words.number(hit.phone)}", MAX_LABEL), uri=uri),
                                  style="primary", color=GREEN, height="sm"))
    if hit.line_url and hit.line_url.startswith("https://"):
        buttons.append(FlexButton(action=URIAction(label=label(lang, "button.line_chat"), uri=hit.line_url),
                                  style="secondary", height="sm"))
    if hit.url and hit.url.startswith(("https://", "http://")):
        buttons.append(FlexButton(action=URIAction(label=label(lang, "button.website"), uri=hit.url), style="link",
                                  height="sm"))
    footer = FlexBox(layout="vertical", contents=buttons, spacing="sm") if buttons else None
    return FlexBubble(body=FlexBox(layout="vertical", contents=body, spacing="xs"), footer=footer)


def _postback(text: str, data: str) -> QuickReplyItem:
    return QuickReplyItem(action=PostbackAction(label=_cut(text, MAX_QUICK_LABEL), data=data, display_text=text))


def quick_replies(lang: str, group: bool, more: str | None = None, referral: Referral | None = None) -> QuickReply:
    """What the resident may tap next (at most 13).  To the check-in question: its three answers; when the
    bot was unsure: the needs offered; to very simple Japanese: やさしい日本語.  Then 近くの窓口 (location),
    ほかの相談先, 24時間の窓口, 地域を設定, 言語 / Language; in groups only what keeps nothing."""
    items: list[QuickReplyItem] = []
    asks = referral is not None and referral.asks == "suicide_check" and not group
    if asks:
        items += [_postback(label(lang, f"checkin.answer_{v}"), f"a=ans&v={v}") for v in ("yes", "no", "unsure")]
    if referral is not None and referral.choices and not group:
        items += [_postback(text, f"a=need&i={i}") for i, text in choice_labels(referral)]
    if referral is not None and "offer_plain" in referral.notes and not group:
        items.append(_postback(label("ja", "meta.name"), "a=lang&l=ja"))
    if not group and not asks:
        items.append(QuickReplyItem(action=LocationAction(label=label(lang, "button.near"))))
    if more and not asks:
        items.append(_postback(label(lang, "button.more"), more))
    items.append(_postback(label(lang, "button.lines_24h"), "a=24h"))
    if not group and not asks:
        items.append(_postback(label(lang, "button.set_area"), "a=area"))
    if not group:
        items.append(_postback(label(lang, "button.language"), "a=langs"))
    return QuickReply(items=items[:MAX_QUICK_ITEMS])


def language_menu() -> QuickReply:
    """The ten reply languages, each named in itself."""
    return QuickReply(items=[_postback(name_, f"a=lang&l={code}") for code, name_ in words.languages()])


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def rich_menu_request() -> Any:
    """The default rich menu: 相談する / 近くの窓口 / 24時間の窓口 / 使い方, four columns of a 2500x843 image."""
    from linebot.v3.messaging import RichMenuArea, RichMenuBounds, RichMenuRequest, RichMenuSize

    width, height = 2500, 843
    actions = [
        PostbackAction(label="相談する", data="a=ask", display_text="相談する", input_option="openKeyboard"),
        PostbackAction(label="近くの窓口", data="a=near", display_text="近くの窓口"),
        PostbackAction(label="24時間の窓口", data="a=24h", display_text="24時間の窓口"),
        PostbackAction(label="使い方", data="a=help", display_text="使い方"),
    ]
    column = width // len(actions)
    areas = [RichMenuArea(bounds=RichMenuBounds(x=i * column, y=0, width=column, height=height), action=a)
             for i, a in enumerate(actions)]
    return RichMenuRequest(size=RichMenuSize(width=width, height=height), selected=True, name="tsunagu-default",
                           chat_bar_text="メニュー", areas=areas)

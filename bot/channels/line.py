"""LINE: POST /webhooks/line <-> Desk, over line-bot-sdk v3.

    X-Line-Signature over the raw body (WebhookParser) -- bad or missing --> 400, nothing else
    200 at once; then per event, in the background:
      webhookEventId seen before? -> skip | Desk (worker thread) -> messages -> reply API (reply token)

A referral becomes a short warm text and a Flex carousel (one bubble per
service); a crisis referral leads with a card of tel: buttons, 24-hour lines
and 110/119, before anything else.  In group and room chats the bot answers
only when mentioned and keeps nothing about anyone.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from linebot.v3 import WebhookParser
from linebot.v3.exceptions import InvalidSignatureError
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
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.channels import Desk, action, more_action, words
from bot.render import area_line, name, status, t
from bot.types import Lang, Referral, ServiceHit

log = logging.getLogger("bot.line")

CHANNEL = "line"
MAX_BUBBLES = 12
MAX_ALT_TEXT = 1500
MAX_TEXT = 5000
MAX_LABEL = 40  # Flex button label
MAX_QUICK_LABEL = 20
GREEN, GREY, AMBER, RED, BLUE = "#15803d", "#6b7280", "#b45309", "#b91c1c", "#1d4ed8"
CRISIS_INTENTS = ("suicide_risk", "emergency")


class LineChannel:
    def __init__(self, desk: Desk, secret: str, token: str, api_base: str) -> None:
        self.desk = desk
        self.parser = WebhookParser(secret)
        self.configuration = Configuration(host=api_base, access_token=token)
        self.client: AsyncApiClient | None = None
        self.api: AsyncMessagingApi | None = None

    async def start(self) -> None:
        self.client = AsyncApiClient(self.configuration)
        self.api = AsyncMessagingApi(self.client)

    async def stop(self) -> None:
        if self.client is not None:
            await self.client.close()

    # The edge

    async def webhook(self, request: Request) -> Response:
        signature = request.headers.get("X-Line-Signature")
        raw = await request.body()
        if not signature:
            return JSONResponse({"error": "missing signature"}, 400)
        try:
            body = raw.decode("utf-8")
            events = self.parser.parse(body, signature)
        except (InvalidSignatureError, UnicodeDecodeError):
            return JSONResponse({"error": "bad signature"}, 400)
        except Exception as e:  # noqa: BLE001  (signed by LINE, but not a webhook body we can read)
            log.warning("line: unreadable webhook body (%s)", type(e).__name__)
            return JSONResponse({"error": "unreadable body"}, 400)
        return JSONResponse({}, background=BackgroundTask(self.handle, events))

    async def handle(self, events: list[Event]) -> None:
        for event in events:
            try:
                await self._event(event)
            except Exception as e:  # noqa: BLE001  (one bad event never stops the others or the server)
                log.error("line: %s while handling a %s event", type(e).__name__, getattr(event, "type", "?"))

    async def _event(self, event: Event) -> None:
        event_id = getattr(event, "webhook_event_id", None)
        if not event_id:
            return
        if not await asyncio.to_thread(self.desk.first_delivery, f"{CHANNEL}:{event_id}"):
            log.info("line: %s event delivered again; answered already", event.type)
            return
        try:
            messages = await asyncio.to_thread(self.respond, event)
        except Exception as e:  # noqa: BLE001  (the resident still gets an answer)
            log.error("line: %s while answering a %s event", type(e).__name__, event.type)
            messages = [TextMessage(text=words.TROUBLE["ja"])]
        token = getattr(event, "reply_token", None)
        if messages and token and self.api is not None:
            try:
                await self.api.reply_message(ReplyMessageRequest(reply_token=token, messages=messages))
            except ApiException as e:
                log.error("line: reply refused with HTTP %s", e.status)

    # Events -> messages (synchronous: runs in a worker thread)

    def respond(self, event: Event) -> list[Message] | None:
        source = event.source
        key = self.desk.key(CHANNEL, source.user_id) if isinstance(source, UserSource) and source.user_id else None
        group = not isinstance(source, UserSource)
        if isinstance(event, FollowEvent):
            if key:
                self.desk.store.seen(key, CHANNEL)
            return [TextMessage(text=words.WELCOME["ja"], quick_reply=quick_replies("ja", group=False))]
        if isinstance(event, UnfollowEvent):
            if key:
                self.desk.forget(key)
            return None
        if isinstance(event, JoinEvent):
            return [TextMessage(text=words.GROUP_JOINED["ja"])]
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
                return self._text(key, group, text)
            if group:
                return None
            lang = self.desk.lang(key)
            if isinstance(message, LocationMessageContent):
                area = self.desk.set_location(CHANNEL, key, float(message.latitude), float(message.longitude))
                text = (words.LOCATION_SET[lang].format(name=area.name) if area else words.LOCATION_FAILED[lang])
                return [TextMessage(text=text, quick_reply=quick_replies(lang, group))]
            return [TextMessage(text=words.NOT_TEXT[lang], quick_reply=quick_replies(lang, group))]
        return None

    def _text(self, key: str | None, group: bool, text: str) -> list[Message]:
        if not text.strip():
            lang = self.desk.lang(key)
            return [TextMessage(text=words.ASK[lang], quick_reply=quick_replies(lang, group))]
        answer = self.desk.answer(CHANNEL, key, text)
        referral = answer.referral
        if answer.only_area and answer.learned is not None:
            said = words.AREA_SET[referral.lang].format(name=answer.learned.name)
            return [TextMessage(text=said, quick_reply=quick_replies(referral.lang, group))]
        return referral_messages(referral, group=group)

    def _postback(self, key: str | None, group: bool, data: str) -> list[Message] | None:
        act = action(data)
        lang = self.desk.lang(key)
        kind = act.get("a")
        if kind == "more":
            referral = self.desk.more(key, act, lang)
            if referral is None:
                return [TextMessage(text=words.NO_MORE[lang], quick_reply=quick_replies(lang, group))]
            page = int(act.get("p", "1"))
            return referral_messages(referral, group=group, more=more_action(referral, page + 1))
        if kind == "24h":
            return referral_messages(self.desk.lines_24h(key, lang), group=group)
        if kind in ("area", "near"):
            return [TextMessage(text=words.ASK_AREA[lang], quick_reply=quick_replies(lang, group))]
        if kind == "ask":
            return [TextMessage(text=words.ASK[lang], quick_reply=quick_replies(lang, group))]
        if kind == "help":
            return [TextMessage(text=words.HELP[lang], quick_reply=quick_replies(lang, group))]
        if kind == "lang" and act.get("l") in ("ja", "en"):
            chosen: Lang = "en" if act["l"] == "en" else "ja"
            if key:
                self.desk.set_lang(CHANNEL, key, chosen)
            return [TextMessage(text=words.LANG_SET[chosen], quick_reply=quick_replies(chosen, group))]
        return None


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


def referral_messages(referral: Referral, *, group: bool = False, more: str | None = "auto") -> list[Message]:
    """At most 3 of LINE's 5 messages: [crisis card] [warm text] [carousel], quick replies on the last."""
    lang = referral.lang
    messages: list[Message] = []
    hits = list(referral.services)
    if referral.crisis:
        lines = [h for h in hits if h.intent in CRISIS_INTENTS and h.phone]
        messages.append(crisis_card(referral, lines))
        hits = [h for h in hits if h not in lines]
    else:
        text = "\n".join(x for x in (referral.opening, area_line(referral) if referral.services else None) if x)
        if text:
            messages.append(TextMessage(text=text[:MAX_TEXT]))
    if hits:
        messages.append(carousel(hits[:MAX_BUBBLES], referral))
    if not messages:
        messages.append(TextMessage(text=words.HELP[lang]))
    if more == "auto":
        more = more_action(referral) if referral.services else None
    messages[-1].quick_reply = quick_replies(lang, group, more=more)
    return messages


def crisis_card(referral: Referral, lines: list[ServiceHit]) -> FlexMessage:
    """tel: buttons first: the 24-hour lines open now and 110/119 (110/119 on top when life is at risk)."""
    lang = referral.lang
    buttons: list[tuple[str, str]] = []  # (label, tel: uri)
    for hit in lines:
        if (uri := words.dial(hit.phone or "")) and (shown := words.number(hit.phone or "")):
            label = name(hit, lang)
            buttons.append((f"📞 {label}" if shown in label else f"📞 {shown} {label}", uri))
    have = {uri for _, uri in buttons}
    emergency = [(f"🚨 {label[lang]}", f"tel:{num}") for num, label in words.EMERGENCY if f"tel:{num}" not in have]
    buttons = emergency + buttons if referral.emergency else buttons + emergency
    body: list[FlexComponent] = [
        # Emergency numbers in red, the first line in green, the rest quieter: all white on colour.
        FlexButton(action=URIAction(label=_cut(label, MAX_LABEL), uri=uri), style="primary", height="sm", margin="sm",
                   color=RED if uri in ("tel:110", "tel:119") else (GREEN if i == 0 else BLUE))
        for i, (label, uri) in enumerate(buttons)
    ]
    notes = [x for x in (referral.opening, t(lang, "not_counsellor"), t(lang, "danger")) if x]
    body.append(FlexSeparator(margin="lg"))
    body += [FlexText(text=x, wrap=True, size="sm" if i == 0 else "xs", color=None if i == 0 else GREY,
                      margin="md") for i, x in enumerate(notes)]
    alt = "\n".join([referral.opening or words.TWENTY_FOUR[lang], *(label for label, _ in buttons)])
    bubble = FlexBubble(body=FlexBox(layout="vertical", contents=body, spacing="sm"))
    return FlexMessage(alt_text=_cut(alt, MAX_ALT_TEXT), contents=bubble)


def carousel(hits: list[ServiceHit], referral: Referral) -> FlexMessage:
    lang = referral.lang
    alt = "\n".join(f"{name(h, lang)} {words.number(h.phone or '') or ''}".strip() for h in hits)
    heading = t(lang, "more") if referral.crisis else words.SERVICES[lang]
    return FlexMessage(alt_text=_cut(f"{heading}\n{alt}", MAX_ALT_TEXT),
                       contents=FlexCarousel(contents=[bubble(h, lang) for h in hits]))


def bubble(hit: ServiceHit, lang: Lang) -> FlexBubble:
    """One service: name, who it is for, open-now badge or next opening, hours, free mark, buttons."""
    colour = GREY if hit.open_now is None else (GREEN if hit.open_now else AMBER)
    body: list[FlexComponent] = [FlexText(text=name(hit, lang), weight="bold", size="md", wrap=True)]
    if hit.for_whom:
        body.append(FlexText(text=hit.for_whom, size="xs", color=GREY, wrap=True))
    body.append(FlexText(text=status(hit, lang), size="sm", color=colour, weight="bold", wrap=True, margin="md"))
    if hit.hours_text and hit.open_now is not None and not hit.always_open:
        body.append(FlexText(text=hit.hours_text, size="xs", color=GREY, wrap=True))
    marks = [x for x in (words.number(hit.phone) if hit.phone else None,
                         t(lang, "free") if hit.free == "yes" else None,
                         t(lang, "km", km=hit.distance_km) if hit.distance_km is not None else None) if x]
    if marks:
        body.append(FlexText(text="・".join(marks) if lang == "ja" else ", ".join(marks), size="sm", wrap=True,
                             margin="md"))
    buttons: list[FlexComponent] = []
    if hit.phone and (uri := words.dial(hit.phone)):
        buttons.append(FlexButton(action=URIAction(label=_cut(f"📞 {words.CALL[lang]} {words.number(hit.phone)}",
                                                              MAX_LABEL), uri=uri),
                                  style="primary", color=GREEN, height="sm"))
    if hit.line_url and hit.line_url.startswith("https://"):
        buttons.append(FlexButton(action=URIAction(label=words.LINE_CHAT[lang], uri=hit.line_url),
                                  style="secondary", height="sm"))
    if hit.url and hit.url.startswith(("https://", "http://")):
        buttons.append(FlexButton(action=URIAction(label=words.WEBSITE[lang], uri=hit.url), style="link",
                                  height="sm"))
    footer = FlexBox(layout="vertical", contents=buttons, spacing="sm") if buttons else None
    return FlexBubble(body=FlexBox(layout="vertical", contents=body, spacing="xs"), footer=footer)


def quick_replies(lang: Lang, group: bool, more: str | None = None) -> QuickReply:
    """近くの窓口 (location), ほかの相談先, 地域を設定, English/日本語; in groups only what keeps nothing."""
    items: list[QuickReplyItem] = []
    if not group:
        items.append(QuickReplyItem(action=LocationAction(label=words.NEAR[lang])))
    if more:
        items.append(QuickReplyItem(action=PostbackAction(label=words.MORE[lang], data=more,
                                                          display_text=words.MORE[lang])))
    items.append(QuickReplyItem(action=PostbackAction(label=words.TWENTY_FOUR[lang], data="a=24h",
                                                      display_text=words.TWENTY_FOUR[lang])))
    if not group:
        items.append(QuickReplyItem(action=PostbackAction(label=words.SET_AREA[lang], data="a=area",
                                                          display_text=words.SET_AREA[lang])))
        other = words.other(lang)
        items.append(QuickReplyItem(action=PostbackAction(label=words.LANG_BUTTON[lang], data=f"a=lang&l={other}",
                                                          display_text=words.LANG_BUTTON[lang])))
    return QuickReply(items=items)


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

"""A fake LINE platform: the Messaging API the bot calls, and the webhooks LINE sends.

    line = FakeLine(secret="s3cret", token="t0ken")
    with Loopback(line.api()) as api:            # LINE_API_BASE=api.url
        line.send(bot_url, line.text("もう死にたい"))
        reply = line.wait_reply()                 # the reply API call, parsed

The API answers like LINE does: 401 on a wrong token, 400 on a reply token used
twice or on messages past LINE's limits (so tests catch what LINE would refuse),
409 on a push whose X-Line-Retry-Key was accepted before.  With
`reply_token_seconds`, a token it made longer ago than that is refused as expired.  `line.faults` makes
it fail on demand (bot.fakes.Faults): `line.faults.add("reply", status=500)`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.fakes import Call, Faults, Recorder

# LINE's documented limits for a reply (https://developers.line.biz/en/reference/messaging-api/).
MAX_MESSAGES = 5
MAX_TEXT = 5000
MAX_ALT_TEXT = 1500
MAX_BUBBLES = 12
MAX_QUICK_REPLY_ITEMS = 13
MAX_QUICK_REPLY_LABEL = 20
MAX_BUTTON_LABEL = 40
MAX_POSTBACK_DATA = 300
MAX_URI = 1000


def sign(body: bytes, secret: str) -> str:
    """The X-Line-Signature LINE computes over a webhook body."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@dataclass
class Reply:
    token: str
    messages: list[dict[str, Any]]
    at: float

    def actions(self) -> list[dict[str, Any]]:
        """Every action in the reply, in the order a resident sees them (quick replies last)."""
        found: list[dict[str, Any]] = []
        quick: list[dict[str, Any]] = []

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                for key, value in node.items():
                    if key == "quickReply":
                        quick.extend(item["action"] for item in value.get("items", []))
                    elif key == "action" and isinstance(value, dict):
                        found.append(value)
                    else:
                        walk(value)
            elif isinstance(node, list):
                for item in node:
                    walk(item)

        walk(self.messages)
        return found + quick

    def tel(self) -> list[str]:
        """The numbers of the tel: buttons, in order."""
        return [a["uri"][4:] for a in self.actions() if a.get("type") == "uri" and a["uri"].startswith("tel:")]

    def texts(self) -> list[str]:
        """Every text a resident reads, in order (message texts and Flex text components)."""
        out: list[str] = []

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                if node.get("type") == "text" and isinstance(node.get("text"), str):
                    out.append(node["text"])
                for key, value in node.items():
                    if key not in ("quickReply", "action"):
                        walk(value)
            elif isinstance(node, list):
                for item in node:
                    walk(item)

        walk(self.messages)
        return out

    def all_text(self) -> str:
        return "\n".join(self.texts())

    def quick_labels(self) -> list[str]:
        items = self.messages[-1].get("quickReply", {}).get("items", []) if self.messages else []
        return [item["action"]["label"] for item in items]


class FakeLine:
    def __init__(self, secret: str = "line-secret", token: str = "line-token",
                 reply_token_seconds: float | None = None) -> None:
        self.secret = secret
        self.token = token
        self.reply_token_seconds = reply_token_seconds
        self.issued: dict[str, float] = {}  # reply token -> when its event was made (monotonic)
        self.recorder = Recorder()
        self.faults = Faults()
        self.used_tokens: set[str] = set()
        self.retry_keys: set[str] = set()
        self.rich_menus: dict[str, dict[str, Any]] = {}
        self.default_rich_menu: str | None = None
        self._ids = itertools.count(1)

    def reset(self) -> None:
        """Forget every call and menu, as a new fake would (a fake can serve many tests)."""
        self.recorder.clear()
        self.faults.clear()
        self.used_tokens.clear()
        self.issued.clear()
        self.retry_keys.clear()
        self.rich_menus.clear()
        self.default_rich_menu = None

    # The API the bot calls

    def api(self) -> Starlette:
        return Starlette(routes=[
            Route("/v2/bot/message/reply", self._reply, methods=["POST"]),
            Route("/v2/bot/message/push", self._push, methods=["POST"]),
            Route("/v2/bot/richmenu", self._create_rich_menu, methods=["POST"]),
            Route("/v2/bot/richmenu/{rich_menu_id}/content", self._rich_menu_image, methods=["POST"]),
            Route("/v2/bot/user/all/richmenu/{rich_menu_id}", self._set_default, methods=["POST"]),
            Route("/{path:path}", self._unknown, methods=["GET", "POST", "PUT", "DELETE"]),
        ])

    async def _record(self, request: Request, method: str, params: dict[str, Any]) -> JSONResponse | None:
        self.recorder.add(Call(method, request.url.path, params, dict(request.headers)))
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return JSONResponse({"message": "Authentication failed. Confirm that the access token in the "
                                            "authorization header is valid."}, 401)
        return None

    async def _answer(self, request: Request, method: str, params: dict[str, Any],
                      serve: Any) -> JSONResponse:
        """Faults first, then the token, then `serve(params)`; the call is recorded with its status."""
        fault = self.faults.take(method, params)
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        if request.headers.get("authorization") != f"Bearer {self.token}":
            response = JSONResponse({"message": "Authentication failed. Confirm that the access token in the "
                                                "authorization header is valid."}, 401)
        elif fault is not None and fault.status is not None:
            response = JSONResponse({"message": fault.message or "Internal server error"}, fault.status)
        else:
            response = serve(params)
        self.recorder.add(Call(method, request.url.path, params, dict(request.headers),
                               status=response.status_code))
        return response

    async def _reply(self, request: Request) -> JSONResponse:
        return await self._answer(request, "reply", await request.json(), self._serve_reply)

    def _serve_reply(self, body: dict[str, Any]) -> JSONResponse:
        token = body.get("replyToken", "")
        issued = self.issued.get(token)
        stale = self.reply_token_seconds is not None and issued is not None \
            and time.monotonic() - issued > self.reply_token_seconds
        if not token or token in self.used_tokens or stale:
            return JSONResponse({"message": "Invalid reply token"}, 400)
        if problems := check_messages(body.get("messages")):
            return JSONResponse({"message": "The request body has errors", "details": problems}, 400)
        self.used_tokens.add(token)
        sent = [{"id": str(next(self._ids)), "quoteToken": f"q{n}"} for n, _ in enumerate(body["messages"])]
        return JSONResponse({"sentMessages": sent})

    async def _push(self, request: Request) -> JSONResponse:
        retry_key = request.headers.get("x-line-retry-key")

        def serve(body: dict[str, Any]) -> JSONResponse:
            if retry_key and retry_key in self.retry_keys:
                return JSONResponse({"message": "The retry key is already accepted"}, 409)
            if not str(body.get("to", "")).startswith(("U", "C", "R")):
                return JSONResponse({"message": "The property, 'to', in the request body is invalid"}, 400)
            if problems := check_messages(body.get("messages")):
                return JSONResponse({"message": "The request body has errors", "details": problems}, 400)
            if retry_key:
                self.retry_keys.add(retry_key)
            sent = [{"id": str(next(self._ids)), "quoteToken": f"q{n}"} for n, _ in enumerate(body["messages"])]
            return JSONResponse({"sentMessages": sent})

        return await self._answer(request, "push", await request.json(), serve)

    async def _create_rich_menu(self, request: Request) -> JSONResponse:
        body = await request.json()
        if denied := await self._record(request, "richmenu", body):
            return denied
        menu_id = f"richmenu-{next(self._ids):032d}"
        self.rich_menus[menu_id] = body
        return JSONResponse({"richMenuId": menu_id})

    async def _rich_menu_image(self, request: Request) -> JSONResponse:
        image = await request.body()
        menu_id = request.path_params["rich_menu_id"]
        params = {"richMenuId": menu_id, "contentType": request.headers.get("content-type"), "size": len(image)}
        if denied := await self._record(request, "richmenu_image", params):
            return denied
        if menu_id not in self.rich_menus:
            return JSONResponse({"message": "Not found"}, 404)
        if not image.startswith(b"\x89PNG") and not image.startswith(b"\xff\xd8"):
            return JSONResponse({"message": "The image is not a PNG or JPEG"}, 400)
        return JSONResponse({})

    async def _set_default(self, request: Request) -> JSONResponse:
        menu_id = request.path_params["rich_menu_id"]
        if denied := await self._record(request, "richmenu_default", {"richMenuId": menu_id}):
            return denied
        if menu_id not in self.rich_menus:
            return JSONResponse({"message": "Not found"}, 404)
        self.default_rich_menu = menu_id
        return JSONResponse({})

    async def _unknown(self, request: Request) -> JSONResponse:
        await self._record(request, "unknown", {"path": request.url.path})
        return JSONResponse({"message": "Not found"}, 404)

    # What a test reads

    def replies(self) -> list[Reply]:
        """The replies LINE accepted (a refused attempt reached no one)."""
        return [Reply(c.params["replyToken"], c.params["messages"], c.at)
                for c in self.recorder.calls("reply", ok=True)]

    def wait_reply(self, count: int = 1, timeout: float = 5.0) -> Reply:
        """The `count`-th accepted reply, waiting for it to arrive."""
        c = self.recorder.wait("reply", count, timeout, ok=True)[count - 1]
        return Reply(c.params["replyToken"], c.params["messages"], c.at)

    def pushes(self) -> list[Reply]:
        """Push messages LINE accepted, as replies (`token` holds the recipient)."""
        return [Reply(c.params["to"], c.params["messages"], c.at) for c in self.recorder.calls("push", ok=True)]

    def delivered(self) -> list[Reply]:
        """Everything that reached a resident: accepted replies and pushes, in order."""
        calls = [c for c in self.recorder.calls(ok=True) if c.method in ("reply", "push")]
        return [Reply(c.params.get("replyToken") or c.params["to"], c.params["messages"], c.at) for c in calls]

    # The webhooks LINE sends

    def send(self, server_url: str, *events: dict[str, Any], signature: str | None = None,
             body: bytes | None = None) -> httpx.Response:
        """POST events to the bot's webhook, signed as LINE signs them (or with `signature`)."""
        if body is None:
            body = json.dumps({"destination": "Ubot0000000000000000000000000000",
                               "events": list(events)}, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "X-Line-Signature": sign(body, self.secret) if signature is None else signature}
        if signature == "":
            del headers["X-Line-Signature"]
        return httpx.post(f"{server_url}/webhooks/line", content=body, headers=headers, timeout=10)

    def _event(self, kind: str, user: str, group: str | None, event_id: str | None,
               redelivery: bool, reply: bool = True, **fields: Any) -> dict[str, Any]:
        n = next(self._ids)
        source: dict[str, Any] = {"type": "user", "userId": user}
        if group:
            source = {"type": "group", "groupId": group, "userId": user}
        event: dict[str, Any] = {
            "type": kind, "mode": "active", "timestamp": int(time.time() * 1000), "source": source,
            "webhookEventId": event_id or f"01FAKE{n:020d}",
            "deliveryContext": {"isRedelivery": redelivery},
        }
        if reply:
            event["replyToken"] = f"reply-token-{n}"
            self.issued[event["replyToken"]] = time.monotonic()
        event.update(fields)
        return event

    def text(self, text: str, user: str = "U1111", *, group: str | None = None, mention_self: bool = False,
             event_id: str | None = None, redelivery: bool = False) -> dict[str, Any]:
        message: dict[str, Any] = {"id": str(next(self._ids)), "type": "text", "text": text,
                                   "quoteToken": "qt"}
        if mention_self:
            message["text"] = "@つなぐ " + text
            message["mention"] = {"mentionees": [{"index": 0, "length": 4, "type": "user", "isSelf": True}]}
        return self._event("message", user, group, event_id, redelivery, message=message)

    def location(self, lat: float, lon: float, user: str = "U1111", **kw: Any) -> dict[str, Any]:
        message = {"id": str(next(self._ids)), "type": "location", "latitude": lat, "longitude": lon,
                   "address": "（住所）"}
        return self._event("message", user, None, None, False, message=message, **kw)

    def sticker(self, user: str = "U1111") -> dict[str, Any]:
        message = {"id": str(next(self._ids)), "type": "sticker", "packageId": "1", "stickerId": "1",
                   "stickerResourceType": "STATIC", "quoteToken": "qt"}
        return self._event("message", user, None, None, False, message=message)

    def follow(self, user: str = "U1111") -> dict[str, Any]:
        return self._event("follow", user, None, None, False, follow={"isUnblocked": False})

    def unfollow(self, user: str = "U1111") -> dict[str, Any]:
        return self._event("unfollow", user, None, None, False, reply=False)

    def postback(self, data: str, user: str = "U1111", group: str | None = None) -> dict[str, Any]:
        return self._event("postback", user, group, None, False, postback={"data": data})


def check_messages(messages: Any) -> list[str]:
    """What LINE would refuse in a reply's messages; empty when it would accept them."""
    if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_MESSAGES:
        return [f"messages: 1 to {MAX_MESSAGES} required"]
    problems: list[str] = []
    for i, m in enumerate(messages):
        where = f"messages[{i}]"
        if m.get("type") == "text" and not 0 < len(m.get("text", "")) <= MAX_TEXT:
            problems.append(f"{where}.text: 1 to {MAX_TEXT} characters")
        if m.get("type") == "flex":
            if not 0 < len(m.get("altText", "")) <= MAX_ALT_TEXT:
                problems.append(f"{where}.altText: 1 to {MAX_ALT_TEXT} characters")
            contents = m.get("contents", {})
            if contents.get("type") == "carousel" and not 0 < len(contents.get("contents", [])) <= MAX_BUBBLES:
                problems.append(f"{where}.contents: 1 to {MAX_BUBBLES} bubbles")
            if len(json.dumps(contents, ensure_ascii=False).encode()) > 50_000:
                problems.append(f"{where}.contents: over 50 KB")
        items = m.get("quickReply", {}).get("items", [])
        if len(items) > MAX_QUICK_REPLY_ITEMS:
            problems.append(f"{where}.quickReply: at most {MAX_QUICK_REPLY_ITEMS} items")
        for item in items:
            if len(item["action"].get("label", "")) > MAX_QUICK_REPLY_LABEL:
                problems.append(f"{where}.quickReply label over {MAX_QUICK_REPLY_LABEL}: {item['action']['label']}")
        problems += _check_actions(m, where)
    return problems


def _check_actions(node: Any, where: str) -> list[str]:
    problems: list[str] = []
    if isinstance(node, dict):
        action = node.get("action")
        if isinstance(action, dict) and node.get("type") == "button" \
                and not 0 < len(action.get("label", "")) <= MAX_BUTTON_LABEL:
            problems.append(f"{where}: button label 1 to {MAX_BUTTON_LABEL}: {action.get('label')}")
        if isinstance(action, dict):
            if action.get("type") == "uri" and not 0 < len(action.get("uri", "")) <= MAX_URI:
                problems.append(f"{where}: uri 1 to {MAX_URI} characters")
            if action.get("type") == "postback" and len(action.get("data", "")) > MAX_POSTBACK_DATA:
                problems.append(f"{where}: postback data over {MAX_POSTBACK_DATA}")
        for value in node.values():
            problems += _check_actions(value, where)
    elif isinstance(node, list):
        for item in node:
            problems += _check_actions(item, where)
    return problems

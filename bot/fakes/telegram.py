"""A fake Telegram platform: the Bot API the bot calls, and the updates Telegram sends.

    tg = FakeTelegram(token="123:abc", secret="hook-secret")
    with Loopback(tg.api()) as api:               # TELEGRAM_API_BASE=api.url
        tg.send(bot_url, tg.text("死にたい"))
        msg = tg.wait_sent()                       # the sendMessage call

The API answers like Telegram: {"ok": true, "result": ...}; 401 on a wrong
token, 404 on an unknown method.  getMe (called by python-telegram-bot on
start) names the bot @tsunagu_test_bot.  getUpdates hands out `tg.queue`.
`tg.faults` makes it fail on demand (bot.fakes.Faults), e.g. a 429 with retry_after:
`tg.faults.add("sendMessage", status=429, retry_after=1)`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.fakes import Call, Faults, Recorder

BOT = {"id": 7000000001, "is_bot": True, "first_name": "Tsunagu", "username": "tsunagu_test_bot",
       "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}
JSON_FIELDS = {"reply_markup", "entities", "reply_parameters", "link_preview_options", "allowed_updates",
               "commands", "scope"}
MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64


@dataclass
class Sent:
    chat_id: int
    text: str
    parse_mode: str | None
    markup: dict[str, Any] | None
    at: float

    def buttons(self) -> list[dict[str, Any]]:
        rows = (self.markup or {}).get("inline_keyboard", [])
        return [button for row in rows for button in row]


class FakeTelegram:
    def __init__(self, token: str = "123456:TEST-token", secret: str = "hook-secret") -> None:
        self.token = token
        self.secret = secret
        self.recorder = Recorder()
        self.faults = Faults()
        self.queue: list[dict[str, Any]] = []  # updates for getUpdates
        self.webhook: dict[str, Any] | None = None
        self._ids = itertools.count(1)
        self._update_ids = itertools.count(500_000)

    def reset(self) -> None:
        """Forget every call, queued update and webhook, as a new fake would."""
        self.recorder.clear()
        self.faults.clear()
        self.queue.clear()
        self.webhook = None

    # The API the bot calls

    def api(self) -> Starlette:
        return Starlette(routes=[Route("/bot{token}/{method}", self._call, methods=["GET", "POST"])])

    async def _call(self, request: Request) -> JSONResponse:
        method = request.path_params["method"]
        params = await _params(request)
        fault = self.faults.take(method, params)
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        response = await self._serve(request, method, params, fault)
        self.recorder.add(Call(method, request.url.path, params, dict(request.headers),
                               status=response.status_code))
        return response

    async def _serve(self, request: Request, method: str, params: dict[str, Any], fault: Any) -> JSONResponse:
        if request.path_params["token"] != self.token:
            return JSONResponse({"ok": False, "error_code": 401, "description": "Unauthorized"}, 401)
        if fault is not None and fault.status is not None:
            error: dict[str, Any] = {"ok": False, "error_code": fault.status,
                                     "description": fault.message or ("Too Many Requests" if fault.status == 429
                                                                      else "Internal Server Error")}
            if fault.retry_after is not None:
                error["parameters"] = {"retry_after": fault.retry_after}
                error["description"] += f": retry after {fault.retry_after}"
            return JSONResponse(error, fault.status)
        answer = getattr(self, f"_{method}", None)
        if answer is None:
            return JSONResponse({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
        try:
            result = await answer(params)
        except BadRequest as e:
            return JSONResponse({"ok": False, "error_code": 400, "description": f"Bad Request: {e}"}, 400)
        return JSONResponse({"ok": True, "result": result})

    async def _getMe(self, params: dict[str, Any]) -> Any:  # noqa: N802  (Bot API names)
        return BOT

    async def _sendMessage(self, params: dict[str, Any]) -> Any:  # noqa: N802
        text = params.get("text", "")
        if not 0 < len(text) <= MAX_TEXT:
            raise BadRequest("message text is empty" if not text else "message is too long")
        for button in Sent(0, "", None, params.get("reply_markup"), 0).buttons():
            if len(button.get("callback_data", "").encode()) > MAX_CALLBACK_DATA:
                raise BadRequest("BUTTON_DATA_INVALID")
            if "url" in button and not button["url"].startswith(("http://", "https://", "tg://")):
                raise BadRequest("inline keyboard button URL is invalid")
        try:
            chat = {"id": int(params["chat_id"]), "type": "private"}
        except (KeyError, TypeError, ValueError):
            raise BadRequest("chat not found") from None
        return {"message_id": next(self._ids), "date": int(time.time()), "chat": chat, "text": text,
                "from": BOT}

    async def _answerCallbackQuery(self, params: dict[str, Any]) -> Any:  # noqa: N802
        return True

    async def _setWebhook(self, params: dict[str, Any]) -> Any:  # noqa: N802
        self.webhook = params
        return True

    async def _deleteWebhook(self, params: dict[str, Any]) -> Any:  # noqa: N802
        self.webhook = None
        return True

    async def _setMyCommands(self, params: dict[str, Any]) -> Any:  # noqa: N802
        return True

    async def _getUpdates(self, params: dict[str, Any]) -> Any:  # noqa: N802
        offset = int(params.get("offset") or 0)
        self.queue = [u for u in self.queue if u["update_id"] >= offset]
        if not self.queue:
            await asyncio.sleep(min(float(params.get("timeout") or 0), 0.2))
        return self.queue[: int(params.get("limit") or 100)]

    # What a test reads

    def sent(self) -> list[Sent]:
        """Messages Telegram accepted (a refused call reached no one)."""
        return [_sent(c) for c in self.recorder.calls("sendMessage", ok=True)]

    def wait_sent(self, count: int = 1, timeout: float = 5.0) -> Sent:
        return _sent(self.recorder.wait("sendMessage", count, timeout, ok=True)[count - 1])

    # The updates Telegram sends

    def send(self, server_url: str, update: dict[str, Any] | None = None, *, secret: str | None = None,
             body: bytes | None = None) -> httpx.Response:
        """POST an update to the bot's webhook with the secret header (or `secret`; "" sends none)."""
        if body is None:
            body = json.dumps(update, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json"}
        token = self.secret if secret is None else secret
        if token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = token
        return httpx.post(f"{server_url}/webhooks/telegram", content=body, headers=headers, timeout=10)

    def _message(self, chat_id: int, user_id: int, group: bool, **fields: Any) -> dict[str, Any]:
        chat = ({"id": -100_000 - chat_id, "type": "group", "title": "group"} if group
                else {"id": chat_id, "type": "private", "first_name": "A"})
        message = {"message_id": next(self._ids), "date": int(time.time()), "chat": chat,
                   "from": {"id": user_id, "is_bot": False, "first_name": "A", "language_code": "ja"}}
        message.update(fields)
        return {"update_id": next(self._update_ids), "message": message}

    def text(self, text: str, chat_id: int = 42, *, group: bool = False, mention: bool = False,
             update_id: int | None = None) -> dict[str, Any]:
        fields: dict[str, Any] = {"text": text}
        if mention:
            handle = "@" + BOT["username"]
            fields = {"text": f"{handle} {text}", "entities": [{"type": "mention", "offset": 0,
                                                                "length": len(handle)}]}
        elif text.startswith("/"):
            command = text.split()[0]
            fields["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        update = self._message(chat_id, chat_id, group, **fields)
        if update_id is not None:
            update["update_id"] = update_id
        return update

    def location(self, lat: float, lon: float, chat_id: int = 42) -> dict[str, Any]:
        return self._message(chat_id, chat_id, False, location={"latitude": lat, "longitude": lon})

    def callback(self, data: str, chat_id: int = 42) -> dict[str, Any]:
        message = self._message(chat_id, BOT["id"], False, text="…")["message"]
        message["from"] = BOT
        return {"update_id": next(self._update_ids),
                "callback_query": {"id": str(next(self._ids)), "chat_instance": "ci", "data": data,
                                   "from": {"id": chat_id, "is_bot": False, "first_name": "A"},
                                   "message": message}}


class BadRequest(Exception):
    pass


async def _params(request: Request) -> dict[str, Any]:
    """Bot API parameters, however python-telegram-bot sent them (form, JSON or query)."""
    params: dict[str, Any] = dict(request.query_params)
    kind = request.headers.get("content-type", "")
    if "json" in kind:
        params.update(await request.json())
    elif kind.startswith("application/x-www-form-urlencoded"):
        params.update(parse_qsl((await request.body()).decode()))
    for key in JSON_FIELDS & params.keys():
        if isinstance(params[key], str):
            params[key] = json.loads(params[key])
    return params


def _sent(call: Call) -> Sent:
    p = call.params
    return Sent(int(p["chat_id"]), p.get("text", ""), p.get("parse_mode"), p.get("reply_markup"), call.at)

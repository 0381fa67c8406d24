"""The least a LINE bot can do, on the same stack as `bot serve`: the bench's baseline.

    POST /webhooks/line -> verify the signature, parse (the SDK's WebhookParser) -> 200
                        -> in the background: reply one fixed text through the SDK's async client

uvicorn with uvloop and httptools, Starlette, line-bot-sdk's AsyncMessagingApi with the same
connection pool as the bot (bot/channels/line.py): the server CPU an event costs here is the floor
that everything the bot does (admission, the database, routing, the reply's cards) stands on.
"""

from __future__ import annotations

from typing import Any

FIXED_TEXT = "受け付けました"  # the minimal bot's only answer
CONNECTIONS = 100  # as bot/channels/line.py REPLY_CONNECTIONS


def app(secret: str, token: str, api_base: str) -> Any:
    from linebot.v3 import WebhookParser
    from linebot.v3.exceptions import InvalidSignatureError
    from linebot.v3.messaging import (
        AsyncApiClient,
        AsyncMessagingApi,
        Configuration,
        ReplyMessageRequest,
        TextMessage,
    )
    from linebot.v3.webhooks import MessageEvent
    from starlette.applications import Starlette
    from starlette.background import BackgroundTask
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    configuration = Configuration(host=api_base, access_token=token)
    configuration.connection_pool_maxsize = CONNECTIONS
    parser = WebhookParser(secret)
    api: dict[str, AsyncMessagingApi] = {}

    async def reply(events: list[Any]) -> None:
        if "api" not in api:
            api["api"] = AsyncMessagingApi(AsyncApiClient(configuration))
        for event in events:
            if isinstance(event, MessageEvent) and event.reply_token:
                await api["api"].reply_message(ReplyMessageRequest(reply_token=event.reply_token,
                                                                   messages=[TextMessage(text=FIXED_TEXT)]))

    async def webhook(request: Request) -> Response:
        body = (await request.body()).decode()
        try:
            events = parser.parse(body, request.headers.get("X-Line-Signature", ""))
        except InvalidSignatureError:
            return Response(status_code=400)
        return JSONResponse({}, background=BackgroundTask(reply, events))

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/webhooks/line", webhook, methods=["POST"]), Route("/healthz", healthz)])


def serve(port: int, secret: str, token: str, api_base: str) -> None:
    import uvicorn

    uvicorn.run(app(secret, token, api_base), host="127.0.0.1", port=port, log_level="warning", access_log=False)

"""10,000 generated webhook bodies, each with a valid signature or secret: never a 5xx.

Wrong types, missing fields, 100 KB texts, deep nesting, unknown event types, non-UTF-8,
bodies past the size cap.  Posted in-process (httpx's ASGITransport, the app's own
lifespan around it) so the run is quick; the replies still go through the real SDKs to the fakes on
127.0.0.1.  A seeded generator keeps every run the same.  After the storm the server is
healthy and a resident's message is answered as usual.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from bot.fakes.line import sign
from bot.service.server import create_app

SEED = 20251201
CONCURRENCY = 8
BODIES = int(os.environ.get("FUZZ_BODIES", 10_000))
JUNK_VALUES: list[Any] = [None, True, 0, -1, 2**63, 1.5, float("1e308"), "", "x", "死にたい", [], {}, [None],
                          {"a": 1}, "\u0000", "\ud800".encode("utf-8", "surrogatepass").decode("latin-1")]


def junk(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 3 or roll < 0.6:
        return rng.choice(JUNK_VALUES)
    if roll < 0.8:
        return [junk(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {rng.choice(["type", "text", "id", "source", "message", "x"]): junk(rng, depth + 1)
            for _ in range(rng.randint(0, 3))}


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def mutate(rng: random.Random, value: dict[str, Any]) -> dict[str, Any]:
    """Delete, retype or add keys anywhere in a copy of a valid object."""
    value = json.loads(json.dumps(value))
    for _ in range(rng.randint(1, 4)):
        node = value
        while isinstance(node, dict) and node and rng.random() < 0.5:
            child = node[rng.choice(list(node))]
            if not isinstance(child, dict):
                break
            node = child
        if not isinstance(node, dict) or not node:
            continue
        key = rng.choice(list(node))
        action = rng.random()
        if action < 0.4:
            del node[key]
        elif action < 0.8:
            node[key] = junk(rng)
        else:
            node[rng.choice(["unknownField", "type", "text", "mode"])] = junk(rng)
    return value


def text(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.01:
        return "死にたい" + "あ" * 100_000  # a 100 KB message
    if roll < 0.06:
        points = (rng.randint(1, 0x10FFFF) for _ in range(rng.randint(1, 50)))
        return "".join(chr(p) for p in points if not 0xD800 <= p <= 0xDFFF)
    return rng.choice(["死にたい", "ひきこもり", "浜松市", "   ", "/forget", "/start", "a=more&i=x&p=1", "😀" * 30,
                       "ｼﾆﾀｲ", "help", "\u200b", "430-0929"])


def line_events(rng: random.Random, line: Any) -> list[Any]:
    makers = [
        lambda: line.text(text(rng), user=f"Ufuzz{rng.randint(0, 50)}"),
        lambda: line.postback(rng.choice(["a=more&i=suicide_risk&p=2", "a=24h", "a=lang&l=en", "a=", "%%%",
                                          "a=more&i=,,,&p=-1", "a=more&i=x&p=99999999999999999999"])),
        lambda: line.location(rng.uniform(-90, 90), rng.uniform(-180, 180)),
        lambda: line.follow(f"Ufuzz{rng.randint(0, 50)}"),
        lambda: line.unfollow(f"Ufuzz{rng.randint(0, 50)}"),
        lambda: line.sticker(),
        lambda: line.text("ひきこもり", group="Cfuzz", mention_self=rng.random() < 0.5),
    ]
    events: list[Any] = []
    for _ in range(rng.randint(0, 2)):
        event = rng.choice(makers)()
        roll = rng.random()
        if roll < 0.5:
            event = mutate(rng, event)
        elif roll < 0.6:
            event["type"] = rng.choice(["membered", "videoPlayComplete", "beacon", "unsend", "?", ""])
        elif roll < 0.7:
            event = junk(rng)
        events.append(event)
    return events


def line_body(rng: random.Random, line: Any) -> bytes:
    roll = rng.random()
    if roll < 0.05:
        return bytes(rng.randint(0, 255) for _ in range(rng.randint(0, 300)))  # not UTF-8, not JSON
    if roll < 0.08:
        return ('{"events": ' + deep(rng.choice([100, 5000, 100_000])) + "}").encode()
    if roll < 0.1:
        return json.dumps(junk(rng)).encode()
    if roll < 0.15:
        return json.dumps({"destination": junk(rng), "events": junk(rng)}).encode()
    if roll < 0.16:
        return b'{"events": []}' + b" " * 1_100_000  # over the 1 MB cap
    body = {"destination": "Ubot", "events": line_events(rng, line)}
    if rng.random() < 0.05:
        body["events"].append({"type": "message", "message": json.loads(deep(500))})
    return json.dumps(body, ensure_ascii=rng.random() < 0.5).encode()


def telegram_body(rng: random.Random, tg: Any) -> bytes:
    roll = rng.random()
    if roll < 0.05:
        return bytes(rng.randint(0, 255) for _ in range(rng.randint(0, 300)))
    if roll < 0.08:
        return deep(rng.choice([100, 5000, 100_000])).encode()
    if roll < 0.12:
        return json.dumps(junk(rng)).encode()
    if roll < 0.13:
        return b"{}" + b" " * 1_100_000
    makers = [
        lambda: tg.text(text(rng), chat_id=rng.randint(1, 50)),
        lambda: tg.text("/" + rng.choice(["start", "help", "area 浜松市", "area", "lang en", "forget", "nope"]),
                        chat_id=rng.randint(1, 50)),
        lambda: tg.text("ひきこもり", chat_id=rng.randint(1, 50), group=True, mention=rng.random() < 0.5),
        lambda: tg.location(rng.uniform(-90, 90), rng.uniform(-180, 180), chat_id=rng.randint(1, 50)),
        lambda: tg.callback(rng.choice(["a=more&i=suicide_risk&p=2", "a=24h", "a=lang&l=en", "junk", ""]),
                            chat_id=rng.randint(1, 50)),
    ]
    update = rng.choice(makers)()
    if rng.random() < 0.75:
        update = mutate(rng, update)
    if rng.random() < 0.1:
        update["update_id"] = junk(rng)
    return json.dumps(update, ensure_ascii=rng.random() < 0.5).encode()


def bodies(line: Any, tg: Any) -> Iterator[tuple[str, bytes]]:
    rng = random.Random(SEED)
    for _ in range(BODIES):
        if rng.random() < 0.5:
            yield "line", line_body(rng, line)
        else:
            yield "telegram", telegram_body(rng, tg)


@pytest.fixture
async def client(engine, platforms, tmp_path, offline, settings_for) -> AsyncIterator[httpx.AsyncClient]:
    line, line_url, tg, tg_url = platforms
    line.reset()
    tg.reset()
    app = create_app(settings_for(tmp_path / "bot.db", line, line_url, tg, tg_url), engine)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=httpx.ASGITransport(app),
                                                                   base_url="http://bot") as client:
        yield client


async def test_ten_thousand_fuzzed_webhook_bodies_get_no_5xx_and_the_bot_answers_after(client, platforms):
    line, _, tg, _ = platforms
    statuses: Counter[tuple[str, int]] = Counter()

    async def post(channel: str, body: bytes) -> None:
        if channel == "line":
            headers = {"X-Line-Signature": sign(body, line.secret), "Content-Type": "application/json"}
        else:
            headers = {"X-Telegram-Bot-Api-Secret-Token": tg.secret, "Content-Type": "application/json"}
        response = await client.post(f"/webhooks/{channel}", content=body, headers=headers)
        statuses[channel, response.status_code] += 1
        assert response.status_code < 500, (channel, response.status_code, body[:300])

    batch: list[tuple[str, bytes]] = []
    for item in bodies(line, tg):  # a few at a time, as a platform delivers them
        batch.append(item)
        if len(batch) == CONCURRENCY:
            await asyncio.gather(*(post(c, b) for c, b in batch))
            batch.clear()
    await asyncio.gather(*(post(c, b) for c, b in batch))
    print("\n" + ", ".join(f"{c} {s}: {n}" for (c, s), n in sorted(statuses.items())))
    assert sum(statuses.values()) == BODIES
    assert {s for _, s in statuses} >= {200, 400, 413}, "the generator reached the parsers and the size cap"

    assert (await client.get("/healthz")).json() == {"ok": True, "channels": {"line": True, "telegram": True}}
    event = line.text("もう死にたい", user="Uafterstorm")
    body = json.dumps({"destination": "Ubot", "events": [event]}).encode()
    assert (await client.post("/webhooks/line", content=body,
                              headers={"X-Line-Signature": sign(body, line.secret)})).status_code == 200
    deadline = time.monotonic() + 20
    while not (got := [r for r in line.replies() if r.token == event["replyToken"]]) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)  # the bot's own loop answers meanwhile (a crisis first, after the webhook's 200)
    assert got and {"110", "119"} <= set(got[0].tel())

    update = tg.text("死にたい", chat_id=999_999)
    assert (await client.post("/webhooks/telegram", json=update,
                              headers={"X-Telegram-Bot-Api-Secret-Token": tg.secret})).status_code == 200
    deadline = time.monotonic() + 20
    while not (mine := [s for s in tg.sent() if s.chat_id == 999_999]) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)  # the bot's own loop answers meanwhile
    assert mine and "110" in mine[0].text
    metrics = (await client.get("/metrics")).text
    assert 'tsunagu_webhook_requests_total{channel="line",status="200"}' in metrics

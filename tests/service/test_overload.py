"""A flood: more residents at once than the server answers, through a queue of five.

Every event is answered once (by reply, or by push once its token is stale), crises first and within
2 s while the rest wait their turn, the overflow parked in the database, and /healthz answers all along.
`bot bench` measures the same at full size (bot/bench/webhook.py); this is its small, fast form.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import threading
import time
import uuid
from collections import Counter

import httpx

from bot.channels.line import RETRY_KEYS
from bot.fakes import Loopback
from bot.fakes.line import FakeLine, sign
from bot.service.server import create_app
from tests.service.test_metrics import samples, value

EVENTS = 240
CRISIS_EVERY = 12
SENDERS = 16
NEEDS = ["息子がひきこもりで悩んでいる", "借金が返せなくて困っている", "親の介護に疲れた", "仕事が見つからない"]


def test_a_flood_is_answered_once_each_crises_first_and_the_overflow_parked(engine, tmp_path, offline, settings_for):
    line = FakeLine()
    with Loopback(line.api()) as api:
        settings = dataclasses.replace(settings_for(tmp_path / "bot.db", line, api.url, None, None),
                                       queue_max=5, rate_limit=0, line_push_fallback=True)
        with Loopback(create_app(settings, engine)) as bot:
            events = [line.text("死にたい" if n % CRISIS_EVERY == 0 else NEEDS[n % len(NEEDS)], user=f"U{n:032x}")
                      for n in range(EVENTS)]
            sent: dict[str, float] = {}
            statuses: Counter[int] = Counter()
            healthy: list[int] = []
            lock = threading.Lock()

            def sender(mine: list[dict]) -> None:
                with httpx.Client(timeout=30) as client:
                    for event in mine:
                        at = time.monotonic()
                        response = _post(client, line, bot.url, event)
                        with lock:
                            sent[event["replyToken"]] = at
                            statuses[response.status_code] += 1

            threads = [threading.Thread(target=sender, args=(events[i::SENDERS],)) for i in range(SENDERS)]
            for t in threads:
                t.start()
            healthy.append(httpx.get(f"{bot.url}/healthz", timeout=10).status_code)  # mid-flood
            for t in threads:
                t.join()
            deadline = time.monotonic() + 90
            while len(line.delivered()) < EVENTS and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(0.3)  # a duplicate would show about now
            metrics = samples(bot.url)

    assert statuses == {200: EVENTS} and healthy == [200]
    by_token = Counter(r.token for r in line.replies())
    by_user = Counter(p.token for p in line.pushes())  # a push's `token` is its recipient
    answered = {e["replyToken"]: by_token[e["replyToken"]] + by_user[e["source"]["userId"]] for e in events}
    assert Counter(answered.values()) == {1: EVENTS}, "every event answered, none twice"

    arrived = {r.token: r.at for r in line.replies()}
    crisis = [arrived[e["replyToken"]] - sent[e["replyToken"]] for e in events[::CRISIS_EVERY]]
    others = [arrived[e["replyToken"]] - sent[e["replyToken"]] for n, e in enumerate(events) if n % CRISIS_EVERY]
    assert max(crisis) < 2.0, f"a crisis waited {max(crisis):.2f} s"
    assert statistics.median(crisis) < statistics.median(others), "crises went ahead of the queue"
    assert value(metrics, "tsunagu_admissions_total", channel="line", priority="resident", outcome="parked") > 0
    assert value(metrics, "tsunagu_admissions_total", channel="line", priority="crisis", outcome="parked") == 0
    assert not any(name == "tsunagu_admissions_total" and ("outcome", "refused") in labels
                   for name, labels in metrics), "nothing was refused"


def _post(client: httpx.Client, line: FakeLine, url: str, event: dict) -> httpx.Response:
    """FakeLine.send on a kept-alive connection, as LINE's own deliveries come."""
    body = json.dumps({"destination": "Ubot", "events": [event]}, ensure_ascii=False).encode()
    return client.post(f"{url}/webhooks/line", content=body,
                       headers={"Content-Type": "application/json", "X-Line-Signature": sign(body, line.secret)})


def test_an_event_that_waited_past_its_reply_token_is_pushed_once_with_a_key_from_its_id(engine, tmp_path, offline,
                                                                                          settings_for):
    line = FakeLine(reply_token_seconds=0.0)  # every token is stale by the time it is used
    with Loopback(line.api()) as api:
        settings = dataclasses.replace(settings_for(tmp_path / "bot.db", line, api.url, None, None),
                                       reply_token_seconds=0.0, line_push_fallback=True)
        with Loopback(create_app(settings, engine)) as bot:
            event = line.text("死にたい", user="Ulate", event_id="01LATE0000000000000000000000")
            assert line.send(bot.url, event).status_code == 200
            line.recorder.wait("push", ok=True, timeout=10)
            again = dict(event, replyToken="reply-token-again", deliveryContext={"isRedelivery": True})
            assert line.send(bot.url, again).status_code == 200
            calls = line.recorder.quiet("push", 0.5)
    assert line.recorder.calls("reply") == [], "a token past its time is not tried"
    assert [c.status for c in calls] == [200] and {"110", "119"} <= set(line.pushes()[0].tel())
    assert calls[0].headers["x-line-retry-key"] == str(uuid.uuid5(RETRY_KEYS, "01LATE0000000000000000000000"))

"""GET /metrics: what an operator's Prometheus sees after residents wrote and things failed."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families


def samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"{url}/metrics").text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_webhooks_referrals_crisis_latency_and_api_errors(world, engine):
    before = samples(world.url)
    world.line_says("死にたい")
    world.line_says("息子がひきこもりで悩んでいる")
    world.telegram_says("死にたい")
    world.line.faults.add("reply", status=500)
    world.line_says("死にたい")
    world.line.send(world.url, body=b"{}", signature="forged")
    after = samples(world.url)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("tsunagu_webhook_requests_total", channel="line", status="200") == 3
    assert grew("tsunagu_webhook_requests_total", channel="line", status="400") == 1
    assert grew("tsunagu_webhook_requests_total", channel="telegram", status="200") == 1
    assert grew("tsunagu_crisis_referrals_total", channel="line") == 2
    assert grew("tsunagu_crisis_referrals_total", channel="telegram") == 1
    assert grew("tsunagu_referrals_total", need="suicide_risk") == 3
    assert grew("tsunagu_referrals_total", need="hikikomori") >= 1
    assert grew("tsunagu_api_errors_total", channel="line", kind="500") == 1
    assert grew("tsunagu_reply_seconds_count", channel="line") == 3
    assert grew("tsunagu_reply_seconds_count", channel="telegram") == 1
    assert value(after, "tsunagu_catalogue_info", version=engine.catalogue.version) == 1


def test_metrics_hold_no_text_and_no_ids(world):
    world.line_says("借金で死にたい", user="Umetrics")
    world.telegram_says("借金", chat_id=31337)
    text = httpx.get(f"{world.url}/metrics").text
    assert "借金" not in text and "Umetrics" not in text and "31337" not in text

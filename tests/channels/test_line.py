"""LINE conversations: a resident writes, the bot replies through the (fake) reply API."""

from __future__ import annotations

import time

import httpx
import pytest
from sqlmodel import Session, select

from bot.channels import words
from bot.engine.render import label, t
from bot.service.privacy import Hasher
from bot.service.store import ReferralLog, Resident, Store
from bot.types import REPLY_LANGS
from tests.support import eventually, settled

HAMAMATSU = (34.7108, 137.7261)


def resident(world, user: str = "U1111") -> Resident | None:
    settled()
    key = Hasher(world.settings.hash_key.encode()).resident("line", user)
    return Store(world.settings.database_url).resident(key)


def all_residents(world) -> list[Resident]:
    with Session(Store(world.settings.database_url).engine) as s:
        return list(s.exec(select(Resident)))


@pytest.fixture(scope="module")
def twenty_four_hour(engine) -> set[str]:
    """tel: URIs of the catalogue's 24-hour phone lines."""
    return {words.dial(s.phone) for s in engine.catalogue.services if s.always_open and s.phone}


# Authenticity at the edge


def test_a_bad_or_missing_signature_is_refused_and_nothing_else_happens(world):
    for signature in ["", "bm90IHRoZSBzaWduYXR1cmU=", "garbage", "x" * 5000]:
        response = world.line.send(world.url, world.line.text("もう死にたい"), signature=signature)
        assert response.status_code == 400
    assert world.line.recorder.quiet("reply", 0.3) == []
    assert world.line.recorder.calls() == []


MALFORMED = [b"not json", b"{}", b'{"events": [{"type": "message"}]}', b'{"events": 3}', b"\xff\xfe", b"[]",
             b'{"events": [{"type": "message", "source": {}, "timestamp": 1}]}', b'{"events": [null, 1, "x"]}',
             b'{"events": [{"type": "postback", "webhookEventId": "e", "deliveryContext": {}, "postback": 1}]}']


def test_a_signed_but_malformed_body_never_gets_a_5xx_and_leaves_the_server_healthy(world):
    for body in MALFORMED:
        assert world.line.send(world.url, body=body).status_code < 500, body
    assert httpx.get(f"{world.url}/healthz").status_code == 200
    assert world.line_says("もう死にたい").tel()


# Referrals


def test_crisis_reply_leads_with_a_24_hour_line_as_a_tel_button(world, twenty_four_hour):
    event = world.line.text("もう死にたい")
    started = time.monotonic()
    assert world.line.send(world.url, event).status_code == 200
    reply = world.line.wait_reply(timeout=3)
    assert reply.at - started < 3
    assert reply.token == event["replyToken"]
    first_message_actions = [a for a in reply.actions() if a.get("uri", "").startswith("tel:")]
    assert reply.actions()[0] == first_message_actions[0], "a tel: button comes before anything else"
    assert reply.actions()[0]["uri"] in twenty_four_hour
    assert {"110", "119"} <= set(reply.tel())
    assert "相談員ではなく" in reply.all_text()
    assert len(world.line.replies()) == 1


def test_life_in_danger_puts_119_and_110_on_top(world):
    reply = world.line_says("子どもが息をしていない")
    assert set(reply.tel()[:2]) == {"119", "110"}


def test_a_need_gets_a_warm_text_then_a_carousel_of_services(world):
    reply = world.line_says("娘がずっと部屋にこもっていて、息子がひきこもりで悩んでいる")
    text, flex = reply.messages[0], reply.messages[1]
    assert text["type"] == "text" and text["text"]
    assert flex["type"] == "flex" and flex["contents"]["type"] == "carousel"
    assert any("ひきこもり" in t for t in reply.texts())
    assert [a["type"] for a in reply.actions()].count("location") == 1
    assert label("ja", "button.more") in reply.quick_labels()
    assert label("ja", "button.language") in reply.quick_labels()


def test_unknown_hours_are_never_shown_as_open(world, engine):
    reply = world.line_says("息子がひきこもりで悩んでいる")
    referral = engine.route("息子がひきこもりで悩んでいる")
    for hit in referral.services:
        if hit.open_now is None:
            assert "受付時間は公式サイトでご確認ください" in reply.all_text()
    assert all(len(m.get("contents", {}).get("contents", [])) <= 12 for m in reply.messages)


def test_english_in_english_with_english_names(world, engine):
    reply = world.line_says("I am lonely and have no friends")
    referral = engine.route("I am lonely and have no friends")
    assert referral.lang == "en"
    named = [h.name_en for h in referral.services if h.name_en]
    assert named and named[0] in reply.all_text()
    assert label("en", "button.language") in reply.quick_labels()


# Following, location, buttons


def test_follow_gets_a_welcome_and_unfollow_deletes_the_resident(world):
    reply = world.line_event(world.line.follow("Unew"))
    said = reply.all_text()
    assert "相談員ではなく" in said and "110" in said and "119" in said and "市区町村" in said
    assert resident(world, "Unew") is not None
    assert world.line.send(world.url, world.line.unfollow("Unew")).status_code == 200
    deadline = time.monotonic() + 3
    while resident(world, "Unew") is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert resident(world, "Unew") is None


def test_a_location_is_remembered_and_used_for_local_referral(world):
    reply = world.line_event(world.line.location(*HAMAMATSU))
    assert "浜松市" in reply.all_text()
    assert resident(world).area.startswith("2213")
    reply = world.line_says("息子がひきこもりで悩んでいる")
    assert "浜松市" in reply.all_text()


def test_an_area_named_in_a_message_is_remembered(world):
    reply = world.line_says("浜松市")
    assert "浜松市で覚えました" in reply.all_text()
    reply = world.line_says("息子がひきこもりで悩んでいる")
    assert "浜松市" in reply.all_text()


def test_more_services_by_postback(world):
    first = world.line_says("息子がひきこもりで悩んでいる")
    more = next(a for a in first.actions() if a.get("label") == label("ja", "button.more"))
    page = world.line_event(world.line.postback(more["data"]))
    assert page.all_text() and page.all_text() != first.all_text()


def test_english_chosen_from_the_language_menu_is_kept(world):
    first = world.line_says("こんにちは")
    menu = next(a for a in first.actions() if a.get("label") == label("ja", "button.language"))
    languages = world.line_event(world.line.postback(menu["data"]))
    assert languages.all_text() == t("ja", "chat.lang_choose")
    assert languages.quick_labels() == [label(code, "meta.name") for code in REPLY_LANGS]
    english = next(a for a in languages.actions() if a.get("label") == "English")
    assert world.line_event(world.line.postback(english["data"])).all_text() == t("en", "chat.lang_set")
    assert resident(world).lang == "en"
    reply = world.line_says("死にたい")
    assert "If a life is in danger" in reply.all_text()
    assert reply.quick_labels()[-1] == label("en", "button.language")


def test_24_hour_lines_from_the_menu(world, twenty_four_hour):
    reply = world.line_event(world.line.postback("a=24h"))
    assert reply.actions()[0]["uri"] in twenty_four_hour


def test_a_sticker_gets_a_gentle_prompt(world):
    assert t("ja", "chat.not_text") in world.line_event(world.line.sticker()).all_text()


# Redelivery, groups, privacy


def test_a_redelivered_event_is_answered_at_most_once(world):
    event = world.line.text("もう死にたい", event_id="01REDELIVERED000000000000")
    world.line_event(event)
    again = dict(event, deliveryContext={"isRedelivery": True}, replyToken="another-token")
    assert world.line.send(world.url, again).status_code == 200
    assert len(world.line.recorder.quiet("reply", 0.5)) == 1


def test_in_a_group_the_bot_answers_only_when_mentioned_and_keeps_no_member_id(world):
    assert world.line.send(world.url, world.line.text("死にたい", group="Cgroup")).status_code == 200
    assert world.line.recorder.quiet("reply", 0.4) == []
    reply = world.line_says("ひきこもりの相談先を教えて", group="Cgroup", mention_self=True)
    assert reply.messages
    assert all_residents(world) == []
    assert "location" not in [a["type"] for a in reply.actions()]


def test_nothing_a_resident_wrote_is_stored(world):
    world.line_says("借金で首が回らなくて死にたい", user="Uprivate")
    db = world.settings.sqlite_path
    dump = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))  # with the WAL file
    assert "借金".encode() not in dump and b"Uprivate" not in dump
    def logged() -> ReferralLog | None:
        with Session(Store(world.settings.database_url).engine) as s:
            return s.exec(select(ReferralLog)).first()

    row = eventually(logged)
    assert row.crisis and "suicide_risk" in row.intents


def test_every_kind_of_reply_is_sent_exactly_as_the_sdk_would_serialise_it(engine):
    from linebot.v3.messaging import ReplyMessageRequest

    from bot.channels.line import Reply, crisis_card, referral_messages

    said = ["もう死にたい", "子どもが息をしていない", "息子がひきこもりで悩んでいる", "I am lonely and have no friends",
            "浜松市で借金の相談をしたい", "こんにちは"]
    for text in said:
        referral = engine.route(text)
        for group in (False, True):
            messages = referral_messages(referral, group=group)
            ours = Reply(reply_token="t", messages=messages).to_dict()
            assert ours == ReplyMessageRequest(reply_token="t", messages=messages).to_dict(), text
            assert ours["messages"] and ours["replyToken"] == "t"
    assert crisis_card(engine.route("もう死にたい"), []).to_dict()["contents"]["type"] == "bubble"


def test_a_service_drawn_once_and_kept_is_drawn_as_it_would_be_afresh(engine):
    from bot.channels.line import _bubble, as_json, bubble

    said = ["もう死にたい", "息子がひきこもりで悩んでいる", "I am lonely and have no friends", "浜松市で借金の相談をしたい",
            "静岡県 介護に疲れた", "仕事がなくて食べるものもない", "夫に殴られる 札幌"]
    hits = [h for text in said for h in engine.route(text).services]
    assert any(h.open_now for h in hits) and any(h.open_now is None for h in hits)
    for hit in hits:
        for lang in ("ja", "en"):
            assert as_json(bubble(hit, lang)) == as_json(_bubble.__wrapped__(hit, lang)), hit.service_id
    assert bubble(hits[0], "ja") is bubble(hits[0], "ja"), "the next reply showing it gets the kept bubble"

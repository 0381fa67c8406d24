"""Telegram conversations: a resident writes, the bot answers with sendMessage on the (fake) Bot API."""

from __future__ import annotations

import httpx
import pytest

from bot.channels import words
from bot.engine.render import label, t
from bot.fakes.telegram import BOT
from bot.service.privacy import Hasher
from bot.service.store import Store
from bot.types import REPLY_LANGS
from tests.support import settled


def resident(world, chat_id: int = 42):
    settled()
    key = Hasher(world.settings.hash_key.encode()).resident("telegram", str(chat_id))
    return Store(world.settings.database_url).resident(key)


@pytest.fixture(scope="module")
def twenty_four_hour(engine) -> set[str]:
    return {words.number(s.phone) for s in engine.catalogue.services if s.always_open and s.phone}


# Authenticity at the edge


def test_a_wrong_or_missing_secret_is_refused_and_nothing_else_happens(world):
    for secret in ["", "wrong-secret", world.telegram.secret + "-but-longer", world.telegram.secret[:-1]]:
        response = world.telegram.send(world.url, world.telegram.text("死にたい"), secret=secret)
        assert response.status_code == 403
    assert world.telegram.recorder.quiet("sendMessage", 0.3) == []


MALFORMED = [b"nonsense", b"{}", b"[]", b"null", b'{"update_id": 1, "message": {"text": "hi"}}',
             b'{"update_id": "x", "callback_query": {}}', b'{"update_id": 7}', b"\xff",
             b'{"update_id": 8, "message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}}}']


def test_an_update_missing_fields_never_gets_a_5xx_and_leaves_the_server_healthy(world):
    for body in MALFORMED:
        assert world.telegram.send(world.url, body=body).status_code < 500, body
    assert httpx.get(f"{world.url}/healthz").json()["channels"]["telegram"]
    assert world.telegram_says("死にたい").text


# Referrals


def test_crisis_gets_a_24_hour_number_in_the_same_chat(world, twenty_four_hour):
    sent = world.telegram_says("死にたい", chat_id=777)
    assert sent.chat_id == 777
    assert sent.parse_mode == "HTML"
    assert any(number in sent.text for number in twenty_four_hour)
    assert "119" in sent.text and "110" in sent.text


def test_a_need_gets_services_with_website_buttons_and_more(world, engine):
    sent = world.telegram_says("息子がひきこもりで悩んでいる")
    assert "ひきこもり" in sent.text
    buttons = sent.buttons()
    websites = [h.url for h in engine.route("息子がひきこもりで悩んでいる").services if h.url]
    assert [b["url"] for b in buttons if "url" in b] == websites[:6]
    more = next(b for b in buttons if b["text"] == label("ja", "button.more"))
    page = world.telegram_update(world.telegram.callback(more["callback_data"]))
    assert page.text and page.text != sent.text
    assert world.telegram.recorder.calls("answerCallbackQuery")


def test_english_in_english_with_english_names(world):
    sent = world.telegram_says("My husband hits me")
    assert "DV Soudan Plus" in sent.text and "If a life is in danger" not in sent.text
    assert label("en", "button.language") in [b["text"] for b in sent.buttons()]


# Commands


def test_start_welcomes_and_says_what_the_bot_is_not(world):
    sent = world.telegram_says("/start")
    assert "相談員ではなく" in sent.text and "110" in sent.text


def test_help_and_unknown_commands(world):
    assert "使い方" in world.telegram_says("/help").text
    assert "使い方" in world.telegram_says("/whatever").text


def test_area_is_remembered_and_used(world):
    assert "浜松市" in world.telegram_says("/area 浜松市").text
    assert resident(world).area.startswith("2213")
    assert "浜松市" in world.telegram_says("息子がひきこもりで悩んでいる").text
    assert "見つかりませんでした" in world.telegram_says("/area どこでもない町").text
    assert t("ja", "chat.ask_area") in world.telegram_says("/area").text


def test_lang_switches_to_english_and_back(world):
    assert world.telegram_says("/lang en").text == t("en", "chat.lang_set")
    assert resident(world).lang == "en"
    sent = world.telegram_says("死にたい")
    assert "110" in sent.text and label("en", "button.language") in [b["text"] for b in sent.buttons()]
    menu = world.telegram_says("/lang")
    assert menu.text == t("en", "chat.lang_choose")
    assert [b["text"] for b in menu.buttons()] == [label(code, "meta.name") for code in REPLY_LANGS]
    assert world.telegram_says("/lang 日本語").text == t("ja", "chat.lang_set")
    assert resident(world).lang == "ja"


def test_forget_deletes_what_is_remembered(world):
    world.telegram_says("/area 浜松市")
    assert resident(world) is not None
    assert world.telegram_says("/forget").text == t("ja", "chat.forgotten")
    assert resident(world) is None


def test_a_location_is_remembered(world):
    sent = world.telegram_update(world.telegram.location(34.7108, 137.7261))
    assert "浜松市" in sent.text
    assert resident(world).lat == 34.71


# Redelivery and groups


def test_the_same_update_twice_is_answered_once(world):
    update = world.telegram.text("死にたい", update_id=900_001)
    world.telegram_update(update)
    assert world.telegram.send(world.url, update).status_code == 200
    assert len(world.telegram.recorder.quiet("sendMessage", 0.5)) == 1


def test_in_a_group_only_a_mention_is_answered(world):
    assert world.telegram.send(world.url, world.telegram.text("死にたい", group=True)).status_code == 200
    assert world.telegram.recorder.quiet("sendMessage", 0.4) == []
    sent = world.telegram_says("ひきこもりの相談先", group=True, mention=True)
    assert sent.chat_id < 0 and "ひきこもり" in sent.text
    assert f"@{BOT['username']}" not in sent.text
    assert resident(world) is None

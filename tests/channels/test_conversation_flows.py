"""Conversations over the fake LINE and Telegram APIs (#13, #16): the resident's language, the check-in and
its answer on the next message, choices when the bot is unsure, questions about the service.

The server's engine is tests/support.py's Understood: the real engine, told what the understanding
layers being built for #13 will say about a few of these messages.  The Desk, the database, the
router, the renderers and the channels are the real ones.
"""

from __future__ import annotations

import pytest

from bot.engine import texts
from bot.engine.render import label
from bot.fakes import Loopback
from bot.service.privacy import Hasher
from bot.service.store import Resident, Store
from tests.support import World, fresh_world, server_settings, settled

VI_WAGES = "Công ty không trả lương cho tôi ba tháng rồi"
VI_CANNOT_READ = "Cho tôi hỏi một chút"  # "let me ask something": no need in it yet, so the bot asks


@pytest.fixture(scope="module")
def server(understood, platforms, tmp_path_factory):
    from bot.service.server import create_app

    engine = understood
    line, line_url, tg, tg_url = platforms
    settings = server_settings(tmp_path_factory.mktemp("bot") / "bot.db", line, line_url, tg, tg_url)
    with Loopback(create_app(settings, engine)) as bot:
        yield bot.url, settings


@pytest.fixture
def talk(server, platforms, offline) -> World:
    return fresh_world(server, platforms)


def resident(world: World, channel: str = "line", user: str = "U1111") -> Resident | None:
    settled()
    key = Hasher(world.settings.hash_key.encode()).resident(channel, user)
    return Store(world.settings.database_url).resident(key)


def tap(world: World, reply, text: str):
    """Tap the quick reply (or button) labelled `text` in a LINE reply."""
    found = next(a for a in reply.actions() if a.get("label") == text)
    return world.line_event(world.line.postback(found["data"]))


def bubbles(reply) -> list[dict]:
    return [b for m in reply.messages if m["type"] == "flex" and m["contents"]["type"] == "carousel"
            for b in m["contents"]["contents"]]


def bubble_text(bubble: dict) -> str:
    return "\n".join(c.get("text", "") for c in bubble["body"]["contents"])


# LINE: a Vietnamese resident


def test_a_vietnamese_resident_about_unpaid_wages_gets_vietnamese_and_vietnamese_speaking_lines_first(talk):
    reply = talk.line_says(VI_WAGES)
    assert texts.say("vi", "opening.workplace_trouble") in reply.all_text()
    first = bubble_text(bubbles(reply)[0])
    assert "0120-558-815" in first and "Có thể tư vấn bằng Tiếng Việt" in first
    assert "労働条件相談ほっとライン" in first, "the name stays in Japanese, to be said on the phone"
    assert label("vi", "button.language") in reply.quick_labels()
    assert resident(talk).last_lang == "vi"


def test_switching_to_easy_japanese_by_quick_reply_sticks_for_the_next_message(talk):
    talk.line_says(VI_WAGES)
    menu = tap(talk, talk.line.replies()[-1], label("vi", "button.language"))
    assert menu.all_text() == texts.say("vi", "chat.lang_choose")
    chosen = tap(talk, menu, "やさしい日本語")
    assert chosen.all_text() == texts.say("ja-easy", "chat.lang_set")
    assert resident(talk).lang == "ja-easy"
    reply = talk.line_says(VI_WAGES)
    said = reply.all_text()
    assert texts.say("ja-easy", "opening.workplace_trouble") in said
    assert texts.say("vi", "opening.workplace_trouble") not in said and texts.say("en", "reply.more") not in said
    assert "0120-558-815" in bubble_text(bubbles(reply)[0]), "still the lines that speak Vietnamese first"


def test_a_message_the_bot_cannot_place_offers_choices_in_vietnamese_and_a_tap_routes_that_need(talk):
    reply = talk.line_says(VI_CANNOT_READ)
    said = reply.all_text()
    assert texts.say("vi", "unsure.opening") in said and "0120-279-338" in said
    assert texts.say("vi", "need.mental_health") in reply.quick_labels()
    work = texts.say("vi", "need.workplace_trouble")
    assert work in reply.quick_labels() and len(reply.quick_labels()) <= 13
    chosen = tap(talk, reply, work)
    assert texts.say("vi", "opening.workplace_trouble") in chosen.all_text()
    assert "0120-558-815" in bubble_text(bubbles(chosen)[0])


# LINE: the check-in and its answer


def test_check_in_then_yes_on_line_gets_the_crisis_reply(talk):
    reply = talk.line_says("何もかも面倒になった")
    assert reply.messages[0]["type"] == "flex" and reply.tel()[0].startswith("0120")  # a 24-hour line first
    assert reply.messages[-1]["text"].endswith(texts.say("ja", "checkin.question"))
    assert reply.quick_labels()[:3] == ["うん", "ちがう", "わからない"]
    assert resident(talk).asked == "suicide_check"
    answer = talk.line_says("うん")
    assert texts.say("ja", "checkin.if_yes") in answer.all_text()
    assert answer.messages[0]["type"] == "flex" and answer.tel()[0].startswith("0120")
    assert {"110", "119"} <= set(answer.tel())
    assert resident(talk).asked is None, "asked once, answered once"


def test_not_that_far_gets_the_mental_health_lines_and_one_24_hour_line(talk):
    talk.line_says("ぜんぶ嫌になった")
    answer = talk.line_says("そこまでじゃない")
    said = answer.all_text()
    assert texts.say("ja", "checkin.if_no") in said
    assert "こころの健康相談統一ダイヤル" in said and "0120-279-338" in said
    assert answer.messages[0]["type"] != "flex" or answer.messages[0]["contents"]["type"] == "carousel"


def test_the_answer_buttons_answer_the_check_in_too(talk):
    reply = talk.line_says("何もかも面倒になった")
    answer = tap(talk, reply, "わからない")
    assert texts.say("ja", "checkin.if_unsure") in answer.all_text()
    assert answer.tel()[0].startswith("0120")


def test_yes_without_the_question_is_not_read_as_an_answer(talk):
    reply = talk.line_says("うん")
    assert texts.say("ja", "checkin.if_yes") not in reply.all_text()


def test_a_question_about_recording_gets_the_privacy_answer(talk):
    said = talk.line_says("これって記録されるの？").all_text()
    assert texts.say("ja", "faq.privacy") in said and "/forget" in said
    assert texts.say("ja", "privacy.kept_nothing") in said


def test_every_reply_of_these_conversations_is_one_line_would_accept(talk):
    from bot.fakes.line import check_messages

    for text in (VI_WAGES, VI_CANNOT_READ, "何もかも面倒になった", "うん", "Necesito ayuda, no tengo dinero",
                 "わたし は しごと が ありません"):
        assert check_messages(talk.line_says(text).messages) == [], text


# Telegram


def test_check_in_then_yes_on_telegram(talk):
    sent = talk.telegram_says("何もかも面倒になった")
    assert sent.text.index("0120-279-338") < sent.text.index(texts.say("ja", "checkin.question"))
    answers = [b["callback_data"] for b in sent.buttons()[:3]]
    assert answers == ["a=ans&v=yes", "a=ans&v=no", "a=ans&v=unsure"]
    answer = talk.telegram_says("うん")
    assert texts.say("ja", "checkin.if_yes") in answer.text and "119" in answer.text


def test_telegram_answer_button_and_choices(talk):
    talk.telegram_says("ぜんぶ嫌になった")
    answer = talk.telegram_update(talk.telegram.callback("a=ans&v=no"))
    assert texts.say("ja", "checkin.if_no") in answer.text
    unsure = talk.telegram_says(VI_CANNOT_READ)
    work = next(b for b in unsure.buttons() if b.get("callback_data") == "a=need&i=workplace_trouble")
    assert work["text"] == texts.say("vi", "need.workplace_trouble")
    chosen = talk.telegram_update(talk.telegram.callback(work["callback_data"]))
    assert "0120-558-815" in chosen.text and "Có thể tư vấn bằng Tiếng Việt" in chosen.text


def test_telegram_lang_command_and_the_welcome_in_the_apps_language(talk):
    assert talk.telegram_says("/lang vi").text == texts.say("vi", "chat.lang_set")
    assert talk.telegram_says("/lang やさしい日本語").text == texts.say("ja-easy", "chat.lang_set")
    assert talk.telegram_says("/lang xx").text == texts.say("ja-easy", "chat.lang_choose")
    update = talk.telegram.text("/start", chat_id=77)
    update["message"]["from"]["language_code"] = "pt-br"
    assert texts.say("pt", "chat.welcome").splitlines()[0] in talk.telegram_update(update).text
    update = talk.telegram.text("/start", chat_id=78)
    update["message"]["from"]["language_code"] = "es"
    welcome = talk.telegram_update(update).text
    assert texts.say("ja-easy", "chat.welcome").splitlines()[0] in welcome
    assert texts.say("en", "chat.welcome").splitlines()[0] in welcome


def test_the_check_in_and_a_yes_to_it_are_counted_as_crises_of_suicide_risk_without_any_text(talk):
    from sqlmodel import Session, select

    from bot.service.store import ReferralLog

    talk.line_says("何もかも面倒になった")
    talk.line_says("うん")
    settled()
    with Session(Store(talk.settings.database_url).engine) as s:
        rows = list(s.exec(select(ReferralLog).order_by(ReferralLog.id)))
    assert rows[-1].crisis and rows[-1].intents.split(",")[0] == "suicide_risk"
    assert rows[-2].crisis, "the check-in led with the crisis lines: counted as one"

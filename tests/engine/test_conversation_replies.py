"""What the bot says, by what the understanding layers saw (#13, #16): Matches built directly, routed
and rendered as every channel starts from.

    check-in -> 24-hour lines first, then one plain question        (the reply asks "suicide_check")
    its answer: yes / not sure -> crisis lines first; no -> the need's lines and one 24-hour line
    unsure -> say so, offer the needs as choices, one 24-hour line; never 「お答えできません」
    a question about the service -> a real answer
    any language -> the reply in it (やさしい日本語 with English where the bot does not write it),
                    lines that speak it first, in a crisis too
"""

from __future__ import annotations

import pytest

from bot.engine import texts
from bot.engine.render import BOTH, render_text, shown_lang
from bot.engine.router import reply_lang
from bot.types import Evidence, IntentScore, Match, ResidentContext
from tests.support import TUESDAY_3AM, WEDNESDAY_NOON

ANY_ANSWER = ("お答えできません", "お答えできない")


@pytest.fixture(scope="module")
def engine(understood):
    return understood


def seen(*needs: str, tier: str = "need", language: str = "ja", lang: str = "ja", **fields) -> Match:
    """A Match as the understanding layers give it."""
    evidence = (Evidence(phrase="x", found="x", score=0.9, kind="lexicon"),)
    intents = tuple(IntentScore(n, 0.9 - i / 10, tier, evidence) for i, n in enumerate(needs))
    return Match(text="", readings="", intents=intents, crisis=fields.pop("crisis", False), crisis_why="",
                 lang=lang, language=language, language_why="built by the test", **fields)  # type: ignore[arg-type]


def always_open(referral) -> list[str]:
    return [h.service_id for h in referral.services if h.always_open and h.phone]


# The check-in


def test_ambiguous_distress_gets_the_24_hour_lines_first_then_one_plain_question(engine):
    referral = engine.route_match(seen(check_in=True), ResidentContext(), TUESDAY_3AM)
    assert referral.asks == "suicide_check" and not referral.crisis
    assert referral.services[0].always_open and referral.services[0].intent == "suicide_risk"
    assert referral.opening == texts.say("ja", "checkin.opening")
    text = render_text(referral)
    assert text.index("0120-279-338") < text.index(texts.say("ja", "checkin.question"))
    assert text.rstrip().endswith(texts.say("ja", "checkin.question")), "the question is the last thing said"
    assert texts.say("ja", "reply.not_counsellor") in text and texts.say("ja", "reply.emergency_explain") in text


@pytest.mark.parametrize("answer, opening", [("yes", "checkin.if_yes"), ("unsure", "checkin.if_unsure")])
def test_yes_or_not_sure_to_the_question_is_a_crisis_reply_with_the_lines_first(engine, answer, opening):
    referral = engine.route_match(seen(answer=answer), ResidentContext(asked="suicide_check"), TUESDAY_3AM)
    assert referral.crisis and referral.asks is None
    assert referral.opening == texts.say("ja", opening)
    assert referral.services[0].always_open and referral.services[0].phone
    assert "119" in [h.phone for h in referral.services]


def test_not_that_far_gets_the_mental_health_lines_and_one_24_hour_line(engine):
    referral = engine.route_match(seen(answer="no"), ResidentContext(asked="suicide_check"), WEDNESDAY_NOON)
    assert not referral.crisis and referral.opening == texts.say("ja", "checkin.if_no")
    assert {h.intent for h in referral.services} >= {"mental_health"}
    assert always_open(referral), "one 24-hour line all the same"
    assert "offer_plain" not in referral.notes


# Unsure, out of scope, questions about the service


def test_unsure_says_so_offers_the_needs_hinted_then_the_commonest_and_one_24_hour_line(engine):
    referral = engine.route_match(seen("hikikomori", unsure=True), ResidentContext(), TUESDAY_3AM)
    assert referral.opening == texts.say("ja", "unsure.opening")
    assert referral.choices[0] == "hikikomori" and len(referral.choices) == 6
    assert len(set(referral.choices)) == 6 and "mental_health" in referral.choices
    assert [h.service_id for h in referral.services] == always_open(referral)[:1] == ["yorisoi_hotline"]
    text = render_text(referral)
    assert texts.say("ja", "need.hikikomori") in text and not any(x in text for x in ANY_ANSWER)


def test_out_of_scope_is_never_a_closed_door(engine):
    for text in ("今日の天気は？", "ラーメンのおすすめ", "おすすめの映画ある？"):
        referral = engine.route(text, ResidentContext(), TUESDAY_3AM)
        assert referral.choices and always_open(referral), text
        assert not any(x in render_text(referral) for x in ANY_ANSWER), text


def test_a_question_about_privacy_gets_the_answer_and_the_privacy_notice(engine):
    referral = engine.route_match(seen("help", tier="meta", topic="privacy"), ResidentContext(), WEDNESDAY_NOON)
    assert referral.faq == "privacy" and referral.opening == texts.say("ja", "faq.privacy")
    text = render_text(referral, stored_days=7)
    assert "プライバシーについて" in text and "7日間" in text
    for topic in ("cost", "who", "hours", "how", "language", "area"):
        referral = engine.route_match(seen("help", tier="meta", topic=topic), ResidentContext(lang="vi"),
                                      WEDNESDAY_NOON)
        assert referral.opening == texts.say("vi", f"faq.{topic}"), topic


# Languages


def test_a_vietnamese_need_is_answered_in_vietnamese_with_vietnamese_speaking_lines_first(engine):
    referral = engine.route("Công ty không trả lương cho tôi ba tháng rồi", ResidentContext(), WEDNESDAY_NOON)
    assert referral.lang == "vi" and referral.match.language == "vi"
    assert referral.opening == texts.say("vi", "opening.workplace_trouble")
    first = referral.services[0]
    assert "vi" in first.languages and first.service_id == "fr_roudou_hotline_foreign"
    assert first.phone == "0120-558-815", "the number its source gives for Vietnamese"
    assert "Có thể tư vấn bằng Tiếng Việt" in render_text(referral)


def test_a_crisis_in_another_language_leads_with_24_hour_lines_then_a_line_that_speaks_it(engine):
    for language in ("vi", "pt", "tl", "zh", "ko", "ne", "es"):
        referral = engine.route_match(seen("suicide_risk", tier="crisis", crisis=True, language=language,
                                           lang=language), ResidentContext(), TUESDAY_3AM)
        ids = [h.service_id for h in referral.services]
        assert referral.services[0].always_open, language
        # よりそいホットライン's foreign-language line speaks all of these (its source lists them)
        assert "fr_yorisoi_foreign" in ids and ids.index("fr_yorisoi_foreign") > 0, language
        assert referral.opening.startswith(texts.say(referral.lang, "opening.suicide_risk")), language


def test_an_emergency_in_vietnamese_offers_the_119_line_that_has_interpreters(engine):
    evidence = (Evidence(phrase="x", found="x", score=0.9, kind="lexicon"),)
    match = Match(text="", readings="", intents=(IntentScore("emergency", 0.9, "crisis", evidence),), crisis=True,
                  crisis_why="", lang="vi", language="vi")
    referral = engine.route_match(match, ResidentContext(), TUESDAY_3AM)
    assert referral.emergency and referral.services[0].service_id == "fire_ambulance_119_interp"
    japanese = engine.route_match(match.__class__(**{**match.__dict__, "lang": "ja", "language": "ja"}),
                                  ResidentContext(), TUESDAY_3AM)
    assert japanese.services[0].service_id == "fire_ambulance_119"


def test_a_language_the_bot_does_not_write_gets_easy_japanese_with_english(engine):
    referral = engine.route("Necesito ayuda, no tengo dinero", ResidentContext(), WEDNESDAY_NOON)
    assert referral.lang == "ja-easy" and shown_lang(referral) == BOTH
    opening = f"opening.{referral.top}"
    assert referral.opening == texts.say("ja-easy", opening) + "\n" + texts.say("en", opening)
    chosen = engine.route("Necesito ayuda", ResidentContext(lang="ja-easy"), WEDNESDAY_NOON)
    assert shown_lang(chosen) == "ja-easy", "chosen by the resident: no English"


def test_the_residents_choice_wins_and_a_message_too_short_to_tell_keeps_the_last_language(engine):
    assert reply_lang(seen(language="vi", lang="vi"), ResidentContext(lang="ja-easy")) == "ja-easy"
    assert reply_lang(seen(language="und", lang="en"), ResidentContext(last_lang="vi")) == "vi"
    assert reply_lang(seen(language="en", lang="en"), ResidentContext(last_lang="vi")) == "en"
    referral = engine.route("ok", ResidentContext(last_lang="pt"), WEDNESDAY_NOON)
    assert referral.lang == "pt"


def test_very_simple_japanese_is_answered_in_easy_japanese_with_ordinary_japanese_one_tap_away(engine):
    first = engine.route("わたし は しごと が ありません", ResidentContext(), WEDNESDAY_NOON)
    assert first.lang == "ja-easy" and "offer_plain" in first.notes
    assert texts.say("ja-easy", f"opening.{first.top}") in render_text(first)
    chosen = engine.route("わたし は しごと が ありません", ResidentContext(lang="ja"), WEDNESDAY_NOON)
    assert chosen.lang == "ja" and "offer_plain" not in chosen.notes, "a resident who chose Japanese keeps it"
    plain = engine.route("仕事が見つからなくて困っています", ResidentContext(), WEDNESDAY_NOON)
    assert plain.lang == "ja" and "offer_plain" not in plain.notes


def test_every_reply_language_renders_a_crisis_with_119_and_110_explained(engine):
    for lang in ("ja", "ja-easy", "en", "zh", "vi", "ko", "tl", "pt", "ne", "id"):
        referral = engine.route_match(seen("suicide_risk", tier="crisis", crisis=True), ResidentContext(lang=lang),
                                      TUESDAY_3AM)
        text = render_text(referral)
        assert texts.say(lang, "reply.emergency_explain") in text, lang
        assert texts.say(lang, "reply.not_counsellor") in text, lang
        assert text.index("0120-279-338") < text.index(texts.say(lang, "reply.danger")), lang

"""Residents write in their own words; the reply leads with what fits them, crisis lines first."""

from __future__ import annotations

from bot.engine.render import render_text
from bot.types import ResidentContext
from tests.support import TUESDAY_3AM, WEDNESDAY_NOON, engine


def reply(text: str, now=WEDNESDAY_NOON, **ctx):
    referral = engine().route(text, ResidentContext(**ctx), now)
    return referral, render_text(referral)


def test_someone_who_wants_to_die_gets_24_hour_lines_first_at_3am():
    referral, text = reply("もう死にたい", now=TUESDAY_3AM)
    assert referral.crisis
    first = referral.services[0]
    assert first.always_open and first.open_now and first.phone
    assert first.service_id == "yorisoi_hotline"
    assert "相談員ではなく" in text  # says the bot is not a counsellor
    assert "119" in text


def test_every_crisis_line_offered_is_open_now():
    referral, _ = reply("しにたい", now=TUESDAY_3AM)
    crisis_hits = [h for h in referral.services if h.intent == "suicide_risk"]
    assert crisis_hits and all(h.open_now for h in crisis_hits)


def test_immediate_danger_leads_with_119_and_110():
    referral, text = reply("夫が包丁を持って暴れている")
    assert referral.crisis and referral.emergency
    assert [h.phone for h in referral.services[:2]] == ["119", "110"]
    assert text.index("119") < text.index("0120")


def test_debt_and_wanting_to_die_come_out_together():
    referral, _ = reply("借金で死にたい")
    ids = [s.id for s in referral.intents]
    assert ids[0] == "suicide_risk" and "financial_hardship" in ids[:3]
    assert any(h.intent == "financial_hardship" for h in referral.services)


def test_a_negated_crisis_ranks_loneliness_first_but_keeps_a_24_hour_line():
    referral, _ = reply("死にたいとは思わないけど毎日さみしい")
    assert referral.top == "loneliness"
    assert any(h.always_open for h in referral.services)


def test_a_city_that_sounds_like_dying_is_not_a_crisis():
    referral, _ = reply("市に対して意見があります")
    assert not referral.crisis
    assert referral.intents[0].tier == "meta", "no need either: out of scope, or a question for the bot"


def test_wanting_to_die_written_all_in_hiragana_is_heard_however_sudachi_splits_it():
    # Sudachi guesses word breaks in a run of hiragana: あ|し|た|し|のう|と…, きょうし|のう|と…
    for said in ["あしたしのうとおもってる", "きょうしのうとおもう", "じぶんをころしたい", "ねむったままおきたくない"]:
        referral, _ = reply(said, now=TUESDAY_3AM)
        assert referral.crisis, said
        assert referral.services[0].always_open and referral.services[0].open_now, said
    for said in ["わたしのうちはえきからとおい", "かんしにたいしてふまんがある"]:  # しのう, しにたい inside other words
        # The lexicon reads no crisis phrase across these word breaks (the learned layers may still ask,
        # on their own reading of 「とおい」: far away is a warning sign they were taught).
        assert not engine().matcher.match(said).crisis, said


def test_a_goodbye_a_threat_passed_on_and_pills_taken_all_lead_with_24_hour_lines():
    # The warning signs SNS counsellors are taught: farewells, someone else's words, an overdose.
    for said in ["今までありがとう。もう大丈夫だから心配しないで", "彼氏が今から死ぬって言って電話を切った",
                 "もらってた薬をまとめて飲んだ"]:
        referral, _ = reply(said, now=TUESDAY_3AM)
        assert referral.crisis, said
        assert referral.services[0].always_open and referral.services[0].open_now, said


def test_kansai_lengthening_in_place_of_a_particle_reads_as_the_particle():
    # 目ぇ覚めへん is 目が覚めない; katakana keeps its small vowels (チェック).
    referral, _ = reply("毎晩、このまま目ぇ覚めへんかったらええのにって思う", now=TUESDAY_3AM)
    assert referral.crisis and referral.services[0].always_open
    assert reply("血ぃ止まらへん")[0].emergency


def test_spelling_variants_of_shut_in_meet():
    for text in ("息子が引きこもりです", "息子がひきこもりです", "息子が引き籠もりです", "息子がヒキコモリです"):
        assert engine().match(text).intents[0].id == "hikikomori", text


def test_unknown_hours_are_never_shown_as_open():
    referral, text = reply("法律の相談をしたい")
    terasu = next(h for h in referral.services if h.service_id == "houterasu")
    assert terasu.open_now is None
    assert "受付時間は公式サイトでご確認ください" in text


def test_an_office_closed_at_night_says_when_it_opens_next():
    referral, _ = reply("上司のパワハラがひどくて会社に行くのがつらい", now=TUESDAY_3AM)
    line = next(h for h in referral.services if h.service_id == "roudou_hotline")
    assert line.open_now is None or (line.open_now is False and line.next_open is not None)


def test_an_empty_message_gets_help_not_a_random_need():
    referral, _ = reply("   ")
    assert referral.top in ("out_of_scope", "help")
    assert not referral.crisis


def test_english_gets_an_english_reply():
    referral, text = reply("I feel so lonely and have no one to talk to")
    assert referral.lang == "en"
    assert referral.top == "loneliness"
    assert "Yorisoi" in text or "hours" in text


def test_a_need_without_an_area_asks_where_the_resident_lives():
    referral, text = reply("母の介護に疲れました")
    assert referral.ask_area
    assert "郵便番号" in text


def test_route_is_deterministic_for_a_given_time():
    a = engine().route("ひとりぼっちで寂しい", ResidentContext(), WEDNESDAY_NOON)
    b = engine().route("ひとりぼっちで寂しい", ResidentContext(), WEDNESDAY_NOON)
    assert a == b

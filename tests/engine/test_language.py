"""The language of a message, and the language the bot answers in (issue 16)."""

from __future__ import annotations

from ruamel.yaml import YAML

from bot.engine.understand.language import Detection, detect, reply_lang
from bot.types import REPLY_LANGS
from tests.support import ROOT

CASES = YAML(typ="safe").load((ROOT / "tests/engine/languages.yaml").read_text(encoding="utf-8"))


def test_the_reply_is_in_the_residents_language_or_easy_japanese_for_at_least_95_percent():
    wrong = []
    for case in CASES:
        expected = case["language"] if case["language"] in REPLY_LANGS else "ja-easy"
        found = detect(case["text"])
        if found.lang != expected:
            wrong.append(f"{case['text']}: {found.language}/{found.lang} ({found.why})")
    languages = {c["language"] for c in CASES}
    assert len(languages) >= 12, "ten reply languages' worth of residents and others besides"
    assert len(wrong) <= 0.05 * len(CASES), "\n".join(wrong)


def test_short_kanji_only_japanese_is_japanese_and_chinese_with_its_function_words_is_chinese():
    for text in ("自殺", "借金地獄", "我慢限界", "不安", "生活保護申請"):
        assert detect(text).language == "ja", text
    for text in ("我想死", "活不下去", "没钱了", "老板不给我工资"):
        assert detect(text)[:2] == ("zh", "zh"), text


def test_scripts_that_name_their_language():
    assert detect("죽고 싶어요")[:2] == ("ko", "ko")
    assert detect("म मर्न चाहन्छु")[:2] == ("ne", "ne")
    assert detect("ฉันอยากตาย")[:2] == ("th", "ja-easy")
    assert detect("ငါသေချင်တယ်")[:2] == ("my", "ja-easy")
    assert detect("Я хочу умереть")[:2] == ("ru", "ja-easy")


def test_a_language_we_do_not_write_is_answered_in_easy_japanese():
    found = detect("Necesito ayuda, no tengo dinero")
    assert found.language == "es" and found.lang == "ja-easy"
    assert reply_lang("fr") == "ja-easy" and reply_lang("vi") == "vi" and reply_lang("ja-easy") == "ja-easy"


def test_kana_only_or_spaced_out_japanese_is_answered_in_easy_japanese_but_ordinary_japanese_is_not():
    for text in ("わたし は しごと が ありません", "ねるところがありません"):
        found = detect(text)
        assert found.simple_japanese and found.language == "ja-easy" and found.lang == "ja-easy", text
    for text in ("三か月も給料が払われていません", "もう死にたい", "うん"):
        assert not detect(text).simple_japanese, text


def test_romaji_is_japanese_and_a_message_too_short_to_tell_says_so():
    assert detect("shinitai")[:2] == ("ja", "ja")
    for text in ("ok", "no", "😢", "123", ""):
        assert detect(text).language == "und", text
    assert detect("ok").lang == "en" and detect("😢").lang == "ja"


def test_short_latin_messages_are_read_by_their_common_words():
    # lingua's low accuracy mode alone reads "I want to die" as German and "Eu quero morrer" as Spanish.
    assert detect("I want to die")[:2] == ("en", "en")
    assert detect("Eu quero morrer")[:2] == ("pt", "pt")
    assert detect("Tidak tahu")[:2] == ("id", "id")
    assert detect("Hindi ko alam")[:2] == ("tl", "tl")
    assert detect("toi khong co tien")[:2] == ("vi", "vi")


def test_detect_is_a_named_tuple_with_a_why():
    found = detect("Tôi muốn chết")
    assert isinstance(found, Detection)
    language, lang, why, simple = found
    assert (language, lang, simple) == ("vi", "vi", False) and "Vietnamese" in why

"""Bad input never breaks the engine: property-based tests of the normaliser, matcher and router."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.engine.understand.normalise import clean, kana_key
from bot.types import ResidentContext
from tests.support import WEDNESDAY_NOON, engine

CRISIS = ["死にたい", "もう消えたい", "自殺したい", "しにたい", "夫が包丁を持って暴れている", "子どもが息をしていない"]
NOISE = st.sampled_from([" ", "　", "\n", "😭", "😢😢", "…", "!!", "！！", "w", "ｗｗ", "。", "\t", "💔", "~"])
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.text(max_size=300))
def test_the_normaliser_never_fails_and_is_idempotent(text):
    once = clean(text)
    assert clean(once) == once
    assert isinstance(kana_key(text), str)


@SETTINGS
@given(st.text(max_size=400))
def test_any_text_gets_a_referral_deterministically(text):
    a = engine().route(text, ResidentContext(), WEDNESDAY_NOON)
    b = engine().route(text, ResidentContext(), WEDNESDAY_NOON)
    assert a == b
    assert a.intents, "every message gets at least out_of_scope"
    if a.crisis:
        assert a.services and a.services[0].open_now


@SETTINGS
@given(st.sampled_from(CRISIS), st.lists(NOISE, max_size=6), st.lists(NOISE, max_size=6))
def test_crisis_survives_whitespace_and_emoji(phrase, before, after):
    text = "".join(before) + phrase + "".join(after)
    assert engine().match(text).crisis, text


@SETTINGS
@given(st.sampled_from(CRISIS))
def test_crisis_survives_full_and_half_width(phrase):
    wide = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in phrase)
    assert engine().match(wide).crisis
    assert engine().match(phrase.replace("し", "シ")).crisis or "し" not in phrase


def test_a_100kb_message_is_answered_not_matched_forever():
    referral = engine().route("さみしい" + "あ" * 100_000, ResidentContext(), WEDNESDAY_NOON)
    assert referral.top == "loneliness"


@SETTINGS
@given(st.floats(allow_nan=False, min_value=-90, max_value=90), st.floats(allow_nan=False, min_value=-180, max_value=180))
def test_any_location_gets_services_and_an_honest_area(lat, lon):
    referral = engine().route("ひきこもり", ResidentContext(lat=lat, lon=lon), WEDNESDAY_NOON)
    assert referral.services
    assert referral.area is None or referral.area.approximate

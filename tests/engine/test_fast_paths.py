"""The shortcuts that keep routing fast give the answers of the plain code they replace."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.engine import router
from bot.engine.understand.matcher import _REPEATS, _fold_repeats
from bot.engine.understand.normalise import CLEAN_CACHED, _clean, clean, is_english
from bot.engine.understand.phrases import pair_index
from bot.types import ResidentContext
from tests.support import WEDNESDAY_NOON, at, engine

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Few letters, so that units come again: しにたいしにたい, abcdabcdabcd, ...
REPEATING = st.text(alphabet="しにたいあかabcd \n", max_size=60)


@SETTINGS
@given(REPEATING)
def test_folding_repeats_is_the_plain_substitution(text):
    assert _fold_repeats(text) == _REPEATS.sub(r"\1 ", text)


@SETTINGS
@given(st.text(alphabet="abcXYZ死にたいアイ123 _-éßΩ😢ー々", max_size=20))
def test_is_english_counts_letters_as_before(text):
    letters = [c for c in text if c.isalpha()]
    expected = bool(letters) and sum(1 for c in letters if c.isascii()) / len(letters) > 0.8
    assert is_english(text) == expected


def test_clean_is_the_same_cached_or_not():
    text = "ストーかーが　今ドアの前にいます！！😢 さみしいいいい"
    assert clean(text) == _clean(text)
    long = text * (CLEAN_CACHED // len(text) + 1)  # too long to keep: cleaned each time
    assert clean(long) == _clean(long)
    assert clean("") == "" and clean(None) == ""  # type: ignore[arg-type]


def test_the_two_word_index_offers_every_phrase_that_can_start_there():
    m = engine().matcher.index
    rng = random.Random(4)
    lemmas = sorted({w for p in m.phrases for w in p.lemmas})
    by_pair = pair_index(m.by_first_lemma, lambda p: p.lemmas)
    for _ in range(3000):
        seq = [rng.choice(lemmas) for _ in range(3)]
        if rng.random() < 0.7:  # mostly the start of a real phrase, then anything
            seq = list(rng.choice(m.phrases).lemmas[:2]) + seq
        for i in range(len(seq)):
            nxt = seq[i + 1] if i + 1 < len(seq) else None
            offered = by_pair.get((seq[i], nxt))
            if offered is None:
                offered = by_pair.get((seq[i], None), ())
            every = m.by_first_lemma.get(seq[i], ())
            fits = [p for p in every if tuple(seq[i:i + len(p.lemmas)]) == p.lemmas]
            assert [p for p in offered if tuple(seq[i:i + len(p.lemmas)]) == p.lemmas] == fits


def test_services_for_a_need_are_the_first_of_the_full_list():
    e = engine()
    needs = sorted({i for s in e.catalogue.services for i in s.intents})
    places = [None, "221309", "13101", "011002", "472158", "01"]
    for when in (WEDNESDAY_NOON, at("2026-12-05T03:00")):
        for code in places:
            area = e.areas.get(code).area("remembered") if code else None
            for lang in ("ja", "en"):
                ctx = ResidentContext(area=code, lang=lang)
                for need in needs:
                    full = router._for_need(need, e.catalogue, when, area, ctx, e.areas, lang)
                    assert full, need  # never an empty list
                    for limit in (0, 1, 4):
                        assert router._for_need(need, e.catalogue, when, area, ctx, e.areas, lang, limit) == full[:limit]


@SETTINGS
@given(st.text(alphabet="しにたいのうとおもっじぶんをころきえあした漢字", max_size=40))
def test_crisis_words_across_word_breaks_are_every_place_a_plain_search_finds(text):
    from collections import Counter

    from bot.engine.understand.hits import _kana_written, _unaligned_hits, _View
    from bot.engine.understand.tokens import tokenize

    index, tokens = engine().matcher.index, tokenize(text)
    view = _View.of([t.key for t in tokens])
    found = Counter(key for _, _, _, key in _unaligned_hits(index, view, tokens))
    plain: Counter[str] = Counter()
    ends = view.starts[1:] + [len(view.text)]
    runs = [(view.starts[i], ends[i]) for i, t in enumerate(tokens) if _kana_written((t,))]
    merged: list[list[int]] = []
    for a, b in runs:  # consecutive kana-written words make one run
        if merged and merged[-1][1] == a:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    for a, b in merged:
        for key in index.unaligned:
            plain[key] += sum(1 for at in range(a, b - len(key) + 1) if view.text.startswith(key, at))
    assert found == +plain

"""Free Japanese (or English) text in, ranked intents out; no training step.

    text -> clean() -> Sudachi tokens (lemma, reading)                       normalise.py, tokens.py
         -> phrase hits in three aligned views (lemma sequence, surface kana, reading kana)
            + typo-tolerant reading hits + example similarity                hits.py, over phrases.py
         -> per-intent score (noisy-or of evidence), negation, crisis flag   scoring.py

`Matcher` builds the phrase index once; `match` runs one message through the steps.  Before
the tokens, a unit said again and again is folded (しにたいしにたい) and romaji is read as kana.
"""

from __future__ import annotations

import re

import jaconv

from bot.engine.understand.hits import NEGATED_FACTOR, example_hits, framed, phrase_hits
from bot.engine.understand.intents import IntentSpec
from bot.engine.understand.normalise import clean, is_english
from bot.engine.understand.phrases import PhraseIndex
from bot.engine.understand.scoring import decide
from bot.engine.understand.tokens import tokenize
from bot.types import Evidence, Match

MAX_CHARS = 2000  # a 100 KB message is answered from its first part, not matched forever
# しにたいしにたいしにたい -> しにたい; units of four or more, so きゅうきゅうしゃ stays.
_REPEATS = re.compile(r"(.{4,}?)\1+")
_ROMAJI_WORD = re.compile(r"[a-z]+")
_EN_FUNCTION = {"i", "a", "the", "and", "to", "my", "have", "is", "am", "are", "you", "me", "not", "of", "in",
                "with", "for", "it", "so", "do", "be", "he", "she", "we", "they", "on", "at", "can", "no", "help"}


class Matcher:
    """The phrase index, built once from the intents (phrases.py); `match` runs one message."""

    def __init__(self, specs: dict[str, IntentSpec]):
        self.specs = specs
        self.index = PhraseIndex(specs)

    def match(self, text: str) -> Match:
        cleaned = clean((text or "")[:MAX_CHARS])
        lang = "en" if is_english(cleaned) else "ja"
        matched = _fold_repeats(cleaned)
        tokens = tokenize(matched)
        hits = phrase_hits(self.index, tokens)
        kana = _romaji_to_kana(matched)
        if kana:
            # Japanese typed in Latin letters (shinitai): match its kana too.
            kana_tokens = tokenize(kana)
            hits = _best_per_phrase(hits + phrase_hits(self.index, kana_tokens))
            tokens = tokens + kana_tokens
            lang = "ja"
        hits += example_hits(self.index, tokens)
        hits = [(intent, _in_story(ev, text or "") if self.specs[intent].tier == "crisis" else ev) for intent, ev in hits]
        return decide(self.specs, cleaned, tokens, hits, lang)


def _fold_repeats(text: str) -> str:
    """_REPEATS.sub(r"\\1 ", text), trying the pattern only where it can match: a unit of four
    or more said again starts with four characters that come again at least four later.
    (The plain sub tries every unit length at every position: quadratic in a long message.)"""
    n = len(text)
    if n < 8:
        return text
    grams = [text[k:k + 4] for k in range(n - 3)]
    last = {g: k for k, g in enumerate(grams)}  # where each four last stand
    if len(last) == len(grams):
        return text  # no four characters come twice
    out, done = [], 0
    for k in range(n - 7):
        if k < done or last[grams[k]] < k + 4:
            continue
        m = _REPEATS.match(text, k)
        if m:
            out.append(text[done:k])
            out.append(m.group(1) + " ")
            done = m.end()
    if not out:
        return text
    out.append(text[done:])
    return "".join(out)


def _romaji_to_kana(text: str) -> str | None:
    """'shinitai' -> 'しにたい' when the message is all Latin letters that read back as romaji."""
    words = _ROMAJI_WORD.findall(text)
    if not words or not text.isascii() or _EN_FUNCTION & set(words):
        return None  # English ("have" reads back as はゔぇ): not romaji
    converted, romaji = [], 0
    for w in words:
        kana = jaconv.alphabet2kana(w)
        if kana.isascii() is False and not re.search(r"[a-z]", kana) and jaconv.kana2alphabet(kana) == w:
            converted.append(kana)
            romaji += 1
        else:
            converted.append(w)
    if romaji < max(1, len(words) * 0.6):
        return None
    return " ".join(converted)


def _best_per_phrase(hits: list[tuple[str, Evidence]]) -> list[tuple[str, Evidence]]:
    best: dict[tuple[str, str], tuple[str, Evidence]] = {}
    for intent, ev in hits:
        key = (intent, ev.phrase)
        if key not in best or best[key][1].score < ev.score:
            best[key] = (intent, ev)
    return list(best.values())


def _in_story(ev: Evidence, text: str) -> Evidence:
    """A crisis phrase told inside a story, a game or a joke counts as a negated one (hits.framed).
    Read on the text as sent: cleaning turns the quotes and full stops into spaces."""
    if ev.negated or not framed(text, ev.found):
        return ev
    return Evidence(ev.phrase, ev.found, round(ev.score * NEGATED_FACTOR, 3), ev.kind + "-story", True)

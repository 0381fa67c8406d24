"""Text normalisation shared by the matcher, the area finder and the phrase lists.

Both sides of every comparison go through the same functions, so a phrase
written in katakana, full-width or with a long vowel meets the resident's
spelling of it.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_KATA_START, _KATA_END = 0x30A1, 0x30F6
_SMALL_VOWELS = str.maketrans("ぁぃぅぇぉゎゕゖ", "あいうえおわかけ")
# Letters, digits, kana, kanji and the long-vowel mark survive; everything else
# (punctuation, symbols, emoji) becomes a space so it still separates words.
_KEEP = re.compile(r"[^0-9a-z\u3041-\u309f\u30a0-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々〆ー#〒\- ]+")
_SPACES = re.compile(r"\s+")
_DIALECT_LENGTHENING = re.compile(r"(?<![\u3400-\u9fff])([\u3400-\u9fff])[ぁぃぅぇぉ]")
_KANA_SLIP = re.compile(r"(?<=[\u30a1-\u30fa\u30fc])(?![とやのをはがにもへでか])[\u3041-\u3096](?=[\u30a1-\u30fa\u30fc])|(?<=\u30fc)か(?=\u30fc)")
_RUNS = re.compile(r"(\D)\1{2,}")  # さみしいいいい -> さみしい (3+ repeats to 1)
_LONG_MARKS = re.compile(r"ー{2,}")
_LONG_AFTER = re.compile(r"([\u3041-\u309f])ー+")

_VOWEL_OF = {}
for _row, _vowel in (
    ("あかさたなはまやらわがざだばぱぁゃ", "あ"),
    ("いきしちにひみりぎじぢびぴぃ", "い"),
    ("うくすつぬふむゆるぐずづぶぷぅゅ", "う"),
    ("えけせてねへめれげぜでべぺぇ", "え"),
    ("おこそとのほもよろをごぞどぼぽぉょ", "う"),  # おー is read as おう in most words (そーだん -> そうだん)
):
    for _ch in _row:
        _VOWEL_OF[_ch] = _vowel


_TO_HIRA = {c: c - 0x60 for c in range(_KATA_START, _KATA_END + 1)}


def to_hiragana(text: str) -> str:
    return text.translate(_TO_HIRA)


CLEAN_CACHED = 4096  # characters: one message (the matcher, the router and the area finder each clean it)


def clean(text: str) -> str:
    """NFKC, lower case, punctuation and emoji to spaces, small vowels and runs folded.

    Keeps katakana as katakana, because the morphological analyser knows
    loanwords (パワハラ, メンヘラ) in katakana only.
    """
    if text and len(text) <= CLEAN_CACHED:
        return _clean_cached(text)
    return _clean(text)


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "").lower()
    # West and Kansai speech lengthens a one-kanji word in place of its particle (目ぇ覚めへん,
    # 血ぃ出とる, 気ぃ失った): the vowel goes, the word stands alone as 目が or 血が would.
    text = _DIALECT_LENGTHENING.sub(r"\1 ", text)
    text = text.translate(_SMALL_VOWELS)  # katakana keeps its small vowels: チェック, フォーム
    # A hiragana slipped into a katakana word (ストーかー) goes back to katakana.
    text = _KANA_SLIP.sub(lambda m: chr(ord(m.group(0)) + 0x60), text)
    text = _KEEP.sub(" ", text)
    text = _RUNS.sub(r"\1", text)
    text = _LONG_MARKS.sub("ー", text)
    return _SPACES.sub(" ", text).strip()


_clean_cached = lru_cache(maxsize=1024)(_clean)


@lru_cache(maxsize=65536)
def kana_key(text: str) -> str:
    """A comparison key: clean(), then hiragana, with long vowels spelled out.

    >>> kana_key("ヒキコモリ") == kana_key("ひきこもり")
    True
    >>> kana_key("さみしーーー")
    'さみしい'
    """
    return key_of_clean(clean(text))


def key_of_clean(text: str) -> str:
    """kana_key() for text that has already been through clean()."""
    text = to_hiragana(text)
    if "ー" in text:
        text = _LONG_AFTER.sub(lambda m: m.group(1) + _VOWEL_OF.get(m.group(1), ""), text)
    return text.replace(" ", "")


_LATIN_LETTER = re.compile(r"[a-zA-Z]")  # the ASCII characters that are isalpha()


def is_english(text: str) -> bool:
    """Mostly Latin letters and no kana or kanji: the resident writes English."""
    latin = len(_LATIN_LETTER.findall(text))
    if not latin:
        return False
    letters = sum(map(str.isalpha, text))
    return latin / letters > 0.8

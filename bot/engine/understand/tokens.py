"""Words and readings from SudachiPy (sudachidict_core).

Each token carries the keys the matcher compares: the normalised lemma
(死にたかった -> 死ぬ + たい; 引き籠もり and ひきこもり -> 引き籠もり) and the reading
in hiragana, so that kana-only and kanji spellings of the same word meet.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache

from sudachipy import Dictionary, SplitMode

from bot.engine.understand.normalise import _clean_cached, clean, kana_key, key_of_clean, to_hiragana

CONTENT_POS = {"名詞", "動詞", "形容詞", "形状詞", "副詞", "代名詞", "接頭辞", "接尾辞"}
_ASCII_WORD = re.compile(r"^[a-z0-9]+$")
_LATIN_SPLIT = re.compile(r"([a-z0-9]+)")


@dataclass(frozen=True)
class Token:
    surface: str  # as cleaned (katakana kept)
    lemma: str  # normalised lemma, as a kana_key (kanji kept, katakana -> hiragana)
    reading: str  # reading of the surface, hiragana
    pos: str  # Sudachi's first part-of-speech level
    pos2: str  # and its second
    key: str = ""  # kana_key(surface), computed once here rather than on every comparison

    @property
    def content(self) -> bool:
        return self.pos in CONTENT_POS and self.pos2 not in ("非自立可能", "数詞")


_dictionary_lock = threading.Lock()


@lru_cache(maxsize=1)
def _loaded_dictionary() -> Dictionary:
    dictionary = Dictionary(dict="core")  # memory-mapped: one copy for every thread and forked worker
    _random_access("system.dic")
    return dictionary


def _dictionary() -> Dictionary:
    # Locked: two threads starting at once would map the 200 MB dictionary twice (lru_cache does not lock).
    with _dictionary_lock:
        return _loaded_dictionary()


MADV_RANDOM, MADV_DONTNEED = 1, 4


def _random_access(file_name: str) -> None:
    """Ask the kernel not to read ahead in the mapped dictionary: a word looked up brings in its own
    page, not the next 128 KB. Measured over 2,110 messages: 123 MB of each process's RSS instead of
    159 MB (the pages stay shared in the page cache either way). Linux only; elsewhere nothing."""
    _advise(file_name, MADV_RANDOM)


def release_pages() -> None:
    """A forked worker lets go of the dictionary pages its parent touched while loading (they stay in
    the page cache; the worker maps again, cheaply, only those its own messages need)."""
    _advise("system.dic", MADV_DONTNEED)


def _advise(file_name: str, advice: int) -> None:
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        with open("/proc/self/maps") as maps:
            spans = [line.split()[0] for line in maps if line.rstrip().endswith(file_name)]
        for span in spans:
            start, end = (int(x, 16) for x in span.split("-"))
            libc.madvise(ctypes.c_void_p(start), ctypes.c_size_t(end - start), advice)
    except (OSError, AttributeError, ValueError):
        pass


_local = threading.local()


def _tokenizer():
    """This thread's tokenizer: Sudachi refuses one used by two threads at once (the server routes in a pool)."""
    tokenizer = getattr(_local, "tokenizer", None)
    if tokenizer is None:
        tokenizer = _local.tokenizer = _dictionary().tokenizer(mode=SplitMode.C)
    return tokenizer


def _english_stem(word: str) -> str:
    # A light stem so "killing", "killed", "kills" meet "kill"; no English lexicon is worth its size here.
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def tokenize(text: str) -> tuple[Token, ...]:
    """Tokens of a message after clean(); spaces are dropped, long text is cut by the caller."""
    return _tokenize_clean(clean(text))


@lru_cache(maxsize=4096)
def _tokenize_clean(text: str) -> tuple[Token, ...]:
    if not text:
        return ()
    out: list[Token] = []
    # Latin words are cut out first: Sudachi's dictionary would read "want to" as one katakana word.
    for part in _LATIN_SPLIT.split(text):
        if _ASCII_WORD.match(part):
            out.append(Token(part, _english_stem(part), part, "英単語", "", part))
        elif part.strip():
            out.extend(_japanese(part))
    return tuple(out)


def _japanese(text: str) -> list[Token]:
    out = []
    for m in _tokenizer().tokenize(text):
        token = _token(m.surface(), m.normalized_form(), m.reading_form(), m.part_of_speech_id())
        if token is not None:
            out.append(token)
    return out


@lru_cache(maxsize=16384)
def _token(surface: str, normalized: str, reading: str, pos_id: int) -> Token | None:
    """One word as the matcher sees it (None for spaces and punctuation): the same word in
    every message, so its keys are worked out once."""
    if not surface.strip():
        return None
    pos = _dictionary().pos_of(pos_id)
    if pos[0] in ("補助記号", "空白"):
        return None
    reading = to_hiragana(reading) if reading else kana_key(surface)
    # The surface is already clean; the lemma comes from the dictionary and may not be.
    return Token(surface, kana_key(normalized), reading, pos[0], pos[1], key_of_clean(surface))


def clear_caches() -> None:
    """Forget every message and word seen (the benchmark measures tokenizing for real)."""
    _tokenize_clean.cache_clear()
    _token.cache_clear()
    _clean_cached.cache_clear()

"""A cheap first look for crisis words, to put a message in line before it is read properly.

    words = CrisisWords.from_intents(engine.intents)     # once: the crisis intents' keywords
    words.seen("もう死にたい")  -> True                     # each message: microseconds, no Sudachi

Not a verdict: the matcher decides what is a crisis (scoring.py).  This only lets a message that
looks like one go to the front of the queue when the server is busy (bot/service/intake.py); a
message it misses is still read in full in its turn, and a false alarm only goes first.

A keyword is looked for in hiragana as written (cleaned as the matcher cleans text: NFKC, case,
small kana, long vowels) and as read, so 死にたい, シニタイ and しにたい all meet it; also without its
last kana (死にた: other endings of the verb) and without particles between kanji (手首切: 手首を切る).
A gapped keyword (薬…ためる) needs all its parts.  On the referral files the look finds 84% of the
crisis cases the matcher raises, and sends 4% of the others to the front with them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from bot.engine.understand.intents import IntentSpec
from bot.engine.understand.normalise import clean, to_hiragana
from bot.engine.understand.tokens import tokenize

MIN_WEIGHT = 0.5  # keywords weighed lower than this are too loose to send a message to the front
GAP = "…"
MAX_CHARS = 1000  # of a message looked at; a crisis word far into a long story waits its turn
_ENDING = re.compile(r"[\u3041-\u309f]+$")  # okurigana and endings in hiragana
_HAS_KANJI = re.compile(r"[\u3400-\u9fff]")
_PARTICLES = re.compile(r"(?<=[\u3400-\u9fff])[をがにはでも](?=[\u3400-\u9fff])")  # between two kanji only


@dataclass(frozen=True)
class CrisisWords:
    forms: tuple[str, ...]  # each keyword's spellings in hiragana (see _forms_of), longest first
    gapped: tuple[tuple[frozenset[str], ...], ...]  # gapped keywords: each part's spellings
    _index: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False, repr=False)
    _plain: set[str] = field(default_factory=set, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Spellings by their first two characters: a message is looked up at each of its positions
        # (a few dozen dict look-ups) instead of being searched once per spelling (about two thousand).
        index: dict[str, list[str]] = {}
        for form in {*self.forms, *(f for parts in self.gapped for part in parts for f in part)}:
            index.setdefault(form[:2], []).append(form)
        self._index.update({k: tuple(sorted(v, key=len, reverse=True)) for k, v in index.items()})
        self._plain.update(self.forms)

    @classmethod
    def from_intents(cls, intents: Mapping[str, IntentSpec]) -> CrisisWords:
        phrases = [p.text for spec in intents.values() if spec.tier == "crisis"
                   for p in spec.phrases if p.kind == "keyword" and p.weight >= MIN_WEIGHT]
        return cls.of(phrases)

    @classmethod
    def of(cls, phrases: Iterable[str]) -> CrisisWords:
        forms: set[str] = set()
        gapped: set[tuple[frozenset[str], ...]] = set()
        for phrase in phrases:
            parts = tuple(frozenset(p) for p in (_forms_of(part) for part in phrase.split(GAP)) if p)
            if len(parts) == 1:
                forms.update(parts[0])
            elif parts:
                gapped.add(parts)
        return cls(tuple(sorted((f for f in forms if len(f) >= 2), key=len, reverse=True)),
                   tuple(sorted(gapped, key=str)))

    def seen(self, text: str) -> bool:
        """Whether the message holds a crisis keyword in any of its spellings (a hint for the queue)."""
        if not text:
            return False
        kana = to_hiragana(clean(text[:MAX_CHARS]).replace(" ", ""))  # katakana forms are kept in hiragana
        found: set[str] = set()
        for variant in {kana, _PARTICLES.sub("", kana)}:
            if self._scan(variant, found):
                return True
        return any(all(part & found for part in parts) for parts in self.gapped)

    def _scan(self, text: str, found: set[str]) -> bool:
        """True at the first keyword; the parts of gapped keywords met on the way go into `found`."""
        index, plain = self._index, self._plain
        for i in range(len(text) - 1):
            for form in index.get(text[i:i + 2], ()):
                if text.startswith(form, i):
                    if form in plain:
                        return True
                    found.add(form)
        return False


def _forms_of(phrase: str) -> set[str]:
    """In hiragana as written and as read; each also without its last kana (死にた, 倒れ: other endings of
    the same verb) and without particles (手首切っ meets 手首を切る)."""
    cleaned = clean(phrase).replace(" ", "")
    if not cleaned:
        return set()
    reading = to_hiragana("".join(token.reading or token.surface for token in tokenize(cleaned)))
    forms = {to_hiragana(cleaned), reading}
    for form in list(forms):
        stem = _ENDING.sub("", form)
        if stem != form and len(stem) >= 2 and _HAS_KANJI.search(stem):
            forms.add(stem)
    forms |= {_PARTICLES.sub("", f) for f in forms}
    return {f for f in forms if len(f) >= 2}

"""A cheap first look for crisis words, to put a message in line before it is read properly.

    words = CrisisWords.from_intents(engine.intents)     # once: the crisis intents' keywords
    words.seen("もう死にたい")  -> True                     # each message: microseconds, no Sudachi

Not a verdict: the matcher decides what is a crisis (scoring.py).  This only lets a message that
looks like one go to the front of the queue when the server is busy (bot/service/intake.py); a
message it misses is still read in full in its turn, and a false alarm only goes first.

A keyword is looked for in hiragana as written (cleaned as the matcher cleans text: NFKC, case,
small kana, long vowels) and as read, so 死にたい, シニタイ and しにたい all meet it; also without its
last kana (死にた: other endings of the verb) and without particles between kanji (手首切: 手首を切る).
A gapped keyword (薬…ためる) needs all its parts; a Latin spelling of four letters or fewer (od, 911)
only as a whole word.  On the gated referral files (tests/referrals, dev.yaml) the look finds 156 of
the 180 crisis cases, and sends 20 of the 466 others (4%) to the front with them.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from bot.engine.understand.intents import IntentSpec
from bot.engine.understand.normalise import clean, to_hiragana
from bot.engine.understand.tokens import tokenize

MIN_WEIGHT = 0.5  # keywords weighed lower than this are too loose to send a message to the front
GAP = "…"
SHORT_LATIN = 4  # Latin spellings this short are looked for as words
_LATIN_WORD = re.compile(r"[a-z0-9#]+")
MAX_CHARS = 1000  # of a message looked at; a crisis word far into a long story waits its turn
_ENDING = re.compile(r"[\u3041-\u309f]+$")  # okurigana and endings in hiragana
_HAS_KANJI = re.compile(r"[\u3400-\u9fff]")
_PARTICLES = re.compile(r"(?<=[\u3400-\u9fff])[をがにはでも](?=[\u3400-\u9fff])")  # between two kanji only


@dataclass(frozen=True)
class CrisisWords:
    forms: tuple[str, ...]  # each keyword's spellings in hiragana (see _forms_of), longest first
    gapped: tuple[tuple[frozenset[str], ...], ...]  # gapped keywords: each part's spellings
    # Short Latin spellings (od, 911) count as whole words only: in the spaces-removed text "od" is in "food".
    words: frozenset[str] = frozenset()
    _machine: Machine = field(init=False, compare=False, repr=False)
    _by_part: dict[str, list[int]] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Every spelling at once, one step a character (Aho-Corasick): a thousand-odd spellings cost
        # a message no more than a few.
        by_part: dict[str, list[int]] = {}
        for n, parts in enumerate(self.gapped):
            for form in {f for part in parts for f in part}:
                by_part.setdefault(form, []).append(n)
        object.__setattr__(self, "_machine", Machine(self.forms, by_part))
        object.__setattr__(self, "_by_part", by_part)

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
        short = {f for f in forms if f.isascii() and len(f) <= SHORT_LATIN}
        return cls(tuple(sorted(forms - short, key=len, reverse=True)), tuple(sorted(gapped, key=str)),
                   frozenset(short))

    def seen(self, text: str) -> bool:
        """Whether the message holds a crisis keyword in any of its spellings (a hint for the queue)."""
        if not text:
            return False
        cleaned = clean(text[:MAX_CHARS])
        if self.words and not self.words.isdisjoint(_LATIN_WORD.findall(cleaned.lower())):
            return True
        kana = to_hiragana(cleaned.replace(" ", ""))  # katakana forms are kept in hiragana
        found: set[str] = set()
        if self._machine.scan(kana, found):
            return True
        bare = _PARTICLES.sub("", kana)
        if bare != kana and self._machine.scan(bare, found):
            return True
        candidates = {n for form in found for n in self._by_part[form]}
        return any(all(part & found for part in self.gapped[n]) for n in candidates)


class Machine:
    """Aho-Corasick over `plain` spellings (a hit ends the scan) and `parts` (collected on the way)."""

    def __init__(self, plain: Iterable[str], parts: Iterable[str]) -> None:
        self.goto: list[dict[str, int]] = [{}]
        self.hit: list[bool] = [False]
        self.parts: list[frozenset[str]] = [frozenset()]
        for word, is_plain in [*((w, True) for w in plain), *((w, False) for w in parts)]:
            state = 0
            for ch in word:
                nxt = self.goto[state].get(ch)
                if nxt is None:
                    nxt = self.goto[state][ch] = len(self.goto)
                    self.goto.append({})
                    self.hit.append(False)
                    self.parts.append(frozenset())
                state = nxt
            if is_plain:
                self.hit[state] = True
            else:
                self.parts[state] |= {word}
        self.fail = [0] * len(self.goto)
        queue = deque(self.goto[0].values())
        while queue:
            state = queue.popleft()
            for ch, nxt in self.goto[state].items():
                queue.append(nxt)
                back = self.fail[state]
                while back and ch not in self.goto[back]:
                    back = self.fail[back]
                target = self.goto[back].get(ch, 0)
                self.fail[nxt] = target if target != nxt else 0
                self.hit[nxt] = self.hit[nxt] or self.hit[self.fail[nxt]]
                self.parts[nxt] = self.parts[nxt] | self.parts[self.fail[nxt]]

    def scan(self, text: str, found: set[str]) -> bool:
        goto, fail, hit, parts = self.goto, self.fail, self.hit, self.parts
        state = 0
        for ch in text:
            while state and ch not in goto[state]:
                state = fail[state]
            state = goto[state].get(ch, 0)
            if hit[state]:
                return True
            if parts[state]:
                found |= parts[state]
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
        # only the last kana: cutting the whole ending made 自分なんていらない into 自分, 事故った into 事故
        stem = form[:-1] if _ENDING.search(form) else form
        if stem != form and len(stem) >= 2 and _HAS_KANJI.search(stem):
            forms.add(stem)
    forms |= {_PARTICLES.sub("", f) for f in forms}
    return {f for f in forms if len(f) >= 2}

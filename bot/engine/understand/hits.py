"""Where the phrases and examples stand in one message: the evidence for each need.

    tokens -> phrase hits on token boundaries: lemma sequence, skeleton, gapped phrases,
              surface kana, reading kana, kanji slips, cut-short endings, typos (Levenshtein
              over readings), crisis words across Sudachi's word breaks in a run of kana
           -> each hit weighed down when negated or a condition (死にたいとは思わない, 倒れたら),
              and a phrase inside a longer phrase of another need counts for less
           + example likeness and the need's bag of words (centroid)
    -> [(intent, Evidence)]: scoring.py weighs them

Every hit must start and end on token boundaries, so 「市に対して」 (し|に|たいし|て)
never reads as 「しにたい」.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from itertools import accumulate, chain

from rapidfuzz.distance import Levenshtein

from bot.engine.understand.phrases import (
    UNALIGNED_MIN,
    Example,
    Phrase,
    PhraseIndex,
    bigrams,
    content_words,
    skeleton,
)
from bot.engine.understand.tokens import Token
from bot.types import Evidence

NEGATED_FACTOR = 0.3
EXAMPLE_FACTOR = 0.75
CENTROID_FACTOR = 1.2
CENTROID_CAP = 0.5
FUZZY_FACTOR = 0.9
MAX_WINDOW = 10  # tokens a phrase may span
SUBSUMED_FACTOR = 0.5
# 「薬…ためる」 (phrases.GAP_MARK): parts in order with up to GAP meaningful words between them, for what people
# say around a word rather than next to it (薬を2か月分ためてある).
GAP = 6
NEGATORS = {"ない", "無い", "ぬ", "ず", "ん"}
# Between a phrase and its negation: 死にたい|と|は|思わ|ない, 死にたい|わけ|じゃ|ない
NEGATION_BRIDGE = {"と", "は", "も", "って", "なんて", "とか", "そう", "そういう", "そんな", "こういう", "思う", "考える", "言う", "感じる", "訳", "わけ",
                   "じゃ", "では", "で", "だ", "て", "居る", "いる", "為る", "する", "ます", "事", "こと"}
EN_NEGATORS = {"not", "don", "never", "no", "dont", "didn", "isn", "nt"}


@dataclass
class _View:
    """One way of reading the message: a string with the token boundaries in it."""

    text: str
    starts: list[int]  # offset of token i
    boundary: set[int]

    @classmethod
    def of(cls, parts: list[str]) -> _View:
        offsets = list(accumulate(map(len, parts), initial=0))  # every token's start, then the end
        return cls("".join(parts), offsets[:-1], set(offsets))

    def token_at(self, offset: int) -> int:
        # starts is sorted; the token that begins at or before offset
        lo, hi = 0, len(self.starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo


def phrase_hits(index: PhraseIndex, tokens: tuple[Token, ...]) -> list[tuple[str, Evidence]]:
    """Every phrase of the index that stands in the tokens, each with its best Evidence."""
    found: dict[tuple[str, str], tuple[str, Evidence, int, int]] = {}

    def add(p: Phrase, start: int, end: int, found_text: str, kind: str, sim: float) -> None:
        # "If I collapse" is not danger happening now: weighed like a negation.
        # "If I collapse" is not danger happening now; but for suicide the condition is often the thought
        # itself (飛んだら全部終わるかな, 死んだら楽になれる): only an emergency's condition weighs it down.
        crisis = index.specs[p.intent].tier == "crisis"
        condition = crisis and p.intent == "emergency" and _hypothetical(tokens, end)
        really = _negated(tokens, start, end) or (crisis and _survived(tokens, start, end))
        negated = really or condition
        score = p.weight * sim * (NEGATED_FACTOR if negated else 1.0)
        kind = kind if p.kind == "keyword" else f"weak-{kind}"
        # "-if": weighed down only as a condition, which the crisis detector reads apart from a negation
        ev = Evidence(p.text, found_text, round(score, 3), kind + ("-if" if condition and not really else ""), negated)
        key = (p.intent, p.text)
        if key not in found or found[key][1].score < ev.score:
            found[key] = (p.intent, ev, start, end)

    lemmas = [t.lemma for t in tokens]
    by_pair = index.by_lemma_pair
    for i, pair in enumerate(zip(lemmas, [*lemmas[1:], None], strict=False)):
        candidates = by_pair.get(pair)
        if candidates is None:
            candidates = by_pair.get((pair[0], None), ())
        for p in candidates:
            n = len(p.lemmas)
            if tuple(lemmas[i:i + n]) == p.lemmas:
                add(p, i, i + n, "".join(t.surface for t in tokens[i:i + n]), "lemma", 1.0)

    bones = skeleton(tokens)
    bone_keys = [k for _, k in bones]
    by_pair = index.by_bone_pair
    for bi, pair in enumerate(zip(bone_keys, [*bone_keys[1:], None], strict=False)):
        candidates = by_pair.get(pair)
        if candidates is None:
            candidates = by_pair.get((pair[0], None), ())
        for p in candidates:
            n = len(p.skeleton)
            if tuple(bone_keys[bi:bi + n]) == p.skeleton:
                i, j = bones[bi][0], bones[bi + n - 1][0] + 1
                add(p, i, j, "".join(t.surface for t in tokens[i:j]), "skeleton", 0.9)

    present = set(bone_keys)
    for (p, parts), needs in zip(index.gapped, index.gapped_needs, strict=True):
        if not needs <= present:
            continue  # a word of the phrase is not in the message: it cannot stand here
        span = _gapped_span(bone_keys, parts)
        if span is not None:
            i, j = bones[span[0]][0], bones[span[1] - 1][0] + 1
            add(p, i, j, "".join(t.surface for t in tokens[i:j]), "gapped", 0.9)

    views = (
        _View.of([t.key for t in tokens]),
        _View.of([t.reading for t in tokens]),
    )
    prefixes = index.kana_prefixes
    for n_view, view in enumerate(views):
        if n_view == 1 and view.text == views[0].text:
            break  # all typed in kana: the readings add nothing
        ends = view.starts[1:] + [len(view.text)]
        for i, a in enumerate(view.starts):
            for j in range(i + 1, min(len(ends), i + MAX_WINDOW) + 1):
                b = ends[j - 1]
                window = view.text[a:b]
                if window not in prefixes:
                    break  # no phrase starts like this: a longer window cannot match either
                for p, kind in index.by_kana.get(window, ()):
                    # A kana match starts on a word, not a particle (の相談|が|したい holds
                    # がし, which is not 餓死), and a two-kana match must be one whole word.
                    if b - a < 4 and tokens[i].pos in ("助詞", "助動詞") and p.lemmas[0] != tokens[i].lemma:
                        continue  # (a longer kana run may start on a mis-read particle: に|ん|ち|しょう)
                    if b - a < 3 and j - i > 1:
                        continue
                    # Readings stand in for words the resident wrote in kana. A whole
                    # kanji word with the same reading is another word (家事 is not 火事);
                    # a reading across several odd pieces is a mis-conversion (氏にたい).
                    sim = 1.0
                    if n_view == 1 and not _kana_written(tokens[i:j]):
                        # A verb typed in kanji was meant (行きとうない is not 生きとうない);
                        # IME slips land on nouns (氏, 市).
                        if j - i < 2 or any(t.pos in ("動詞", "形容詞") and not _kana_written((t,))
                                            for t in tokens[i:j]):
                            continue
                        sim = 0.8
                    add(p, i, j, view.text[a:b], kind, sim)
    surface = views[0]
    run_end = _kanji_run_ends(surface.text) if index.slip_lengths else {}
    for i, a in enumerate(surface.starts):
        if a not in run_end:
            continue
        run = run_end[a] - a  # kanji from here on: a longer window is not all kanji
        for length in index.slip_lengths:
            if length > run:
                break
            window = surface.text[a:a + length]
            if window in index.by_kana:
                continue
            for k in range(length):
                for p in index.kanji_slips.get(window[:k] + "?" + window[k + 1:], ()):
                    j = surface.token_at(a + length - 1) + 1
                    add(p, i, j, window, "kanji-slip", 0.8)
    tail = views[0]
    ends: list[tuple[int, Phrase]] = []  # the last 3 to 12 characters, from the end back
    for i in range(len(tail.starts) - 1, -1, -1):
        rest = len(tail.text) - tail.starts[i]
        if rest > 12:
            break
        if rest >= 3 and (p := index.cut_short.get(tail.text[tail.starts[i]:])):
            ends.append((i, p))
    for i, p in reversed(ends):
        add(p, i, len(tokens), tail.text[tail.starts[i]:], "cut-short", 0.75)
    for p, i, j, found_text, sim in _fuzzy(index, views[1], tokens):
        add(p, i, j, found_text, "fuzzy", sim * FUZZY_FACTOR)
    for p, i, j, found_text in _unaligned_hits(index, views[0], tokens):
        add(p, i, j, found_text, "kana-unaligned", 0.85)
    return _longest_wins(list(found.values()))


def _unaligned_hits(index: PhraseIndex, view: _View, tokens: tuple[Token, ...]):
    """Crisis phrases inside a run of words typed in kana, wherever Sudachi broke the run."""
    ends = view.starts[1:] + [len(view.text)]
    kana = [_KANA.fullmatch(t.surface) is not None for t in tokens]  # _kana_written((t,)), once a word
    i = 0
    while i < len(tokens):
        if not kana[i]:
            i += 1
            continue
        j = i
        while j < len(tokens) and kana[j]:
            j += 1
        a, b = view.starts[i], ends[j - 1]
        text, heads = view.text, index.unaligned_by_head
        for at in range(a, b - UNALIGNED_MIN + 1):
            for key in heads.get(text[at:at + UNALIGNED_MIN], ()):
                if at + len(key) <= b and text.startswith(key, at):
                    yield index.unaligned[key], view.token_at(at), view.token_at(at + len(key) - 1) + 1, key
        i = j


def _fuzzy(index: PhraseIndex, view: _View, tokens: tuple[Token, ...]):
    """Readings within one or two edits of a keyword's reading, on token boundaries.

    Levenshtein over kana, not token_set_ratio or WRatio: Japanese is written
    without spaces, so token-based scorers compare the whole message as one
    token, and partial_ratio would accept a phrase inside any longer word
    (「しにたい」 in 「しにたいして」). A normalised edit distance on a window cut at
    token boundaries tolerates 「ひきこもろ」 and 「しにたいい」 and nothing else.
    """
    # Only words typed in kana can hold a kana typo: the rest of the message is skipped.
    kana_runs, run = [], []
    for t in tokens:
        if t.pos != "助詞" and _KANA.fullmatch(t.surface):  # _kana_written((t,)), inline
            run.append(t.reading)
        elif run:
            kana_runs.append("".join(run))
            run = []
    if run:
        kana_runs.append("".join(run))
    grams = set().union(*(bigrams(r) for r in kana_runs)) if kana_runs else set()
    if not grams:
        return
    counts = Counter(chain.from_iterable(index.fuzzy_grams.get(g, ()) for g in grams))
    # A typo keeps the word's first kana and starts on a word, not a particle
    # (「ちがとまらない」 must not meet 「がとまらない」): the places each kana may start one.
    starts_with: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for ti, a in enumerate(view.starts):
        if a < len(view.text) and tokens[ti].pos not in ("助詞", "助動詞"):
            starts_with[view.text[a]].append((ti, a))
    min_shared = index.min_shared
    for idx in [idx for idx, shared in counts.items() if shared >= min_shared[idx]]:
        p = index.phrases[idx]
        places = starts_with.get(p.reading[0])
        if not places:
            continue
        n = len(p.reading)
        # A dropped or added kana in a short word is usually another word
        # (いきたくない/いたくない): below eight kana only a changed kana is a typo.
        edits = 1 if n <= 8 else 2
        lengths = [n] if n < 8 else range(n - edits, n + edits + 1)
        best = None
        for ti, a in places:
            for length in lengths:
                b = a + length
                if b not in view.boundary:
                    continue
                d = Levenshtein.distance(view.text[a:b], p.reading, score_cutoff=edits)
                if 0 < d <= edits and (best is None or d < best[0]):
                    best = (d, ti, view.token_at(b - 1) + 1, view.text[a:b])
        if best and _kana_written(tokens[best[1]:best[2]]):
            d, i, j, found_text = best
            yield p, i, j, found_text, 1 - d / n


def example_hits(index: PhraseIndex, tokens: tuple[Token, ...]) -> list[tuple[str, Evidence]]:
    """The examples most like the message (one per need) and each need's bag of words."""
    words = content_words(tokens)
    if not words:
        return []
    # Most examples share one word with a message: which one is known from the index,
    # without comparing the sets (None: more than one).
    candidates: set[int] = set()
    only: dict[int, str | None] = {}
    for w in words:
        for i in index.examples_by_word.get(w, ()):
            if i in only:
                only[i] = None
            else:
                only[i] = w
                candidates.add(i)  # in the same order as ever: ties go to the same example
    best: dict[str, tuple[float, Example, frozenset[str] | str]] = {}
    idf = index.idf.__getitem__  # every example word has one
    for i in candidates:
        ex = index.examples[i]
        word = only[i]
        if word is not None:
            # One shared word is weak evidence, however short the example.
            cover = idf(word) / index.example_total[i] * 0.5
            if cover > best.get(ex.intent, (0.0,))[0]:
                best[ex.intent] = (cover, ex, word)
            continue
        shared = ex.words & words
        cover = sum(map(idf, shared)) / index.example_total[i]
        if cover > best.get(ex.intent, (0.0,))[0]:
            best[ex.intent] = (cover, ex, shared)
    out = []
    # The message against each need's bag of words (cosine).
    sims: dict[str, float] = defaultdict(float)
    for w in words:
        for intent, v in index.centroid.get(w, {}).items():
            sims[intent] += v
    norm = math.sqrt(len(words)) or 1.0
    for intent, total in sims.items():
        score = min(CENTROID_CAP, CENTROID_FACTOR * total / norm)
        if score >= 0.15:
            out.append((intent, Evidence("(the need's words)", "", round(score, 3), "centroid")))
    for intent, (cover, ex, shared) in best.items():
        score = EXAMPLE_FACTOR * cover
        if score >= 0.2:
            found = shared if isinstance(shared, str) else " ".join(sorted(shared))
            out.append((intent, Evidence(ex.text, found, round(score, 3), "example")))
    return out


CONDITIONAL_SURFACES = {"たら", "だら", "ば", "なら", "れば"}


def _hypothetical(tokens, end: int) -> bool:
    """A condition (倒れたら, 落ちれば): not something happening now. A wish (起きなければいいのに: 〜ば
    followed by いい) is not a condition."""
    for k, t in enumerate(tokens[end:end + 2], start=end):
        if t.surface in CONDITIONAL_SURFACES or (t.pos2 == "接続助詞" and t.lemma == "ば"):
            return not _wish(tokens, k + 1)
    # the phrase itself may end on the condition (倒れたら matched as 倒れた + ら)
    return end > 0 and tokens[end - 1].surface in CONDITIONAL_SURFACES


# A crisis word inside a story, a game or a joke: 「死にたい」って叫ぶシーン, 冗談で「もう死んでもええわ」,
# ゲームのボスに殺された. Quoted words count as a story only beside a frame word in the same sentence
# (「死にたい」って言ったら怒られた stays a crisis; so does 冗談じゃなくて「死にたい」); unquoted ones only
# when a character of the story is the one doing it, just before the phrase. Read on the text, not the
# tokens: the tokenizer drops the quotes and the full stops.
_FRAMES = "映画|ドラマ|アニメ|漫画|マンガ|まんが|小説|ゲーム|シーン|主人公|キャラ|台詞|セリフ|歌詞|冗談|ネタ|舞台"
_FRAME = re.compile(f"(?:{_FRAMES})(?!じゃな|ではな|抜き|みたい|のよう)")
_CHARACTERS = "ボス|キャラ|キャラクター|主人公|敵|ゾンビ|モンスター"
_CHARACTER = re.compile(f"(?:{_CHARACTERS})(?:に|が|から)(?:[0-9０-９一二三四五六七八九十何]+回も?)?$")
_SCENE = re.compile(f"{_FRAMES}|{_CHARACTERS}")  # no story without one of these anywhere in the text
_SENTENCE_ENDS = "。！？!?\n"
_QUOTED = re.compile(r"「[^「」]*」|『[^『』]*』|“[^“”]*”")


def framed(text: str, found: str) -> bool:
    """Does every place `found` stands in `text` lie inside a story, a game or a joke?"""
    if not found or found not in text or not _SCENE.search(text):
        return False
    at = text.find(found)
    while at >= 0:
        end = at + len(found)
        start = max(text.rfind(c, 0, at) for c in _SENTENCE_ENDS) + 1
        stop = min((i for i in (text.find(c, end) for c in _SENTENCE_ENDS) if i >= 0), default=len(text))
        sentence, local = text[start:stop], at - start
        if not _CHARACTER.search(sentence[:local]):
            quoted = any(q.start() < local and local + len(found) <= q.end() for q in _QUOTED.finditer(sentence))
            if not (quoted and _FRAME.search(sentence)):
                return False
        at = text.find(found, end)
    return True


def _wish(tokens, after: int) -> bool:
    return any(t.lemma in ("良い", "いい", "よい") for t in tokens[after:after + 2])


def _survived(tokens, start: int, end: int) -> bool:
    """「死ぬかと思った」: "I thought I would die", a scare or a laugh already over. The plain verb only:
    「死のうかと思った」 (the volitional) is the thought of killing oneself and stays a crisis."""
    for i in range(start, min(end, len(tokens))):
        t = tokens[i]
        if t.lemma == "死ぬ" and t.surface == t.lemma:
            after = [x.lemma for x in tokens[i + 1:i + 6]]
            if after[:3] == ["か", "と", "思う"] and "た" in after[3:]:
                return True
    return False


def _gapped_span(keys: list[str], parts: tuple[tuple[str, ...], ...]) -> tuple[int, int] | None:
    """Where the parts of a gapped phrase (薬…ためる) stand in order, each within GAP words
    of the last: (first skeleton index, end index), or None."""
    n0 = len(parts[0])
    for start in range(len(keys) - n0 + 1):
        if tuple(keys[start:start + n0]) != parts[0]:
            continue
        pos, ok = start + n0, True
        for part in parts[1:]:
            n = len(part)
            found = next((k for k in range(pos, min(len(keys) - n, pos + GAP) + 1)
                          if tuple(keys[k:k + n]) == part), None)
            if found is None:
                ok = False
                break
            pos = found + n
        if ok:
            return start, pos
    return None


_KANJI_RUN = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf]+")  # what phrases.is_kanji() accepts


def _kanji_run_ends(text: str) -> dict[int, int]:
    """offset -> end of the run of kanji it starts or stands in, for every offset that is a kanji."""
    out = {}
    for m in _KANJI_RUN.finditer(text):
        end = m.end()
        for k in range(m.start(), end):
            out[k] = end
    return out


_KANA = re.compile("[\u3041-\u30ff]*")


def _kana_written(tokens) -> bool:
    """The words that carry meaning here were typed in kana (particles do not count)."""
    words = [t for t in tokens if t.pos not in ("助詞", "助動詞")] or tokens
    return all(_KANA.fullmatch(t.surface) for t in words)


def _longest_wins(hits: list[tuple[str, Evidence, int, int]]) -> list[tuple[str, Evidence]]:
    """A phrase inside a longer phrase of another need counts for less: in 「上司からのいじめ」
    the workplace phrase covers 「いじめ」, which alone would point to school bullying."""
    strong = [(intent, i, j) for intent, ev, i, j in hits if not ev.kind.startswith("weak")]
    out = []
    for intent, ev, i, j in hits:
        inside = any(
            other != intent and a <= i and j <= b and (b - a) > (j - i) for other, a, b in strong
        )
        if inside:
            ev = Evidence(ev.phrase, ev.found, round(ev.score * SUBSUMED_FACTOR, 3), ev.kind + "-subsumed", ev.negated)
        out.append((intent, ev))
    return out


def _negated(tokens: tuple[Token, ...], start: int, end: int) -> bool:
    """Is the phrase at tokens[start:end] negated by what follows (or, in English, precedes) it?"""
    if tokens[start].pos == "英単語":
        before = {t.lemma for t in tokens[max(0, start - 3):start]}
        return bool(before & EN_NEGATORS)
    for k, t in enumerate(tokens[end:end + 8], start=end):  # 死にたい|と|か|そう|いう|の|じゃ|ない
        if t.lemma in NEGATORS and t.pos in ("助動詞", "形容詞"):
            return tokens[k - 1].lemma != "しか"  # 〜するしかない: "nothing left but", not a negation
        if t.pos2 == "接続助詞" and t.lemma not in ("て", "で"):
            return False
        if t.lemma not in NEGATION_BRIDGE and t.pos not in ("助詞", "助動詞"):
            return False
    return False

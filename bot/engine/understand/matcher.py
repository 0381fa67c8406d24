"""Free Japanese (or English) text in, ranked intents out; no training step.

    text -> clean() -> Sudachi tokens (lemma, reading)
         -> phrase hits in three aligned views (lemma sequence, surface kana, reading kana)
            + typo-tolerant reading hits + example similarity
         -> per-intent score (noisy-or of evidence), negation, crisis flag

Every hit must start and end on token boundaries, so 「市に対して」 (し|に|たいし|て)
never reads as 「しにたい」.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from itertools import accumulate, chain

import jaconv
from rapidfuzz.distance import Levenshtein

from bot.engine.understand.intents import IntentSpec
from bot.engine.understand.normalise import clean, is_english
from bot.engine.understand.tokens import Token, tokenize
from bot.types import Evidence, IntentScore, Match

MAX_CHARS = 2000  # a 100 KB message is answered from its first part, not matched forever
THRESHOLD = 0.3  # a need below this is not offered
CRISIS_THRESHOLD = 0.4  # deliberately low: a missed crisis costs more than a false alarm
NEGATED_FACTOR = 0.3
EXAMPLE_FACTOR = 0.75
CENTROID_FACTOR = 1.2
CENTROID_CAP = 0.5
FUZZY_FACTOR = 0.9
MAX_WINDOW = 10  # tokens a phrase may span
UNALIGNED_MIN = 5  # kana: a crisis word found across Sudachi's word breaks (shorter ones hide in others: わたしのうち)
# One kana edit in a short word is often another word (しにたい/したい,
# しゅうかつ/しゅうまつ), so typos are forgiven from six kana up: one edit to
# eight kana, two beyond.
MIN_FUZZY = 6
SUBSUMED_FACTOR = 0.5
# 「薬…ためる」: parts in order with up to GAP meaningful words between them, for what people
# say around a word rather than next to it (薬を2か月分ためてある).
GAP_MARK = "…"
GAP = 6

# Lemmas that carry no need on their own; they must not make two messages look alike.
STOP_LEMMAS = {
    "為る", "居る", "有る", "成る", "事", "物", "人", "私", "僕", "俺", "自分", "今", "其の", "此の", "ある", "いる",
    "する", "なる", "こと", "もの", "とき", "時", "所", "ところ", "様", "よう", "方", "感じ", "思う", "言う", "何",
    "無い", "ない", "良い", "いい", "貰う", "呉れる", "行く", "来る", "出来る", "見る", "欲しい", "誰", "皆", "まま",
    "i", "a", "the", "to", "and", "my", "me", "is", "am", "are", "it", "of", "in", "for", "do", "have", "be", "so",
    "that", "this", "with", "on", "at", "can", "what", "how", "want", "about", "just",
    "みたい", "そう", "最近", "今日", "毎日", "ちゃん", "さん", "くん", "本当", "とても", "凄い", "一寸", "矢張り",
    "もう", "又", "全然", "何だか", "なんか", "ずっと", "日", "回", "的",
}
NEGATORS = {"ない", "無い", "ぬ", "ず", "ん"}
# Between a phrase and its negation: 死にたい|と|は|思わ|ない, 死にたい|わけ|じゃ|ない
NEGATION_BRIDGE = {"と", "は", "も", "って", "なんて", "とか", "思う", "考える", "言う", "感じる", "訳", "わけ",
                   "じゃ", "では", "で", "だ", "て", "居る", "いる", "為る", "する", "ます", "事", "こと"}
EN_NEGATORS = {"not", "don", "never", "no", "dont", "didn", "isn", "nt"}
# The skeleton of a phrase: what is left when particles and grammatical helpers go,
# so 「息をしていない」 meets 「息してない」 and Kansai 「息してへん」.
SKELETON_DROP_POS = {"助詞", "補助記号"}
# た (past) stays: 爆発した happened, 爆発しそう is a feeling.
SKELETON_DROP = {"て", "だ", "ます", "です", "仕舞う", "ちゃう", "ちまう", "ねん", "や"}
# 「している」「してる」「しとる」「しちょる」 are all the progressive: it matters
# (殴られている is now; 殴られることもある is not), so they meet as 居る.
SKELETON_PROGRESSIVE = {"居る", "てる", "とる", "ちょる", "おる"}
SKELETON_NEGATION = {"ない", "無い", "ぬ", "ず", "ん", "へん", "ひん", "ねえ", "ねぇ"}
# しにたいしにたいしにたい -> しにたい; units of four or more, so きゅうきゅうしゃ stays.
_REPEATS = re.compile(r"(.{4,}?)\1+")
_ROMAJI_WORD = re.compile(r"[a-z]+")
_EN_FUNCTION = {"i", "a", "the", "and", "to", "my", "have", "is", "am", "are", "you", "me", "not", "of", "in",
                "with", "for", "it", "so", "do", "be", "he", "she", "we", "they", "on", "at", "can", "no", "help"}


@dataclass(frozen=True)
class _Phrase:
    intent: str
    text: str
    weight: float
    kind: str
    lemmas: tuple[str, ...]
    surface: str
    reading: str
    skeleton: tuple[str, ...] = ()
    ends_on_particle: bool = False


@dataclass(frozen=True)
class _Example:
    intent: str
    text: str
    words: frozenset[str]


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


def content_words(tokens: tuple[Token, ...]) -> frozenset[str]:
    return frozenset(t.lemma for t in tokens if (t.content or t.pos == "英単語") and t.lemma not in STOP_LEMMAS)


class Matcher:
    def __init__(self, specs: dict[str, IntentSpec]):
        self.specs = specs
        self.phrases: list[_Phrase] = []
        self.gapped: list[tuple[_Phrase, tuple[tuple[str, ...], ...]]] = []
        # Every word a gapped phrase needs: one missing from the message and the scan is skipped.
        self._gapped_needs: list[frozenset[str]] = []
        for spec in specs.values():
            for p in spec.phrases:
                if GAP_MARK in p.text:
                    parts = tuple(tuple(k for _, k in skeleton(tokenize(part))) for part in p.text.split(GAP_MARK))
                    if all(parts):
                        self.gapped.append((_Phrase(spec.id, p.text, p.weight, p.kind, (), "", "", ()), parts))
                        self._gapped_needs.append(frozenset(k for part in parts for k in part))
                    continue
                toks = tokenize(p.text)
                if not toks:
                    continue
                self.phrases.append(
                    _Phrase(
                        spec.id, p.text, p.weight, p.kind,
                        tuple(t.lemma for t in toks),
                        "".join(t.key for t in toks),
                        "".join(t.reading for t in toks),
                        tuple(k for _, k in skeleton(toks)),
                        # Sudachi folds the volitional into the verb (死のう -> 死ぬ), so such a
                        # phrase's skeleton would be the plain verb: exact forms only.
                        toks[-1].pos == "助詞" or any(
                            t.pos == "動詞" and t.surface.endswith("う") and t.surface != t.lemma for t in toks),
                    )
                )
        self._by_first_lemma: dict[str, list[_Phrase]] = defaultdict(list)
        self._by_first_bone: dict[str, list[_Phrase]] = defaultdict(list)
        self._by_kana: dict[str, list[tuple[_Phrase, str]]] = defaultdict(list)
        self._fuzzy_grams: dict[str, set[int]] = defaultdict(set)
        for i, p in enumerate(self.phrases):
            self._by_first_lemma[p.lemmas[0]].append(p)
            # A phrase that ends on a particle was probably mis-read (九州 死にたか as 死に|た|か):
            # its skeleton (死ぬ た) would be another phrase, so only its exact forms count.
            if len(p.skeleton) >= 2 and not p.ends_on_particle:
                self._by_first_bone[p.skeleton[0]].append(p)
            self._by_kana[p.surface].append((p, "exact"))
            if p.reading != p.surface:
                self._by_kana[p.reading].append((p, "exact"))
            if p.kind == "keyword" and len(p.reading) >= MIN_FUZZY:
                for g in _bigrams(p.reading):
                    self._fuzzy_grams[g].add(i)
        # By the first two words: at each place in a message only the phrases that go on as it does.
        self._by_lemma_pair = _pair_index(self._by_first_lemma, lambda p: p.lemmas)
        self._by_bone_pair = _pair_index(self._by_first_bone, lambda p: p.skeleton)
        self._max_kana = max((len(k) for k in self._by_kana), default=0)
        self._kana_prefixes = {k[:n] for k in self._by_kana for n in range(1, len(k) + 1)}
        # IME slips in kanji words of three or more (人知症, 生活保獲): one kanji swapped.
        self._kanji_slips: dict[str, list[_Phrase]] = defaultdict(list)
        for p in self.phrases:
            if p.kind == "keyword" and 3 <= len(p.surface) <= 8 and all(_is_kanji(c) for c in p.surface):
                for k in range(len(p.surface)):
                    self._kanji_slips[p.surface[:k] + "?" + p.surface[k + 1:]].append(p)
        self._slip_lengths = sorted({len(k) for k in self._kanji_slips})
        # Crisis phrases typed in kana, two more ways.  Cut off as it is sent (「…しにた」): the
        # phrase less its last kana, at the very end of the message.  In unsegmented kana: Sudachi's word breaks in a run of hiragana are guesses
        # (あしたしのうと… is read あ|し|た|し|のう|と, きょうしのう… as きょうし|のう), so a clear crisis
        # phrase of five kana or more, or all of it but its last kana (an inflected ending:
        # しのうとおもっ|てる), is also looked for anywhere in a run of words typed in kana.
        self._cut_short: dict[str, _Phrase] = {}
        self._unaligned: dict[str, _Phrase] = {}
        for p in self.phrases:
            if self.specs[p.intent].tier != "crisis" or p.kind != "keyword" \
                    or not all("\u3041" <= c <= "\u309f" for c in p.reading):
                continue
            if len(p.surface) >= 4:
                self._cut_short.setdefault(p.reading[:-1], p)
            if p.weight >= 0.9:  # clear words only (not 息が苦しい)
                for key in (p.reading, p.reading[:-1]):
                    if len(key) >= UNALIGNED_MIN:
                        self._unaligned.setdefault(key, p)
        self._unaligned_by_head: dict[str, list[str]] = defaultdict(list)  # by the first UNALIGNED_MIN kana
        for key in self._unaligned:
            self._unaligned_by_head[key[:UNALIGNED_MIN]].append(key)
        self._gram_count = [len(_bigrams(p.reading)) for p in self.phrases]
        # The kana pairs a typo may leave: one edit to eight kana, two beyond, each edit
        # losing at most two pairs. A phrase sharing fewer with the message is not tried.
        self._min_shared = [g - 2 * (1 if len(p.reading) <= 8 else 2) for p, g in zip(self.phrases, self._gram_count, strict=True)]
        self._max_fuzzy = max((len(p.reading) for p in self.phrases), default=0) + 2

        self.examples: list[_Example] = []
        for spec in specs.values():
            for text in spec.examples:
                words = content_words(tokenize(text))
                if words:
                    self.examples.append(_Example(spec.id, text, words))
        # Inverse document frequency over intents: a word every need uses says nothing.
        intents_with: dict[str, set[str]] = defaultdict(set)
        for ex in self.examples:
            for w in ex.words:
                intents_with[w].add(ex.intent)
        n = max(len(specs), 1)
        self.idf = {w: math.log(1 + n / len(s)) for w, s in intents_with.items()}
        self._example_total = [sum(self.idf.get(w, 1.0) for w in ex.words) for ex in self.examples]
        # Each need as one bag of words from all its phrases and examples (tf-idf): the words
        # of a long story that no single phrase holds still lean towards its need.
        bags: dict[str, Counter[str]] = defaultdict(Counter)
        for spec in specs.values():
            texts = [p.text.replace(GAP_MARK, " ") for p in spec.phrases] + list(spec.examples)
            for text in texts:
                bags[spec.id].update(content_words(tokenize(text)))
        holders: dict[str, int] = Counter(w for bag in bags.values() for w in bag)
        self._centroid: dict[str, dict[str, float]] = defaultdict(dict)  # word -> intent -> weight
        for intent, bag in bags.items():
            weights = {w: (1 + math.log(c)) * math.log(1 + n / holders[w]) for w, c in bag.items()}
            norm = math.sqrt(sum(v * v for v in weights.values())) or 1.0
            for w, v in weights.items():
                self._centroid[w][intent] = v / norm
        self._examples_by_word: dict[str, list[int]] = defaultdict(list)
        for i, ex in enumerate(self.examples):
            for w in ex.words:
                self._examples_by_word[w].append(i)

    # -- matching ---------------------------------------------------------------------------

    def match(self, text: str) -> Match:
        cleaned = clean((text or "")[:MAX_CHARS])
        lang = "en" if is_english(cleaned) else "ja"
        matched = _fold_repeats(cleaned)
        tokens = tokenize(matched)
        hits = self._phrase_hits(tokens)
        kana = _romaji_to_kana(matched)
        if kana:
            # Japanese typed in Latin letters (shinitai): match its kana too.
            kana_tokens = tokenize(kana)
            hits = _best_per_phrase(hits + self._phrase_hits(kana_tokens))
            tokens = tokens + kana_tokens
            lang = "ja"
        hits += self._example_hits(tokens)
        return self._score(cleaned, tokens, hits, lang)

    def _phrase_hits(self, tokens: tuple[Token, ...]) -> list[tuple[str, Evidence]]:
        found: dict[tuple[str, str], tuple[str, Evidence, int, int]] = {}

        def add(p: _Phrase, start: int, end: int, found_text: str, kind: str, sim: float) -> None:
            # "If I collapse" is not danger happening now: weighed like a negation.
            negated = _negated(tokens, start, end) or (
                self.specs[p.intent].tier == "crisis" and _hypothetical(tokens, end))
            score = p.weight * sim * (NEGATED_FACTOR if negated else 1.0)
            ev = Evidence(p.text, found_text, round(score, 3), kind if p.kind == "keyword" else f"weak-{kind}", negated)
            key = (p.intent, p.text)
            if key not in found or found[key][1].score < ev.score:
                found[key] = (p.intent, ev, start, end)

        lemmas = [t.lemma for t in tokens]
        by_pair = self._by_lemma_pair
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
        by_pair = self._by_bone_pair
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
        for (p, parts), needs in zip(self.gapped, self._gapped_needs, strict=True):
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
        prefixes = self._kana_prefixes
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
                    for p, kind in self._by_kana.get(window, ()):
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
        run_end = _kanji_run_ends(surface.text) if self._slip_lengths else {}
        for i, a in enumerate(surface.starts):
            if a not in run_end:
                continue
            run = run_end[a] - a  # kanji from here on: a longer window is not all kanji
            for length in self._slip_lengths:
                if length > run:
                    break
                window = surface.text[a:a + length]
                if window in self._by_kana:
                    continue
                for k in range(length):
                    for p in self._kanji_slips.get(window[:k] + "?" + window[k + 1:], ()):
                        j = surface.token_at(a + length - 1) + 1
                        add(p, i, j, window, "kanji-slip", 0.8)
        tail = views[0]
        ends: list[tuple[int, _Phrase]] = []  # the last 3 to 12 characters, from the end back
        for i in range(len(tail.starts) - 1, -1, -1):
            rest = len(tail.text) - tail.starts[i]
            if rest > 12:
                break
            if rest >= 3 and (p := self._cut_short.get(tail.text[tail.starts[i]:])):
                ends.append((i, p))
        for i, p in reversed(ends):
            add(p, i, len(tokens), tail.text[tail.starts[i]:], "cut-short", 0.75)
        for p, i, j, found_text, sim in self._fuzzy(views[1], tokens):
            add(p, i, j, found_text, "fuzzy", sim * FUZZY_FACTOR)
        for p, i, j, found_text in self._unaligned_hits(views[0], tokens):
            add(p, i, j, found_text, "kana-unaligned", 0.85)
        return _longest_wins(list(found.values()))

    def _unaligned_hits(self, view: _View, tokens: tuple[Token, ...]):
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
            text, heads = view.text, self._unaligned_by_head
            for at in range(a, b - UNALIGNED_MIN + 1):
                for key in heads.get(text[at:at + UNALIGNED_MIN], ()):
                    if at + len(key) <= b and text.startswith(key, at):
                        yield self._unaligned[key], view.token_at(at), view.token_at(at + len(key) - 1) + 1, key
            i = j

    def _fuzzy(self, view: _View, tokens: tuple[Token, ...]):
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
        grams = set().union(*(_bigrams(r) for r in kana_runs)) if kana_runs else set()
        if not grams:
            return
        counts = Counter(chain.from_iterable(self._fuzzy_grams.get(g, ()) for g in grams))
        # A typo keeps the word's first kana and starts on a word, not a particle
        # (「ちがとまらない」 must not meet 「がとまらない」): the places each kana may start one.
        starts_with: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for ti, a in enumerate(view.starts):
            if a < len(view.text) and tokens[ti].pos not in ("助詞", "助動詞"):
                starts_with[view.text[a]].append((ti, a))
        min_shared = self._min_shared
        for idx in [idx for idx, shared in counts.items() if shared >= min_shared[idx]]:
            p = self.phrases[idx]
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

    def _example_hits(self, tokens: tuple[Token, ...]) -> list[tuple[str, Evidence]]:
        words = content_words(tokens)
        if not words:
            return []
        # Most examples share one word with a message: which one is known from the index,
        # without comparing the sets (None: more than one).
        candidates: set[int] = set()
        only: dict[int, str | None] = {}
        for w in words:
            for i in self._examples_by_word.get(w, ()):
                if i in only:
                    only[i] = None
                else:
                    only[i] = w
                    candidates.add(i)  # in the same order as ever: ties go to the same example
        best: dict[str, tuple[float, _Example, frozenset[str] | str]] = {}
        idf = self.idf.__getitem__  # every example word has one
        for i in candidates:
            ex = self.examples[i]
            word = only[i]
            if word is not None:
                # One shared word is weak evidence, however short the example.
                cover = idf(word) / self._example_total[i] * 0.5
                if cover > best.get(ex.intent, (0.0,))[0]:
                    best[ex.intent] = (cover, ex, word)
                continue
            shared = ex.words & words
            cover = sum(map(idf, shared)) / self._example_total[i]
            if cover > best.get(ex.intent, (0.0,))[0]:
                best[ex.intent] = (cover, ex, shared)
        out = []
        # The message against each need's bag of words (cosine).
        sims: dict[str, float] = defaultdict(float)
        for w in words:
            for intent, v in self._centroid.get(w, {}).items():
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

    def _score(self, cleaned: str, tokens, hits, lang) -> Match:
        by_intent: dict[str, list[Evidence]] = defaultdict(list)
        for intent, ev in hits:
            by_intent[intent].append(ev)
        scores: list[IntentScore] = []
        crisis_bits = []
        for intent, evs in by_intent.items():
            evs.sort(key=lambda e: -e.score)
            # Negated phrases say one thing however many of them match: only the best counts.
            negated = [e for e in evs if e.negated][:1]
            # Several phrases found on the same words (眠れない, 眠れへん) are one piece of evidence.
            seen_found: set[str] = set()
            live = []
            for e in evs:
                if not e.negated and (e.kind == "example" or e.found not in seen_found):
                    seen_found.add(e.found)
                    live.append(e)
            counted = live[:4] + negated
            miss = 1.0
            for e in counted:
                miss *= 1 - min(e.score, 0.99)
            score = round(1 - miss, 3)
            spec = self.specs[intent]
            scores.append(IntentScore(intent, score, spec.tier, tuple(evs[:6])))
            if spec.tier == "crisis":
                # Example likeness alone raises a crisis only when it is strong.
                live = [e for e in evs if not e.negated and e.kind != "centroid"
                        and (e.kind != "example" or e.score >= 0.5)]
                live_miss = 1.0
                for e in live[:4]:
                    live_miss *= 1 - min(e.score, 0.99)
                # Weak words add up, but cannot raise a crisis without one clear phrase.
                clear = any(not e.kind.startswith("weak") and e.score >= 0.45 for e in live)
                if 1 - live_miss >= CRISIS_THRESHOLD and clear:
                    crisis_bits.append(f"{intent}: " + ", ".join(f"{e.phrase}({e.score})" for e in live[:3]))
        crisis = bool(crisis_bits)
        ranked = _rank(scores, crisis)
        if crisis:
            why = "crisis raised by " + "; ".join(crisis_bits)
        else:
            negated = [e.phrase for s in scores if s.tier == "crisis" for e in s.evidence if e.negated]
            weak = [f"{s.id}({s.score})" for s in scores if s.tier == "crisis"]
            why = ("crisis phrase negated: " + ", ".join(negated)) if negated else (
                "crisis evidence below threshold: " + ", ".join(weak) if weak else "no crisis phrase found")
        readings = "|".join(t.reading for t in tokens)
        return Match(cleaned, readings, tuple(ranked), crisis, why, lang)


def _pair_index(by_first: dict[str, list[_Phrase]], words) -> dict[tuple[str, str | None], list[_Phrase]]:
    """(first word, second word) -> the phrases of by_first[first] that may start there: those of
    one word and those whose second word it is, in their order. (first, None): one word only."""
    out: dict[tuple[str, str | None], list[_Phrase]] = {}
    for first, phrases in by_first.items():
        for second in {words(p)[1] for p in phrases if len(words(p)) > 1} | {None}:
            out[(first, second)] = [p for p in phrases if len(words(p)) == 1 or words(p)[1] == second]
    return out


def _rank(scores: list[IntentScore], crisis: bool) -> list[IntentScore]:
    kept = [s for s in scores if s.score >= THRESHOLD or (s.tier == "crisis" and s.score >= 0.1)]
    needs = [s for s in kept if s.tier != "meta"]
    metas = [s for s in kept if s.tier == "meta" and s.id != "out_of_scope"]
    best_need = max((s.score for s in needs), default=0.0)
    best_meta = max((s.score for s in metas), default=0.0)

    def order(s: IntentScore) -> tuple:
        crisis_first = 0 if (crisis and s.tier == "crisis" and any(not e.negated for e in s.evidence)) else 1
        return (crisis_first, -s.score, s.id)

    ranked = sorted(needs, key=order)
    # A clear greeting or thanks beats a need that only a weak word suggested.
    if metas and best_meta >= 0.8 and best_need < 0.5 and not crisis:
        ranked = sorted(metas, key=order) + ranked
    else:
        ranked += sorted(metas, key=order)
    if not ranked or (ranked[0].tier == "meta" and ranked[0].score < THRESHOLD):
        oos = next((s for s in scores if s.id == "out_of_scope"), None)
        best = max((s.score for s in kept), default=0.0)
        ranked = [oos or IntentScore("out_of_scope", round(1 - best, 3), "meta")] + [
            s for s in ranked if s.id != "out_of_scope"]
    elif best_need < THRESHOLD and not metas:
        ranked.insert(0, IntentScore("out_of_scope", round(1 - best_need, 3), "meta"))
    return ranked


CONDITIONAL_SURFACES = {"たら", "だら", "ば", "なら", "れば"}


def _hypothetical(tokens, end: int) -> bool:
    """A condition (倒れたら, 落ちれば): not something happening now."""
    for t in tokens[end:end + 2]:
        if t.surface in CONDITIONAL_SURFACES or (t.pos2 == "接続助詞" and t.lemma == "ば"):
            return True
    # the phrase itself may end on the condition (倒れたら matched as 倒れた + ら)
    return end > 0 and tokens[end - 1].surface in CONDITIONAL_SURFACES


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


_KANJI_RUN = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf]+")  # what _is_kanji() accepts


def _kanji_run_ends(text: str) -> dict[int, int]:
    """offset -> end of the run of kanji it starts or stands in, for every offset that is a kanji."""
    out = {}
    for m in _KANJI_RUN.finditer(text):
        end = m.end()
        for k in range(m.start(), end):
            out[k] = end
    return out


def _is_kanji(c: str) -> bool:
    return bool(c) and ("\u4e00" <= c <= "\u9fff" or "\u3400" <= c <= "\u4dbf")


_KANA = re.compile("[\u3041-\u30ff]*")


def _kana_written(tokens) -> bool:
    """The words that carry meaning here were typed in kana (particles do not count)."""
    words = [t for t in tokens if t.pos not in ("助詞", "助動詞")] or tokens
    return all(_KANA.fullmatch(t.surface) for t in words)


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


def skeleton(tokens) -> list[tuple[int, str]]:
    """(token index, key) for the tokens that carry meaning; negations all read ない."""
    out = []
    for i, t in enumerate(tokens):
        if t.lemma in SKELETON_NEGATION and t.pos in ("助動詞", "形容詞", "名詞"):
            if i and tokens[i - 1].lemma == "しか":
                continue  # 〜しかない is "nothing but", not a negation
            out.append((i, "ない"))
        elif t.lemma in SKELETON_PROGRESSIVE and i:
            out.append((i, "居る"))
        elif t.pos2 == "接続助詞" and t.lemma not in ("て", "で"):
            out.append((i, t.lemma))  # conditions stay: 〜いなくなれば is not 〜いなくなったら
        elif t.pos in SKELETON_DROP_POS or t.lemma in SKELETON_DROP:
            continue
        else:
            out.append((i, t.lemma))
    return out


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


def _bigrams(text: str) -> set[str]:
    return {text[i:i + 2] for i in range(len(text) - 1)}


def _negated(tokens: tuple[Token, ...], start: int, end: int) -> bool:
    """Is the phrase at tokens[start:end] negated by what follows (or, in English, precedes) it?"""
    if tokens[start].pos == "英単語":
        before = {t.lemma for t in tokens[max(0, start - 3):start]}
        return bool(before & EN_NEGATORS)
    for k, t in enumerate(tokens[end:end + 6], start=end):
        if t.lemma in NEGATORS and t.pos in ("助動詞", "形容詞"):
            return tokens[k - 1].lemma != "しか"  # 〜するしかない: "nothing left but", not a negation
        if t.pos2 == "接続助詞" and t.lemma not in ("て", "で"):
            return False
        if t.lemma not in NEGATION_BRIDGE and t.pos not in ("助詞", "助動詞"):
            return False
    return False

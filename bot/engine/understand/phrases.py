"""The phrase and example index: built once from the intents, read for every message.

    IntentSpec phrases   -> Phrase: lemmas, surface kana, reading, skeleton
                         -> lookup tables: by first word (and the next), by kana, kanji slips,
                            crisis words cut short or across word breaks, kana pairs for typos
    IntentSpec examples  -> Example: content words; idf over the intents
    each need's words    -> one tf-idf bag per need (the centroid)

Each table is a shortcut: hits.py finds with it what a scan of every phrase would find
(tests/engine/test_fast_paths.py checks them against the plain code).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass

from bot.engine.understand.intents import IntentSpec
from bot.engine.understand.tokens import Token, tokenize

UNALIGNED_MIN = 5  # kana: a crisis word found across Sudachi's word breaks (shorter ones hide in others: わたしのうち)
# One kana edit in a short word is often another word (しにたい/したい,
# しゅうかつ/しゅうまつ), so typos are forgiven from six kana up: one edit to
# eight kana, two beyond.
MIN_FUZZY = 6
# 「薬…ためる」: parts in order with a few meaningful words between them (hits.GAP), for what
# people say around a word rather than next to it (薬を2か月分ためてある).
GAP_MARK = "…"

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
# The skeleton of a phrase: what is left when particles and grammatical helpers go,
# so 「息をしていない」 meets 「息してない」 and Kansai 「息してへん」.
SKELETON_DROP_POS = {"助詞", "補助記号"}
# た (past) stays: 爆発した happened, 爆発しそう is a feeling.
SKELETON_DROP = {"て", "だ", "ます", "です", "仕舞う", "ちゃう", "ちまう", "ねん", "や"}
# 「している」「してる」「しとる」「しちょる」 are all the progressive: it matters
# (殴られている is now; 殴られることもある is not), so they meet as 居る.
SKELETON_PROGRESSIVE = {"居る", "てる", "とる", "ちょる", "おる"}
SKELETON_NEGATION = {"ない", "無い", "ぬ", "ず", "ん", "へん", "ひん", "ねえ", "ねぇ"}


@dataclass(frozen=True)
class Phrase:
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
class Example:
    intent: str
    text: str
    words: frozenset[str]


def content_words(tokens: tuple[Token, ...]) -> frozenset[str]:
    return frozenset(t.lemma for t in tokens if (t.content or t.pos == "英単語") and t.lemma not in STOP_LEMMAS)


class PhraseIndex:
    """Every phrase and example of the intents, keyed for the lookups hits.py makes."""

    def __init__(self, specs: dict[str, IntentSpec]):
        self.specs = specs
        self.phrases: list[Phrase] = []
        self.gapped: list[tuple[Phrase, tuple[tuple[str, ...], ...]]] = []
        # Every word a gapped phrase needs: one missing from the message and the scan is skipped.
        self.gapped_needs: list[frozenset[str]] = []
        for spec in specs.values():
            for p in spec.phrases:
                if GAP_MARK in p.text:
                    parts = tuple(tuple(k for _, k in skeleton(tokenize(part))) for part in p.text.split(GAP_MARK))
                    if all(parts):
                        self.gapped.append((Phrase(spec.id, p.text, p.weight, p.kind, (), "", "", ()), parts))
                        self.gapped_needs.append(frozenset(k for part in parts for k in part))
                    continue
                toks = tokenize(p.text)
                if not toks:
                    continue
                self.phrases.append(
                    Phrase(
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
        self.by_first_lemma: dict[str, list[Phrase]] = defaultdict(list)
        self.by_first_bone: dict[str, list[Phrase]] = defaultdict(list)
        self.by_kana: dict[str, list[tuple[Phrase, str]]] = defaultdict(list)
        self.fuzzy_grams: dict[str, set[int]] = defaultdict(set)
        for i, p in enumerate(self.phrases):
            self.by_first_lemma[p.lemmas[0]].append(p)
            # A phrase that ends on a particle was probably mis-read (九州 死にたか as 死に|た|か):
            # its skeleton (死ぬ た) would be another phrase, so only its exact forms count.
            if len(p.skeleton) >= 2 and not p.ends_on_particle:
                self.by_first_bone[p.skeleton[0]].append(p)
            self.by_kana[p.surface].append((p, "exact"))
            if p.reading != p.surface:
                self.by_kana[p.reading].append((p, "exact"))
            if p.kind == "keyword" and len(p.reading) >= MIN_FUZZY:
                for g in bigrams(p.reading):
                    self.fuzzy_grams[g].add(i)
        # By the first two words: at each place in a message only the phrases that go on as it does.
        self.by_lemma_pair = pair_index(self.by_first_lemma, lambda p: p.lemmas)
        self.by_bone_pair = pair_index(self.by_first_bone, lambda p: p.skeleton)
        self.max_kana = max((len(k) for k in self.by_kana), default=0)
        self.kana_prefixes = {k[:n] for k in self.by_kana for n in range(1, len(k) + 1)}
        # IME slips in kanji words of three or more (人知症, 生活保獲): one kanji swapped.
        self.kanji_slips: dict[str, list[Phrase]] = defaultdict(list)
        for p in self.phrases:
            if p.kind == "keyword" and 3 <= len(p.surface) <= 8 and all(is_kanji(c) for c in p.surface):
                for k in range(len(p.surface)):
                    self.kanji_slips[p.surface[:k] + "?" + p.surface[k + 1:]].append(p)
        self.slip_lengths = sorted({len(k) for k in self.kanji_slips})
        # Crisis phrases typed in kana, two more ways.  Cut off as it is sent (「…しにた」): the
        # phrase less its last kana, at the very end of the message.  In unsegmented kana: Sudachi's word breaks in a run of hiragana are guesses
        # (あしたしのうと… is read あ|し|た|し|のう|と, きょうしのう… as きょうし|のう), so a clear crisis
        # phrase of five kana or more, or all of it but its last kana (an inflected ending:
        # しのうとおもっ|てる), is also looked for anywhere in a run of words typed in kana.
        self.cut_short: dict[str, Phrase] = {}
        self.unaligned: dict[str, Phrase] = {}
        for p in self.phrases:
            if self.specs[p.intent].tier != "crisis" or p.kind != "keyword" \
                    or not all("\u3041" <= c <= "\u309f" for c in p.reading):
                continue
            if len(p.surface) >= 4:
                self.cut_short.setdefault(p.reading[:-1], p)
            if p.weight >= 0.9:  # clear words only (not 息が苦しい)
                for key in (p.reading, p.reading[:-1]):
                    if len(key) >= UNALIGNED_MIN:
                        self.unaligned.setdefault(key, p)
        self.unaligned_by_head: dict[str, list[str]] = defaultdict(list)  # by the first UNALIGNED_MIN kana
        for key in self.unaligned:
            self.unaligned_by_head[key[:UNALIGNED_MIN]].append(key)
        self.gram_count = [len(bigrams(p.reading)) for p in self.phrases]
        # The kana pairs a typo may leave: one edit to eight kana, two beyond, each edit
        # losing at most two pairs. A phrase sharing fewer with the message is not tried.
        self.min_shared = [g - 2 * (1 if len(p.reading) <= 8 else 2) for p, g in zip(self.phrases, self.gram_count, strict=True)]
        self.max_fuzzy = max((len(p.reading) for p in self.phrases), default=0) + 2

        self.examples: list[Example] = []
        for spec in specs.values():
            for text in spec.examples:
                words = content_words(tokenize(text))
                if words:
                    self.examples.append(Example(spec.id, text, words))
        # Inverse document frequency over intents: a word every need uses says nothing.
        intents_with: dict[str, set[str]] = defaultdict(set)
        for ex in self.examples:
            for w in ex.words:
                intents_with[w].add(ex.intent)
        n = max(len(specs), 1)
        self.idf = {w: math.log(1 + n / len(s)) for w, s in intents_with.items()}
        self.example_total = [sum(self.idf.get(w, 1.0) for w in ex.words) for ex in self.examples]
        # Each need as one bag of words from all its phrases and examples (tf-idf): the words
        # of a long story that no single phrase holds still lean towards its need.
        bags: dict[str, Counter[str]] = defaultdict(Counter)
        for spec in specs.values():
            texts = [p.text.replace(GAP_MARK, " ") for p in spec.phrases] + list(spec.examples)
            for text in texts:
                bags[spec.id].update(content_words(tokenize(text)))
        holders: dict[str, int] = Counter(w for bag in bags.values() for w in bag)
        self.centroid: dict[str, dict[str, float]] = defaultdict(dict)  # word -> intent -> weight
        for intent, bag in bags.items():
            weights = {w: (1 + math.log(c)) * math.log(1 + n / holders[w]) for w, c in bag.items()}
            norm = math.sqrt(sum(v * v for v in weights.values())) or 1.0
            for w, v in weights.items():
                self.centroid[w][intent] = v / norm
        self.examples_by_word: dict[str, list[int]] = defaultdict(list)
        for i, ex in enumerate(self.examples):
            for w in ex.words:
                self.examples_by_word[w].append(i)


def pair_index(by_first: dict[str, list[Phrase]], words) -> dict[tuple[str, str | None], list[Phrase]]:
    """(first word, second word) -> the phrases of by_first[first] that may start there: those of
    one word and those whose second word it is, in their order. (first, None): one word only."""
    out: dict[tuple[str, str | None], list[Phrase]] = {}
    for first, phrases in by_first.items():
        for second in {words(p)[1] for p in phrases if len(words(p)) > 1} | {None}:
            out[(first, second)] = [p for p in phrases if len(words(p)) == 1 or words(p)[1] == second]
    return out


def is_kanji(c: str) -> bool:
    return bool(c) and ("\u4e00" <= c <= "\u9fff" or "\u3400" <= c <= "\u4dbf")


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


def bigrams(text: str) -> set[str]:
    return {text[i:i + 2] for i in range(len(text) - 1)}


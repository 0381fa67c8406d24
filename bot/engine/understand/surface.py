"""The surface layer: which need a message's characters lean to, in any script.

    text -> fold (NFKC, lower case, katakana as hiragana, symbols to spaces); all kana: split into words
         -> character 1-3-grams, tf-idf (sublinear tf, smooth idf, L2)
         -> a linear head per intent (multinomial logistic regression) -> probabilities

Trained on every intent's keywords, examples and training sentences (training.py); the weights
ship in bot/data/models/surface.npz, so nothing is learned or downloaded at run time. Characters
need no dictionary, so the layer reads Vietnamese, Thai or Nepali as readily as Japanese, and a
typo costs a few n-grams, not the word.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

NGRAMS = (1, 2, 3)
_NOT_WORD = re.compile(r"[\W_]+")  # punctuation, symbols and emoji: a break between words
_KATA = {c: c - 0x60 for c in range(0x30A1, 0x30F7)}


def fold(text: str) -> str:
    """The form the layer reads: 「ヒキコモリ！！」 -> 「ひきこもり」; Latin and other scripts keep their letters."""
    text = unicodedata.normalize("NFKC", text or "").lower().translate(_KATA)
    return " ".join(_NOT_WORD.sub(" ", text).split())


_ALL_KANA = re.compile(r"^[\u3041-\u309f\u30fc ]+$")


def prepared(text: str, segment: bool = True) -> str:
    """What the layer reads: the folded text; a message all in kana also split into words (Sudachi),
    because character n-grams run across word breaks in unspaced kana (わたしのうち holds しのう)."""
    folded = fold(text)
    if segment and _ALL_KANA.match(folded) and len(folded) > 3:
        from bot.engine.understand.tokens import tokenize  # Sudachi: only for kana-only messages

        words = [t.surface for t in tokenize(folded) if t.surface.strip()]
        if words:
            return fold(" ".join(words))
    return folded


def grams(folded: str) -> Counter[str]:
    """Character n-grams of each word with a space on either side, so a gram knows where a word starts."""
    out: Counter[str] = Counter()
    for word in folded.split(" "):
        if not word:
            continue
        padded = f" {word} "
        for n in NGRAMS:
            for i in range(len(padded) - n + 1):
                g = padded[i:i + n]
                if g != " ":
                    out[g] += 1
    return out


def weights(counts: Counter[str], vocab: dict[str, int], idf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The message's tf-idf vector as (indices, values), L2-normalised; grams outside the vocabulary drop."""
    idx, val = [], []
    for g, c in counts.items():
        j = vocab.get(g)
        if j is not None:
            idx.append(j)
            val.append((1.0 + math.log(c)) * idf[j])
    values = np.asarray(val, dtype=np.float32)
    norm = float(np.sqrt((values * values).sum())) if len(values) else 0.0
    return np.asarray(idx, dtype=np.int64), (values / norm if norm else values)


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


@dataclass
class SurfaceModel:
    classes: tuple[str, ...]
    vocab: dict[str, int]
    idf: np.ndarray  # (V,)
    coef: np.ndarray  # (V, K): a gram's weight towards each intent
    intercept: np.ndarray  # (K,)

    @classmethod
    def load(cls, path: Path) -> SurfaceModel:
        with np.load(path, allow_pickle=False) as z:
            grams_ = str(z["grams"]).split("\n")
            return cls(tuple(str(z["classes"]).split("\n")), {g: i for i, g in enumerate(grams_)},
                       z["idf"].astype(np.float32), z["coef"].astype(np.float32),
                       z["intercept"].astype(np.float32))

    def save(self, path: Path) -> None:
        ordered = sorted(self.vocab, key=self.vocab.__getitem__)
        np.savez_compressed(path, classes="\n".join(self.classes), grams="\n".join(ordered),
                            idf=self.idf.astype(np.float32), coef=self.coef.astype(np.float16),
                            intercept=self.intercept.astype(np.float32))

    def probabilities(self, text: str, segment: bool = True) -> np.ndarray:
        """`segment=False`: no Sudachi even for kana (the queue's first look, which must stay cheap)."""
        idx, val = weights(grams(prepared(text, segment)), self.vocab, self.idf)
        z = self.intercept + (val @ self.coef[idx] if len(idx) else 0.0)
        return softmax(np.asarray(z, dtype=np.float64))

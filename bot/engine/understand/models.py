"""The trained layers as shipped: bot/data/models/{surface,semantic}.npz and manifest.json.

load_understanding() gives the full pipeline when the models were trained on these intents, and
the phrase matcher alone (with a warning in the log) when they are missing or were trained on
other intents, as with a test's own intent files: a model that knows other needs must not
decide between these.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from bot.engine.understand.intents import IntentSpec
from bot.engine.understand.matcher import Matcher
from bot.engine.understand.semantic import SemanticModel
from bot.engine.understand.surface import SurfaceModel
from bot.engine.understand.understanding import Understanding
from bot.types import Layer, Match, ResidentContext

log = logging.getLogger("tsunagu.engine")
MODELS_DIR = Path(__file__).resolve().parent.parent.parent / "data" / "models"


class LexiconOnly:
    """The phrase matcher alone, behind the same `match(text, context)`."""

    def __init__(self, matcher: Matcher, why: str):
        self.matcher = matcher
        self.why = why

    def match(self, text: str, context: ResidentContext | None = None) -> Match:
        from dataclasses import replace

        m = self.matcher.match(text)
        return replace(m, layers=(Layer("lexicon", True, tuple((s.id, s.score) for s in m.intents[:3]),
                                        note=m.crisis_why), Layer("surface", False, note=self.why)))


def manifest(directory: Path = MODELS_DIR) -> dict:
    try:
        return json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def load_understanding(specs: dict[str, IntentSpec], matcher: Matcher, directory: Path = MODELS_DIR,
                       semantic: bool = True) -> Understanding | LexiconOnly:
    try:
        surface = SurfaceModel.load(directory / "surface.npz")
        sem = SemanticModel.load(directory / "semantic.npz") if semantic else None
    except (OSError, KeyError, ValueError) as e:
        log.warning("understanding: no trained models in %s (%s); the phrase matcher alone", directory, e)
        return LexiconOnly(matcher, "no trained models")
    if set(surface.classes) != set(specs) or (sem is not None and set(sem.classes) != set(specs)):
        log.warning("understanding: the models were trained on other intents; the phrase matcher alone")
        return LexiconOnly(matcher, "models trained on other intents")
    return Understanding(specs, matcher, surface, sem)

"""The needs the bot knows: intents/*.yaml, one file per taxonomy id.

Each file gives labels and the phrases residents use: `keywords` (one is
enough), `weak` (suggestive only) and `examples` (whole messages, compared by
their content words); `training` holds many more whole messages, in Japanese
and eleven other languages, that only the learned layers read (surface.py,
semantic.py).  What the bot says for each need is in locales/*.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ruamel.yaml import YAML

from bot.types import Tier

ROOT = Path(__file__).resolve().parents[3]  # the repository (bot/engine/understand/intents.py)
INTENTS_DIR = ROOT / "intents"
TIERS = ("crisis", "need", "meta")
WEAK_WEIGHT = 0.35


@dataclass(frozen=True)
class PhraseSpec:
    text: str
    weight: float
    kind: str  # "keyword" | "weak"


@dataclass(frozen=True)
class IntentSpec:
    id: str
    tier: Tier
    ja: str
    en: str
    phrases: tuple[PhraseSpec, ...]
    examples: tuple[str, ...]
    path: str = ""
    training: tuple[str, ...] = ()  # whole messages the learned layers train on (not matched as phrases)
    foreign: tuple[str, ...] = ()  # crisis words in other languages (crisis.py), found in the folded text
    topics: dict[str, tuple[str, ...]] = field(default_factory=dict)  # help: words that ask about each topic

    def label(self, lang: str) -> str:
        return self.en if lang == "en" else self.ja


class IntentError(ValueError):
    pass


def _phrases(raw: object, kind: str, default: float, where: str) -> list[PhraseSpec]:
    out = []
    for item in raw or []:
        if isinstance(item, str):
            out.append(PhraseSpec(item, default, kind))
        elif isinstance(item, dict) and isinstance(item.get("phrase"), str):
            weight = float(item.get("weight", default))
            if not 0 < weight <= 1:
                raise IntentError(f"{where}: weight of {item['phrase']!r} must be in (0, 1]")
            out.append(PhraseSpec(item["phrase"], weight, kind))
        else:
            raise IntentError(f"{where}: {kind} entries are strings or {{phrase, weight}}")
    return out


def load_intent(path: Path) -> IntentSpec:
    data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    where = str(path)
    if not isinstance(data, dict) or "id" not in data:
        raise IntentError(f"{where}: not an intent file (needs id)")
    if data.get("tier") not in TIERS:
        raise IntentError(f"{where}: tier must be one of {', '.join(TIERS)}")
    phrases = _phrases(data.get("keywords"), "keyword", 1.0, where)
    phrases += _phrases(data.get("weak"), "weak", WEAK_WEIGHT, where)
    return IntentSpec(
        id=str(data["id"]),
        tier=data["tier"],
        ja=str(data.get("ja", "")),
        en=str(data.get("en", "")),
        phrases=tuple(phrases),
        examples=tuple(str(e) for e in data.get("examples") or []),
        path=where,
        training=tuple(str(e) for e in data.get("training") or []),
        foreign=tuple(str(e) for e in data.get("foreign") or []),
        topics={str(k): tuple(str(w) for w in v or ()) for k, v in (data.get("topics") or {}).items()},
    )


def load_intents(directory: Path = INTENTS_DIR) -> dict[str, IntentSpec]:
    specs: dict[str, IntentSpec] = {}
    for path in sorted(directory.glob("*.yaml")):
        spec = load_intent(path)
        if spec.id != path.stem:
            raise IntentError(f"{path}: id {spec.id!r} differs from the file name")
        specs[spec.id] = spec
    if not specs:
        raise IntentError(f"{directory}: no intent files")
    return specs

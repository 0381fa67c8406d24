"""The crisis detector: signs of suicide or a life in danger now, recall first.

    lexicon   the phrase matcher's crisis flag (clear phrases, negation and conditions weighed)
    foreign   crisis words in eleven other languages (intents' `foreign` lists), found in the folded text
    learned   the surface and semantic layers' probability of suicide_risk + emergency
      -> raised: any of them clearly says so
      -> check-in: the learned layers see distress near that line, but not over it: the reply
         leads with the 24-hour lines and asks plainly (router, locales checkin.*)

A crisis never depends on one phrase being in a list: the learned layers read every message
(the surface layer always; the semantic layer when the surface is in doubt): one of them sure,
or one over the line with the other seeing some of it, raises it (death idioms fool one layer more
often than both). A crisis phrase the resident negated (死にたいとかじゃないけど) raises nothing unless the
lexicon finds another, live one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from bot.engine.understand.scoring import CONDITION, NEGATED, STORY, set_aside
from bot.engine.understand.surface import fold
from bot.types import Match

CRISIS_IDS = ("suicide_risk", "emergency")
RAISE = 0.5  # one learned layer's P(crisis) that raises a crisis when the other sees some too
AGREE = 0.1  # "some": the other layer's P(crisis) (death idioms fool one layer more often than both)
# In a message all in kana, character n-grams run across word breaks (わたしのうち holds しのう): the
# other layer must agree more before the learned layers raise a crisis on their own.
AGREE_KANA = 0.3
_ALL_KANA = re.compile(r"^[\u3040-\u309f\u30fc\s、。，．！？!?…・〜~]+$")
ALONE = 0.8  # one layer this sure raises it alone
CHECK_IN = 0.2  # below the raise, from here (the other layer seeing a little): distress worth asking about plainly
CHECK_IN_OTHER = 0.08
# Distress that names no practical need: the check-in is for these, not for a rent or a boss.
DISTRESS = ("mental_health", "loneliness", "out_of_scope", "hikikomori")
SURFACE_DOUBT = 0.2  # from here the semantic layer is asked too


@dataclass(frozen=True)
class CrisisCall:
    raised: bool
    kind: str | None = None  # "suicide_risk" or "emergency": which crisis leads
    check_in: bool = False
    why: str = ""


class ForeignWords:
    """Crisis words in other languages, matched on the folded text (whole words in spaced scripts)."""

    def __init__(self, words: dict[str, tuple[str, ...]]):
        self.words = {intent: tuple(fold(w) for w in ws if fold(w)) for intent, ws in words.items()}

    def find(self, text: str) -> tuple[str, str] | None:
        folded = f" {fold(text)} "
        for intent, words in self.words.items():
            for w in words:
                # Scripts written with spaces need the word whole (muốn chết, not a part of another word).
                if (f" {w} " in folded) if w.isascii() else (w in folded):
                    return intent, w
        return None


def all_kana(text: str) -> bool:
    return bool(_ALL_KANA.match(text))


def crisis_share(probs: np.ndarray | None, classes: tuple[str, ...]) -> tuple[float, str]:
    """P(suicide_risk) + P(emergency), and which of the two is larger."""
    if probs is None:
        return 0.0, "suicide_risk"
    sr, em = probs[classes.index("suicide_risk")], probs[classes.index("emergency")]
    return float(sr + em), ("emergency" if em > sr else "suicide_risk")


def call(lexicon: Match, surface: np.ndarray, semantic: np.ndarray | None, classes: tuple[str, ...],
         foreign: tuple[str, str] | None, need: str | None = None, text: str = "") -> CrisisCall:
    """`need`: the best need that is not a crisis, as the layers blended it; `text`: the message."""
    ps, kind_s = crisis_share(surface, classes)
    pe, kind_e = crisis_share(semantic, classes)
    learned = f"surface {ps:.2f}" + (f", semantic {pe:.2f}" if semantic is not None else "")
    if lexicon.crisis:
        lead = next((s.id for s in lexicon.intents if s.tier == "crisis"), kind_s)
        return CrisisCall(True, lead, why=f"lexicon: {lexicon.crisis_why}; {learned}")
    if foreign:
        return CrisisCall(True, foreign[0], why=f"foreign crisis word {foreign[1]!r}; {learned}")
    other = pe if semantic is not None else ps  # not asked: the surface layer saw too little for doubt
    high, low = max(ps, other), min(ps, other)
    kind = kind_e if semantic is not None and pe > ps else kind_s
    aside = set_aside(lexicon)
    # The layers read 死にたい in 「死にたいとは思わないけど」 as they read it anywhere; the lexicon reads
    # the grammar (a crisis said elsewhere in the message is a live phrase the lexicon raises itself).
    # A condition is a danger imagined (倒れたらどうしよう), unless a layer is sure it is the thought of
    # suicide itself (飛び降りたら楽になれる); a story's words (「死にたい」って叫ぶシーン) are not the
    # resident's, unless both layers read the message as a crisis of its own.
    if aside == NEGATED or (aside == CONDITION and (kind != "suicide_risk" or high < ALONE)) or (
            aside == STORY and (high < ALONE or low < RAISE)):
        return CrisisCall(False, why=f"{lexicon.crisis_why}; {learned}")
    kana = all_kana(text)
    if (high >= ALONE and not kana) or (high >= RAISE and low >= (AGREE_KANA if kana else AGREE)):
        return CrisisCall(True, kind, why=f"learned layers: P(crisis) {learned}")
    if high >= CHECK_IN and low >= (AGREE_KANA if kana else CHECK_IN_OTHER) and kind == "suicide_risk" \
            and need in DISTRESS:
        return CrisisCall(True, kind, check_in=True, why=f"distress near the line, check in: {learned}")
    return CrisisCall(False, why=f"no crisis: {learned}")

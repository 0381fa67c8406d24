"""Evidence in, a Match out: a score per need, the crisis flag and why, the needs ranked.

    [(intent, Evidence)] -> per need: the best four live pieces and one negated, noisy-or
                         -> crisis: a clear crisis phrase, not negated, and enough evidence
                         -> ranked: a raised crisis first, then by score; out_of_scope when nothing fits
"""

from __future__ import annotations

from collections import defaultdict

from bot.engine.understand.intents import IntentSpec
from bot.types import Evidence, IntentScore, Match

THRESHOLD = 0.3  # a need below this is not offered
CRISIS_THRESHOLD = 0.4  # deliberately low: a missed crisis costs more than a false alarm


def decide(specs: dict[str, IntentSpec], cleaned: str, tokens, hits, lang) -> Match:
    """The evidence weighed: a score per need (noisy-or), the crisis flag and why, the needs ranked."""
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
        spec = specs[intent]
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
        negated = [e for s in scores if s.tier == "crisis" for e in s.evidence if e.negated]
        weak = [f"{s.id}({s.score})" for s in scores if s.tier == "crisis"]
        if negated:
            why = f"{_how_set_aside(negated)}: " + ", ".join(e.phrase for e in negated)
        else:
            why = "crisis evidence below threshold: " + ", ".join(weak) if weak else "no crisis phrase found"
    readings = "|".join(t.reading for t in tokens)
    return Match(cleaned, readings, tuple(ranked), crisis, why, lang)


# How the crisis phrases found were set aside: the start of Match.crisis_why, which the crisis
# detector reads (crisis.py). A condition (倒れたら, evidence kind "-if") and a story's words
# (「死にたい」って叫ぶシーン, "-story") are weighed apart from a real negation.
NEGATED = "crisis phrase negated"
CONDITION = "crisis phrase in a condition"
STORY = "crisis phrase in a story"


def _how_set_aside(negated: list[Evidence]) -> str:
    if all(e.kind.endswith("-if") for e in negated):
        return CONDITION
    if all(e.kind.endswith("-story") for e in negated):
        return STORY
    return NEGATED


def set_aside(match: Match) -> str | None:
    """NEGATED, CONDITION or STORY when the lexicon set its crisis phrases aside so; else None."""
    return next((how for how in (NEGATED, CONDITION, STORY) if match.crisis_why.startswith(how)), None)


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


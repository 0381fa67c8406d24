"""Several ways of reading a message, one decision: the Match the router routes.

    text ─┬─ lexicon    phrase matcher (matcher.py): exact Japanese phrases, negation      ~0.3 ms
          ├─ surface    character n-grams + a trained head (surface.py), every message     ~0.2 ms
          ├─ semantic   multilingual-e5 + a trained head (semantic.py), only when needed   10-200 ms
          ├─ crisis     crisis.py over all three, and crisis words in other languages
          └─ follow-up  the answer to the bot's own question (followup.py), topics of help
      -> blend: a weighted sum of the layers' scores per need, ranked
      -> unsure when no need stands out (the reply then offers the needs as choices)

The cascade: the semantic layer runs when the message is not Japanese or English (the lexicon
reads only those), or when the surface layer sees a possible crisis the lexicon did not raise.
Most Japanese messages never wait for the encoder.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from bot.engine.understand import crisis as crisis_
from bot.engine.understand.followup import answer_to, topic_of
from bot.engine.understand.intents import IntentSpec
from bot.engine.understand.language import UNDETERMINED, detect
from bot.engine.understand.matcher import Matcher
from bot.engine.understand.scoring import NEGATED, STORY, set_aside
from bot.engine.understand.semantic import SemanticModel
from bot.engine.understand.surface import SurfaceModel, fold
from bot.types import Evidence, IntentScore, Layer, Match, ResidentContext


@dataclass(frozen=True)
class Weights:
    """How much each layer's view counts; tuned on the development case files, never on the blind ones."""

    surface: float = 1.0
    semantic: float = 0.5
    lexicon: float = 0.5
    foreign_semantic: float = 1.5  # a message the lexicon cannot read leans on meaning
    keep: float = 0.12  # a need below this share of the blend is not offered
    unsure_top: float = 0.35  # the best need's share below this: unsure
    unsure_margin: float = 0.08  # or the first two this close, with the best below unsure_sure
    unsure_sure: float = 0.5
    lexicon_nothing: float = 0.5  # the lexicon's out_of_scope when no phrase matched at all: how much it counts


class Understanding:
    def __init__(self, specs: dict[str, IntentSpec], matcher: Matcher, surface: SurfaceModel,
                 semantic: SemanticModel | None, weights: Weights = Weights()):
        self.specs = specs
        self.matcher = matcher
        self.surface = surface
        self.semantic = semantic
        self.weights = weights
        self.classes = surface.classes
        self.tiers = {i: specs[i].tier for i in self.classes}
        self.foreign = crisis_.ForeignWords({i: specs[i].foreign for i in crisis_.CRISIS_IDS if i in specs})
        self.topics = {t: tuple(ws) for t, ws in specs["help"].topics.items()} if "help" in specs else {}

    def match(self, text: str, context: ResidentContext | None = None, hurry: bool = False) -> Match:
        """`hurry`: the server is past its capacity (bot/service/desk.py). A Japanese message then skips
        the encoder, whose one-at-a-time 20-90 ms would hold every crisis behind it, and a crisis in
        doubt is asked about (the 24-hour lines first) instead of waited on."""
        context = context or ResidentContext()
        lexicon = self.matcher.match(text)
        found = detect(text)
        # The lexicon reads Japanese and some English; for the rest meaning leads.
        japanese = found.language in ("ja", "ja-easy", "en") or (
            found.language == UNDETERMINED and lexicon.lang == "ja")
        ps = self.surface.probabilities(text)
        foreign = self.foreign.find(text)
        blend_lexicon = self._lexicon_vector(lexicon) if japanese else None
        first = self._blend(ps, None, blend_lexicon, japanese)
        surface_crisis, surface_kind = crisis_.crisis_share(ps, self.classes)
        doubt = not lexicon.crisis and not foreign and surface_crisis >= crisis_.SURFACE_DOUBT
        nothing = not any(s.evidence for s in lexicon.intents)
        # Measured: asking it also when unsure or when no phrase matched changed no case file's figures,
        # and cost a fifth more encoder time.
        run_semantic = self.semantic is not None and (not japanese or (doubt and not hurry))
        hurried = self.semantic is not None and japanese and doubt and hurry
        pe = vector = None
        if run_semantic:
            vector = self.semantic.vector(text)
            pe = self.semantic.probabilities(vector)
        blended = self._blend(ps, pe, blend_lexicon, japanese) if pe is not None else first
        not_theirs = set_aside(lexicon) in (NEGATED, STORY)
        if not_theirs:
            # 「死にたいとは思わないけど毎日さみしい」: the resident said which need it is not.
            blended = np.where([self.tiers[c] == "crisis" for c in self.classes], blended * 0.3, blended)
        need = next((self.classes[i] for i in np.argsort(-blended) if self.tiers[self.classes[i]] != "crisis"), None)
        call = crisis_.call(lexicon, ps, pe, self.classes, foreign, need, text)
        best = self.classes[int(np.argmax(blended))]
        # When asked, the semantic layer must see a little of it too: in a language other than Japanese
        # the surface layer's character n-grams are thin, and a few crisis sentences sway them.
        seen = pe is None or crisis_.crisis_share(pe, self.classes)[0] >= crisis_.CHECK_IN_OTHER
        if not call.raised and best == "suicide_risk" and not not_theirs and seen \
                and not crisis_.all_kana(text):
            # The layers' best reading is suicide, but no layer is sure: never that need without the
            # crisis reply. Ask plainly.
            call = crisis_.CrisisCall(True, best, check_in=True,
                                      why=f"the blend's best reading is {best}, no layer sure: " + call.why)
        if hurried and not call.raised and not not_theirs and not crisis_.all_kana(text) \
                and surface_kind == "suicide_risk":
            # Recall first while busy: what the encoder would have weighed is asked about plainly.
            call = crisis_.CrisisCall(True, "suicide_risk", check_in=True,
                                      why="busy: the encoder skipped, the surface layer sees distress: " + call.why)
        ranked = self._rank(blended, lexicon, ps, pe, call)
        layers = (
            Layer("lexicon", True, tuple((s.id, s.score) for s in lexicon.intents[:3]), note=lexicon.crisis_why),
            Layer("surface", True, self._top(ps)),
            Layer("semantic", pe is not None, self._top(pe) if pe is not None else (),
                  self.semantic.nearest(vector, ranked[0].id) if vector is not None and self.semantic else (),
                  note="skipped: the server was busy" if hurried else ""),
            Layer("crisis", call.raised, ((call.kind, 1.0),) if call.kind else (), note=call.why),
        )
        decided_by = self._decided_by(ranked[0].id, lexicon, ps, pe, call)
        match = replace(
            lexicon, intents=tuple(ranked), crisis=call.raised, crisis_why=call.why, layers=layers,
            decided_by=decided_by, check_in=call.check_in,  # crisis.py asks only about suicide (kind suicide_risk)
            unsure=not call.raised and (self._unsure(blended) or self._disagree(nothing, fold(text).split(), ps, pe, blended)),
            language=found.language, lang=found.lang, language_why=found.why,
        )
        if match.intents[0].id == "help":
            # A plain question about the bot is how to use it; an unsure one gets the choices instead.
            match = replace(match, topic=topic_of(text, self.topics) or (None if match.unsure else "how"))
        if context.asked:
            match = answer_to(context.asked, text, match)
        return match

    def urgent(self, text: str) -> bool:
        """A first look for the queue (no Sudachi, no encoder, under a millisecond): crisis words in another
        language, or the surface layer leaning to a crisis (P ≥ 0.3: on the referral files this and the
        keywords send 172 of 176 crises to the front, and 28 of 447 other messages with them)."""
        if self.foreign.find(text):
            return True
        return crisis_.crisis_share(self.surface.probabilities(text[:1000], segment=False), self.classes)[0] >= 0.3

    def views(self, text: str) -> dict[str, tuple[str, bool]]:
        """Each layer alone on the message, every layer run: (top intent, crisis) for the reports'
        per-layer figures. The semantic layer's nearest neighbour is the e5 peer; the surface layer
        alone is the character n-gram peer."""
        lexicon = self.matcher.match(text)
        out = {"lexicon": (lexicon.intents[0].id if lexicon.intents else "out_of_scope", lexicon.crisis)}
        ps = self.surface.probabilities(text)
        out["surface"] = self._alone(ps)
        if self.semantic is not None:
            vector = self.semantic.vector(text)
            out["semantic"] = self._alone(self.semantic.probabilities(vector))
            near = self.semantic.nearest_intent(vector)
            out["e5 nearest"] = (near, near in crisis_.CRISIS_IDS)
        return out

    def _alone(self, probs: np.ndarray) -> tuple[str, bool]:
        top = self.classes[int(np.argmax(probs))]
        return top, top in crisis_.CRISIS_IDS

    # -- the blend ------------------------------------------------------------------------------

    def _lexicon_vector(self, lexicon: Match) -> np.ndarray:
        v = np.zeros(len(self.classes))
        for s in lexicon.intents:
            if s.id in self.classes:
                # "Nothing matched" is the lexicon not knowing, not knowing the message is out of scope.
                nothing = s.id == "out_of_scope" and not s.evidence
                v[self.classes.index(s.id)] = s.score * (self.weights.lexicon_nothing if nothing else 1.0)
        return v

    def _blend(self, ps: np.ndarray, pe: np.ndarray | None, lex: np.ndarray | None, japanese: bool) -> np.ndarray:
        w = self.weights
        total = w.surface * ps
        weight = w.surface
        if pe is not None:
            k = w.semantic if japanese else w.foreign_semantic
            total = total + k * pe
            weight += k
        if lex is not None and japanese:
            total = total + w.lexicon * lex
            weight += w.lexicon
        return total / weight

    def _unsure(self, blended: np.ndarray) -> bool:
        w = self.weights
        first, second = np.sort(blended)[::-1][:2]
        return bool(first < w.unsure_top or (first - second < w.unsure_margin and first < w.unsure_sure))

    def _disagree(self, nothing: bool, words: list[str], ps: np.ndarray, pe: np.ndarray | None,
                  blended: np.ndarray) -> bool:
        """No phrase of any need in the message, none clear, and the two learned layers read it differently
        or it is a word or two: the bot does not know what the resident needs (keyboard noise, a word it
        has never seen). Better to ask than to guess."""
        if not nothing or float(blended.max()) >= self.weights.unsure_sure:
            return False
        return (pe is not None and int(np.argmax(ps)) != int(np.argmax(pe))) or len(words) <= 2

    def _top(self, probs: np.ndarray, n: int = 3) -> tuple[tuple[str, float], ...]:
        order = np.argsort(-probs)[:n]
        return tuple((self.classes[i], round(float(probs[i]), 3)) for i in order)

    def _rank(self, blended: np.ndarray, lexicon: Match, ps, pe, call: crisis_.CrisisCall) -> list[IntentScore]:
        """Needs by their share of the blend; a raised crisis first. Each keeps the lexicon's evidence and
        says what the learned layers gave it."""
        evidence = {s.id: s.evidence for s in lexicon.intents}
        out = []
        for i in np.argsort(-blended):
            intent, share = self.classes[i], float(blended[i])
            if share < self.weights.keep and not (call.raised and intent == call.kind) and out:
                continue
            learned = [Evidence("(surface layer)", "", round(float(ps[i]), 3), "surface")]
            if pe is not None:
                learned.append(Evidence("(semantic layer)", "", round(float(pe[i]), 3), "semantic"))
            out.append(IntentScore(intent, round(share, 3), self.tiers[intent], tuple(evidence.get(intent, ())) + tuple(learned)))
        if call.raised and call.kind:
            lead = next(s for s in out if s.id == call.kind)
            out = [lead] + [s for s in out if s is not lead]
        elif out and out[0].tier == "crisis":
            # No crisis raised: a crisis need never leads (its opening would speak of a danger no layer saw).
            first = next((s for s in out if s.tier != "crisis"), None)
            if first is not None:
                out = [first] + [s for s in out if s is not first]
        return out

    def _decided_by(self, top: str, lexicon: Match, ps, pe, call: crisis_.CrisisCall) -> str:
        if call.raised and top == call.kind:
            return "crisis: " + call.why.split(":")[0]
        views = {"lexicon": lexicon.intents[0].id if lexicon.intents else None,
                 "surface": self.classes[int(np.argmax(ps))]}
        if pe is not None:
            views["semantic"] = self.classes[int(np.argmax(pe))]
        agree = [name for name, v in views.items() if v == top]
        return "+".join(agree) if agree else "blend"

"""Referral cases: "if someone writes X, where does the bot send them, and why?"

A case file is a YAML list of {text, expect: [ids], crisis: true|any|absent, also: [ids]}
(the format of shared/referrals/dev.yaml). The report follows Rasa's intent
evaluation: per-need precision/recall/F1, confusions, crisis recall and false
alarms, and each failure with the phrases that scored.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ruamel.yaml import YAML

from bot.engine.engine import Engine


@dataclass
class Case:
    text: str
    expect: list[str]
    crisis: str = "absent"  # "true" | "absent" (also: the key left out) | "any"
    also: list[str] = field(default_factory=list)
    source: str = ""


@dataclass
class Outcome:
    case: Case
    top: str
    ranked: list[tuple[str, float]]
    crisis: bool
    passed: bool
    problems: list[str]
    why: list[str]
    decided_by: str = ""
    views: dict[str, tuple[str, bool]] = field(default_factory=dict)  # each layer alone: (top, crisis)


class CaseError(ValueError):
    pass


def load_cases(path: Path | str, text: str | None = None) -> list[Case]:
    path = Path(path)
    raw = YAML(typ="safe").load(text if text is not None else path.read_text(encoding="utf-8")) or []
    if not isinstance(raw, list):
        raise CaseError(f"{path}: a case file is a list of cases")
    cases = []
    for i, item in enumerate(raw, 1):
        if not isinstance(item, dict) or not isinstance(item.get("text"), str) or not item.get("expect"):
            raise CaseError(f"{path}: case {i} needs text and expect")
        # No crisis key means the flag must stay down, as in shared/referrals/dev.yaml:
        # "absent" is the key's absence (a raised flag there is a false alarm).
        crisis = item.get("crisis", "absent")
        crisis = {True: "true", False: "absent", None: "any"}.get(crisis, str(crisis))
        if crisis not in ("true", "absent", "any"):
            raise CaseError(f"{path}: case {i}: crisis must be true, any or absent")
        expect = item["expect"] if isinstance(item["expect"], list) else [item["expect"]]
        cases.append(Case(item["text"], [str(e) for e in expect], crisis, list(item.get("also") or []), str(path)))
    return cases


def run_case(engine: Engine, case: Case, layers: bool = False) -> Outcome:
    """One case through the engine; with `layers`, also each layer alone (the per-layer figures)."""
    match = engine.match(case.text)
    ranked = [(s.id, s.score) for s in match.intents]
    top = ranked[0][0] if ranked else "out_of_scope"
    problems = []
    if top not in case.expect:
        problems.append(f"top intent {top}, expected {' or '.join(case.expect)}")
    if case.crisis == "true" and not match.crisis:
        problems.append("crisis missed")
    if case.crisis == "absent" and match.crisis:
        problems.append("false crisis alarm")
    first3 = [i for i, _ in ranked[:3]]
    for extra in case.also:
        if extra not in first3:
            problems.append(f"{extra} not among the first three")
    why = [match.crisis_why, f"decided by {match.decided_by}" + (" (unsure)" if match.unsure else "")
           + (" (check-in)" if match.check_in else "")]
    for s in match.intents[:4]:
        ev = ", ".join(f"{e.phrase}→{e.found} {e.kind} {e.score}{' (negated)' if e.negated else ''}" for e in s.evidence[:3])
        why.append(f"{s.id} {s.score}: {ev or 'no phrase'}")
    for layer in match.layers:
        if layer.ran and layer.name in ("surface", "semantic"):
            tops = ", ".join(f"{i} {p}" for i, p in layer.top)
            near = f"; nearest: {' / '.join(layer.nearest)}" if layer.nearest else ""
            why.append(f"{layer.name}: {tops}{near}")
    views = engine.understanding.views(case.text) if layers and hasattr(engine.understanding, "views") else {}
    return Outcome(case, top, ranked[:5], match.crisis, not problems, problems, why, match.decided_by, views)


@dataclass
class Report:
    outcomes: list[Outcome]

    @property
    def passed(self) -> int:
        return sum(o.passed for o in self.outcomes)

    @property
    def failed(self) -> int:
        return len(self.outcomes) - self.passed

    def per_intent(self) -> dict[str, dict[str, float]]:
        tp: Counter[str] = Counter()
        fp: Counter[str] = Counter()
        fn: Counter[str] = Counter()
        for o in self.outcomes:
            if o.top in o.case.expect:
                tp[o.top] += 1
            else:
                fp[o.top] += 1
                fn[o.case.expect[0]] += 1
        out = {}
        for intent in sorted(set(tp) | set(fp) | set(fn)):
            p = tp[intent] / (tp[intent] + fp[intent]) if tp[intent] + fp[intent] else 0.0
            r = tp[intent] / (tp[intent] + fn[intent]) if tp[intent] + fn[intent] else 0.0
            f1 = 2 * p * r / (p + r) if p + r else 0.0
            out[intent] = {"precision": round(p, 3), "recall": round(r, 3), "f1": round(f1, 3),
                           "support": tp[intent] + fn[intent]}
        return out

    def confusions(self) -> list[tuple[str, str, int]]:
        pairs: Counter[tuple[str, str]] = Counter()
        for o in self.outcomes:
            if o.top not in o.case.expect:
                pairs[(o.case.expect[0], o.top)] += 1
        return [(a, b, n) for (a, b), n in pairs.most_common()]

    def crisis_figures(self) -> dict[str, float]:
        should = [o for o in self.outcomes if o.case.crisis == "true"]
        should_not = [o for o in self.outcomes if o.case.crisis == "absent"]
        recall = sum(o.crisis for o in should) / len(should) if should else 1.0
        false_alarms = sum(o.crisis for o in should_not) / len(should_not) if should_not else 0.0
        return {"recall": round(recall, 3), "cases": len(should), "false_alarm_rate": round(false_alarms, 3),
                "non_crisis_cases": len(should_not)}

    def layer_figures(self) -> dict[str, dict[str, float]]:
        """Each layer alone (when the report was run with layers): top-1, crisis recall, false alarms.
        "surface" alone is the character n-gram classifier, "e5 nearest" the nearest-neighbour search."""
        names = sorted({n for o in self.outcomes for n in o.views})
        out = {}
        for name in names:
            seen = [o for o in self.outcomes if name in o.views]
            should = [o for o in seen if o.case.crisis == "true"]
            should_not = [o for o in seen if o.case.crisis == "absent"]
            out[name] = {
                "top1": round(sum(o.views[name][0] in o.case.expect for o in seen) / len(seen), 3),
                "crisis_recall": round(sum(o.views[name][1] for o in should) / len(should), 3) if should else 1.0,
                "false_alarm_rate": round(sum(o.views[name][1] for o in should_not) / len(should_not), 3)
                if should_not else 0.0,
            }
        return out

    def decided(self) -> dict[str, int]:
        return dict(Counter(o.decided_by.split(":")[0] for o in self.outcomes).most_common())

    def top1(self) -> float:
        return round(sum(o.top in o.case.expect for o in self.outcomes) / len(self.outcomes), 3) if self.outcomes else 0.0

    def as_dict(self) -> dict:
        return {
            "passed": self.passed,
            "failed": self.failed,
            "top1_accuracy": self.top1(),
            "crisis": self.crisis_figures(),
            "per_intent": self.per_intent(),
            "confusions": [{"expected": a, "got": b, "count": n} for a, b, n in self.confusions()],
            "layers": self.layer_figures(),
            "decided_by": self.decided(),
            "failures": [
                {"text": o.case.text, "source": o.case.source, "expect": o.case.expect, "got": o.top,
                 "ranked": o.ranked, "problems": o.problems, "why": o.why}
                for o in self.outcomes if not o.passed
            ],
        }

    def text(self) -> str:
        lines = ["Intent report", f"{'intent':<22}{'precision':>10}{'recall':>8}{'f1':>7}{'support':>9}"]
        for intent, m in self.per_intent().items():
            lines.append(f"{intent:<22}{m['precision']:>10.2f}{m['recall']:>8.2f}{m['f1']:>7.2f}{m['support']:>9}")
        lines.append(f"top-1 accuracy: {self.top1():.3f}")
        c = self.crisis_figures()
        lines.append(f"crisis recall: {c['recall']:.3f} ({c['cases']} cases); "
                     f"false alarms: {c['false_alarm_rate']:.3f} ({c['non_crisis_cases']} cases)")
        conf = self.confusions()
        if conf:
            lines.append("Confusions (expected -> got):")
            lines += [f"  {a} -> {b}: {n}" for a, b, n in conf]
        fails = [o for o in self.outcomes if not o.passed]
        if fails:
            lines.append("Failures:")
            for o in fails:
                lines.append(f"- {o.case.text!r}: {'; '.join(o.problems)}")
                lines += [f"    {w}" for w in o.why]
        layers = self.layer_figures()
        if layers:
            lines.append("Each layer alone (surface = the char n-gram peer, e5 nearest = the e5 peer):")
            lines.append(f"  {'layer':<14}{'top-1':>7}{'crisis recall':>15}{'false alarms':>14}")
            for name, f in layers.items():
                lines.append(f"  {name:<14}{f['top1']:>7.3f}{f['crisis_recall']:>15.3f}{f['false_alarm_rate']:>14.3f}")
            c = self.crisis_figures()
            lines.append(f"  {'all together':<14}{self.top1():>7.3f}{c['recall']:>15.3f}{c['false_alarm_rate']:>14.3f}")
        lines.append("Decided by: " + ", ".join(f"{k} {n}" for k, n in self.decided().items()))
        lines.append(f"{self.passed} passed, {self.failed} failed")
        return "\n".join(lines)


def evaluate(engine: Engine, cases: list[Case], layers: bool = False) -> Report:
    return Report([run_case(engine, c, layers) for c in cases])


def by_intent(report: Report) -> dict[str, list[Outcome]]:
    out: dict[str, list[Outcome]] = defaultdict(list)
    for o in report.outcomes:
        out[o.case.expect[0]].append(o)
    return out


__all__ = ["Case", "Outcome", "Report", "load_cases", "evaluate", "run_case", "asdict"]

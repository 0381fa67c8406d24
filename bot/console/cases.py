"""「ケース」: referral case files run in the browser, saved as named sets, compared run to run.

    YAML text (pasted, uploaded, edited) -> parse() -> evaluate() (the report of `bot test-referrals`)
        -> Run: the report, a confusion matrix, every case's outcome, the catalogue and intents versions
        -> saved set: compare(previous run, this run) -> what changed (newly failing/passing, figures)
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from sqlalchemy import Engine as SQLEngine
from sqlmodel import Session, select

from bot.console.models import CaseRun, CaseSet, utcnow
from bot.engine import Engine
from bot.engine.evaluation import Case, CaseError, evaluate, load_cases

SET_NAME = re.compile(r"^[^\x00-\x1f/\\]{1,80}$")
MAX_CASES = 2000


def parse(text: str, source: str = "貼り付け") -> list[Case]:
    """Cases from YAML text; CaseError says `source:line: what is wrong`."""
    try:
        raw = YAML(typ="rt").load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 0
        raise CaseError(f"{source}:{line}: YAMLとして読めません: {getattr(exc, 'problem', exc)}") from None
    try:
        cases = load_cases(source, text=text)
    except CaseError as exc:
        found = re.search(r"case (\d+)", str(exc))
        if found and isinstance(raw, list) and hasattr(raw, "lc"):
            i = int(found.group(1)) - 1
            line = raw.lc.item(i)[0] + 1 if 0 <= i < len(raw) else 0
            message = str(exc).split(": ", 1)[-1]
            raise CaseError(f"{source}:{line}: {message}") from None
        raise
    if not cases:
        raise CaseError(f"{source}:1: ケースがありません（text と expect のリスト）")
    if len(cases) > MAX_CASES:
        raise CaseError(f"{source}:1: ケースは{MAX_CASES}件までです")
    return cases


def intents_version(engine: Engine) -> str:
    """A short hash of the intent files the engine loaded: a run records what it ran against."""
    h = hashlib.sha256()
    for spec_id in sorted(engine.intents):
        spec = engine.intents[spec_id]
        try:
            h.update(Path(spec.path).read_bytes() if spec.path else repr(spec).encode())
        except OSError:
            h.update(repr(spec).encode())
    return h.hexdigest()[:12]


@dataclass
class Run:
    report: dict[str, Any]  # Report.as_dict()
    outcomes: list[dict[str, Any]]  # every case: text, expect, top, crisis, passed, problems, why
    matrix: dict[str, Any]  # {"labels": [...], "rows": [[counts]]} expected (rows) x got (columns)
    catalogue_version: str
    intents_version: str
    changes: dict[str, Any] | None = None
    previous_at: Any = None

    def as_json(self) -> str:
        return json.dumps({"report": self.report, "outcomes": self.outcomes, "matrix": self.matrix},
                          ensure_ascii=False)


def run(engine: Engine, cases: list[Case]) -> Run:
    report = evaluate(engine, cases)
    outcomes = [
        {"text": o.case.text, "expect": o.case.expect, "crisis_expected": o.case.crisis, "top": o.top,
         "crisis": o.crisis, "passed": o.passed, "problems": o.problems, "why": o.why}
        for o in report.outcomes
    ]
    return Run(report.as_dict(), outcomes, confusion_matrix(outcomes), engine.catalogue.version,
               intents_version(engine))


def confusion_matrix(outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    """Expected need (its first id) by the top intent found, over the needs that take part in a confusion."""
    counts: dict[tuple[str, str], int] = {}
    for o in outcomes:
        expected = o["expect"][0] if o["top"] not in o["expect"] else o["top"]
        counts[(expected, o["top"])] = counts.get((expected, o["top"]), 0) + 1
    involved = sorted({x for (a, b) in counts if a != b for x in (a, b)})
    rows = [[counts.get((a, b), 0) for b in involved] for a in involved]
    return {"labels": involved, "rows": rows}


def compare(previous: dict[str, Any] | None, current: Run) -> dict[str, Any] | None:
    """What changed since the last run of the same set: cases, figures, and the versions behind them."""
    if previous is None:
        return None
    before = {o["text"]: o for o in previous["outcomes"]}
    newly_failing, newly_passing, top_changed = [], [], []
    for o in current.outcomes:
        old = before.get(o["text"])
        if old is None:
            continue
        if old["passed"] and not o["passed"]:
            newly_failing.append({"text": o["text"], "before": old["top"], "after": o["top"], "problems": o["problems"]})
        elif not old["passed"] and o["passed"]:
            newly_passing.append({"text": o["text"], "before": old["top"], "after": o["top"]})
        elif old["top"] != o["top"]:
            top_changed.append({"text": o["text"], "before": old["top"], "after": o["top"]})
    texts = {o["text"] for o in current.outcomes}
    prev_report, cur_report = previous["report"], current.report
    figures = []
    for label, key in (("合格", ("passed",)), ("不合格", ("failed",)), ("top-1 正解率", ("top1_accuracy",)),
                       ("危機の再現率", ("crisis", "recall")), ("誤警報率", ("crisis", "false_alarm_rate"))):
        a, b = _dig(prev_report, key), _dig(cur_report, key)
        figures.append({"label": label, "before": a, "after": b, "changed": a != b})
    return {
        "catalogue_changed": previous.get("catalogue_version") != current.catalogue_version,
        "intents_changed": previous.get("intents_version") != current.intents_version,
        "newly_failing": newly_failing,
        "newly_passing": newly_passing,
        "top_changed": top_changed,
        "added": sorted(texts - set(before)),
        "removed": sorted(set(before) - texts),
        "figures": figures,
    }


def _count(text: str) -> int:
    try:
        data = YAML(typ="safe").load(text)
    except YAMLError:
        return 0
    return len(data) if isinstance(data, list) else 0


def _dig(d: dict[str, Any], key: tuple[str, ...]) -> Any:
    for k in key:
        d = d.get(k, {}) if isinstance(d, dict) else {}
    return d if d != {} else None


# Saved sets ---------------------------------------------------------------------------------


@dataclass
class SetSummary:
    name: str
    cases: int
    updated_by: str
    updated_at: Any
    last_run: Any = None
    passed: int | None = None
    failed: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Sets:
    def __init__(self, db: SQLEngine) -> None:
        self.db = db

    def list(self) -> list[SetSummary]:
        with Session(self.db) as s:
            out = []
            for row in s.exec(select(CaseSet).order_by(CaseSet.name)):
                last = s.exec(select(CaseRun).where(CaseRun.set_name == row.name)
                              .order_by(CaseRun.id.desc()).limit(1)).first()  # type: ignore[union-attr]
                count = _count(row.text)
                out.append(SetSummary(row.name, count, row.updated_by, row.updated_at,
                                      last.at if last else None, last.passed if last else None,
                                      last.failed if last else None))
            return out

    def get(self, name: str) -> CaseSet | None:
        with Session(self.db) as s:
            return s.get(CaseSet, name)

    def save(self, name: str, text: str, by: str) -> None:
        if not SET_NAME.match(name) or not name.strip():
            raise CaseError("セット名は1〜80文字（/ や改行は使えません）")
        with Session(self.db) as s:
            row = s.get(CaseSet, name) or CaseSet(name=name, text=text, updated_by=by)
            row.text, row.updated_by, row.updated_at = text, by, utcnow()
            s.add(row)
            s.commit()

    def delete(self, name: str) -> None:
        with Session(self.db) as s:
            row = s.get(CaseSet, name)
            if row is not None:
                s.delete(row)
            for r in s.exec(select(CaseRun).where(CaseRun.set_name == name)):
                s.delete(r)
            s.commit()

    def last_run(self, name: str) -> dict[str, Any] | None:
        with Session(self.db) as s:
            row = s.exec(select(CaseRun).where(CaseRun.set_name == name)
                         .order_by(CaseRun.id.desc()).limit(1)).first()  # type: ignore[union-attr]
            if row is None:
                return None
            data = json.loads(row.report)
            data.update(catalogue_version=row.catalogue_version, intents_version=row.intents_version, at=row.at)
            return data

    def runs(self, name: str, limit: int = 10) -> list[CaseRun]:
        with Session(self.db) as s:
            return list(s.exec(select(CaseRun).where(CaseRun.set_name == name)
                               .order_by(CaseRun.id.desc()).limit(limit)))  # type: ignore[union-attr]

    def record(self, name: str, result: Run, by: str) -> None:
        """Store a run, after comparing it with the previous one (result.changes)."""
        previous = self.last_run(name)
        result.changes = compare(previous, result)
        result.previous_at = previous["at"] if previous else None
        with Session(self.db) as s:
            s.add(CaseRun(set_name=name, by=by, catalogue_version=result.catalogue_version,
                          intents_version=result.intents_version, passed=result.report["passed"],
                          failed=result.report["failed"], report=result.as_json()))
            s.commit()

"""The project's own referral case files: crisis never missed, needs mostly right."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.engine.evaluation import evaluate, load_cases
from tests.support import ROOT, SHARED, engine

FILES = sorted((ROOT / "tests" / "referrals").glob("*.yaml"))
if (SHARED / "referrals" / "dev.yaml").exists():
    FILES.append(SHARED / "referrals" / "dev.yaml")


@pytest.mark.parametrize("path", FILES, ids=lambda p: Path(p).name)
def test_no_crisis_is_missed(path):
    report = evaluate(engine(), load_cases(path))
    missed = [o.case.text for o in report.outcomes if o.case.crisis == "true" and not o.crisis]
    assert missed == []
    assert report.crisis_figures()["recall"] == 1.0


@pytest.mark.parametrize("path", FILES, ids=lambda p: Path(p).name)
def test_the_need_behind_most_messages_is_found(path):
    report = evaluate(engine(), load_cases(path))
    # fresh.yaml was written without sight of the phrase lists and measures how the matcher
    # generalises (0.865 when written down); the bar guards against a fall, not a target.
    assert report.top1() >= 0.85, report.text()[-4000:]

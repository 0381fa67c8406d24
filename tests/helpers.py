"""Shared by the engine tests: one engine per session, fixed times, the shared data folder."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path

from bot.engine import Engine
from bot.engine.catalogue.hours import TOKYO

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@lru_cache(maxsize=1)
def engine() -> Engine:
    return Engine.load()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TOKYO)


# A Wednesday afternoon, not a holiday: most offices are open.
WEDNESDAY_NOON = at("2026-12-02T12:00")
# A Tuesday at 3 a.m.: only 24-hour lines answer.
TUESDAY_3AM = at("2026-12-01T03:00")

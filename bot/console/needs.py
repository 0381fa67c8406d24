"""「ニーズ」: anonymous figures from the referral log, with small counts hidden.

    referral_log (time, channel, intent ids, area code, crisis: no text, no id)
        -> counts by need per week, by area, by hour of day (Asia/Tokyo), crisis per week
        -> every cell of 1-4 shown as "<5" (tables, charts, CSV); areas under 5 pooled into one row
        -> bar geometry for the SVG charts (no script, no network)

A referral is counted once under each need it names (up to the three the log
keeps), so the need rows do not add up to a total that would give a hidden
cell away by subtraction; no per-week totals are shown for the same reason.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine as SQLEngine
from sqlalchemy.exc import SQLAlchemyError

from bot.engine import Engine
from bot.engine.catalogue.hours import TOKYO

MIN_CELL = 5  # counts from 1 to MIN_CELL-1 are hidden
HIDDEN = "<5"
WEEKS = (4, 12, 26, 52)
MAX_NEED_CHARTS = 8
MAX_AREAS = 15


def shown(n: int) -> int | str:
    """A count as it may be shown: 0 and 5 or more as they are, 1-4 as "<5"."""
    return HIDDEN if 0 < n < MIN_CELL else n


@dataclass
class Figures:
    weeks: list[date]  # Mondays, oldest first
    needs: list[tuple[str, str, list[int]]]  # (intent id, label, count per week), most referred first
    areas: list[tuple[str, str, int]]  # (code, name, count), most first; small ones pooled as ("", その他, n)
    hours: list[int]  # 24 counts, hour of day in Asia/Tokyo
    crisis: list[int]  # per week
    rows: int = 0
    available: bool = True
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return self.rows == 0


def monday(d: date) -> date:
    return d - timedelta(days=d.weekday())


def figures(db: SQLEngine, engine: Engine, weeks: int = 12, now: datetime | None = None) -> Figures:
    now = (now or datetime.now(TOKYO)).astimezone(TOKYO)
    first = monday(now.date()) - timedelta(weeks=weeks - 1)
    mondays = [first + timedelta(weeks=i) for i in range(weeks)]
    try:
        rows = _read(db, datetime.combine(first, datetime.min.time(), tzinfo=TOKYO))
    except (SQLAlchemyError, ImportError) as exc:
        return Figures(mondays, [], [], [0] * 24, [0] * weeks, 0, False,
                       f"紹介ログを読めません（bot db upgrade は済んでいますか）: {type(exc).__name__}")
    index = {m: i for i, m in enumerate(mondays)}
    per_need: dict[str, list[int]] = {}
    by_area: Counter[str] = Counter()
    hours = [0] * 24
    crisis = [0] * weeks
    specs = engine.intents
    counted = 0
    for at, intents, area, is_crisis in rows:
        at = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(TOKYO)
        week = index.get(monday(at.date()))
        if week is None:
            continue
        counted += 1
        hours[at.hour] += 1
        if is_crisis:
            crisis[week] += 1
        by_area[area or ""] += 1
        for intent in dict.fromkeys(i for i in (intents or "").split(",") if i):
            spec = specs.get(intent)
            if spec is not None and spec.tier == "meta":
                continue
            per_need.setdefault(intent, [0] * weeks)[week] += 1
    needs = sorted(((i, specs[i].ja if i in specs else i, c) for i, c in per_need.items()),
                   key=lambda x: (-sum(x[2]), x[0]))
    areas, pooled = [], 0
    for code, n in by_area.most_common():
        if n < MIN_CELL or not code or len(areas) >= MAX_AREAS:
            pooled += n
        else:
            areas.append((code, _area_name(engine, code), n))
    if pooled:
        areas.append(("", "その他・地域不明（5件未満の地域などを合算）", pooled))
    return Figures(mondays, needs, areas, hours, crisis, counted)


def _read(db: SQLEngine, since: datetime) -> list[tuple[datetime, str, str | None, bool]]:
    from sqlmodel import Session, select

    from bot.service.store import ReferralLog

    with Session(db) as s:
        query = select(ReferralLog.at, ReferralLog.intents, ReferralLog.area, ReferralLog.crisis).where(
            ReferralLog.at >= since.astimezone(UTC))
        return [tuple(r) for r in s.exec(query)]  # type: ignore[misc]


def _area_name(engine: Engine, code: str) -> str:
    place = engine.areas.get(code)
    return place.name if place else code


# Tables and CSV ------------------------------------------------------------------------------

TABLES = ("needs", "areas", "hours", "crisis")


def table(fig: Figures, name: str) -> tuple[list[str], list[list[Any]]]:
    """(header, rows) of one figure, small cells already hidden."""
    weeks = [f"{m:%Y-%m-%d}" for m in fig.weeks]
    if name == "needs":
        return ["ニーズ", "id", *weeks], [[label, i, *(shown(n) for n in counts)] for i, label, counts in fig.needs]
    if name == "areas":
        return ["地域", "コード", "件数"], [[n, code, shown(c)] for code, n, c in fig.areas]
    if name == "hours":
        return ["時", "件数"], [[f"{h:02d}時", shown(c)] for h, c in enumerate(fig.hours)]
    if name == "crisis":
        return ["週（月曜から）", "危機対応の件数"], [[w, shown(c)] for w, c in zip(weeks, fig.crisis, strict=True)]
    raise KeyError(name)


def csv_text(fig: Figures, name: str) -> str:
    header, rows = table(fig, name)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return "\ufeff" + buf.getvalue()  # a BOM so that Excel reads UTF-8


# Chart geometry (drawn by templates/needs.html as SVG) ---------------------------------------


@dataclass
class Bar:
    x: float
    y: float
    w: float
    h: float
    label: str
    value: int | str
    hidden: bool


def columns(values: list[int], labels: list[str], width: float = 600, height: float = 160,
            top: float = 18, bottom: float = 22) -> dict[str, Any]:
    """Vertical bars; a hidden cell is a short hatched stub marked "<5", never its true height."""
    peak = max([v for v in values if v >= MIN_CELL] + [MIN_CELL])
    n = max(len(values), 1)
    slot = width / n
    plot = height - top - bottom
    bars = []
    for i, (v, label) in enumerate(zip(values, labels, strict=True)):
        hidden = 0 < v < MIN_CELL
        h = plot * 0.12 if hidden else plot * v / peak
        bars.append(Bar(i * slot + slot * 0.15, top + plot - h, slot * 0.7, h, label, shown(v), hidden))
    return {"bars": bars, "width": width, "height": height, "base": top + plot, "peak": peak, "slot": slot}


def rows_chart(items: list[tuple[str, int]], width: float = 600, row: float = 26, label_w: float = 190
               ) -> dict[str, Any]:
    """Horizontal bars, one per labelled row."""
    peak = max([v for _, v in items if v >= MIN_CELL] + [MIN_CELL])
    plot = width - label_w - 50
    bars = []
    for i, (label, v) in enumerate(items):
        hidden = 0 < v < MIN_CELL
        w = plot * 0.05 if hidden else plot * v / peak
        bars.append(Bar(label_w, i * row + 4, w, row - 8, label, shown(v), hidden))
    return {"bars": bars, "width": width, "height": max(len(items), 1) * row + 4, "label_w": label_w}

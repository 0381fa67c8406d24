"""Opening hours: when a service answers, in Asia/Tokyo.

The catalogue's `hours` field is structured so that "open now" and "next
opening" can be computed; `hours_text` keeps the source's own words.

    hours: {always: true}                                   # 24 h, 365 d
    hours:
      weekly:                                               # slots per weekday
        - {days: [mon, tue, wed, thu, fri], open: "09:00", close: "17:00"}
        - {days: [sat], open: "22:00", close: "06:00"}      # close <= open: 翌 (next day)
      monthly:                                              # a day of every month
        - {day: 10, open: "08:00", close: "08:00"}          # equal: 24 h from open
      nth_weekday:                                          # 毎月第2土曜 10:00-12:00
        - {nth: 2, weekday: sat, open: "10:00", close: "12:00"}
      holidays:                                             # on a public holiday, these slots
        - {open: "09:00", close: "18:00"}                   #   instead of the weekday's (土日祝 9-18)
      closed: [holidays, new_year, "08-13..08-15"]          # 祝日, 12/29-1/3, ranges
    hours: {varies: true}                                   # varies by prefecture: never open-now

A missing `hours` means unknown: never shown as open.  A slot belongs to the
day it starts on, so a holiday closes the night slot that starts on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import jpholiday

TOKYO = ZoneInfo("Asia/Tokyo")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"^([01]?\d|2[0-4]):([0-5]\d)$")
_RANGE = re.compile(r"^(\d{2})-(\d{2})\.\.(\d{2})-(\d{2})$")
NEW_YEAR = "new_year"
HOLIDAYS = "holidays"


class HoursError(ValueError):
    """Hours that cannot be read; the message says what is wrong."""


@dataclass(frozen=True)
class Slot:
    start: int  # minutes after midnight of the day it starts on
    end: int  # minutes after that midnight; may pass 24:00 (翌)


@dataclass(frozen=True)
class Hours:
    always: bool = False
    varies: bool = False
    weekly: tuple[tuple[int, Slot], ...] = ()  # (weekday 0=Mon, slot)
    monthly: tuple[tuple[int, Slot], ...] = ()  # (day of month, slot)
    nth_weekday: tuple[tuple[int, int, Slot], ...] = ()  # (nth 1-5 or -1 last, weekday, slot)
    closed_holidays: bool = False
    holiday_slots: tuple[Slot, ...] = ()  # a public holiday's own hours, in place of its weekday's
    closed_ranges: tuple[tuple[tuple[int, int], tuple[int, int]], ...] = ()
    unknown: bool = False
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def known(self) -> bool:
        return not (self.unknown or self.varies)

    def is_open(self, now: datetime) -> bool | None:
        """True/False when the hours say; None when they cannot (unknown, varies)."""
        if not self.known:
            return None
        if self.always:
            return True
        now = _tokyo(now)
        minute = now.hour * 60 + now.minute
        # A slot that started yesterday may still be running after midnight.
        for back in (0, 1):
            day = now.date() - timedelta(days=back)
            offset = minute + back * 1440
            for slot in self._slots_on(day):
                if slot.start <= offset < slot.end:
                    return True
        return False

    def next_open(self, now: datetime, horizon_days: int = 70) -> datetime | None:
        """The next time it opens after `now` (now itself when open); None if unknown or never."""
        if not self.known:
            return None
        now = _tokyo(now)
        if self.always or self.is_open(now):
            return now
        minute = now.hour * 60 + now.minute
        for ahead in range(horizon_days):
            day = now.date() + timedelta(days=ahead)
            starts = sorted(s.start for s in self._slots_on(day) if ahead or s.start > minute)
            if starts:
                midnight = datetime.combine(day, time(0), tzinfo=TOKYO)
                return midnight + timedelta(minutes=starts[0])
        return None

    def _slots_on(self, day: date) -> list[Slot]:
        if self._closed(day):
            return []
        if self.holiday_slots and jpholiday.is_holiday(day):
            return list(self.holiday_slots)
        wd = day.weekday()
        slots = [s for d, s in self.weekly if d == wd]
        slots += [s for d, s in self.monthly if d == day.day]
        for nth, weekday, slot in self.nth_weekday:
            if weekday == wd and (nth == _nth_of_month(day) or (nth == -1 and _is_last(day))):
                slots.append(slot)
        return slots

    def _closed(self, day: date) -> bool:
        if self.closed_holidays and jpholiday.is_holiday(day):
            return True
        md = (day.month, day.day)
        for start, end in self.closed_ranges:
            if (start <= md <= end) if start <= end else (md >= start or md <= end):
                return True
        return False


def _tokyo(now: datetime) -> datetime:
    if now.tzinfo is None:
        return now.replace(tzinfo=TOKYO)
    return now.astimezone(TOKYO)


def _nth_of_month(day: date) -> int:
    return (day.day - 1) // 7 + 1


def _is_last(day: date) -> bool:
    """nth -1 stands for 'last': no same weekday follows in this month."""
    return (day + timedelta(days=7)).month != day.month


def _minutes(value: object, where: str) -> int:
    m = _TIME.match(str(value).strip())
    if not m:
        raise HoursError(f"{where}: time {value!r} is not HH:MM")
    total = int(m.group(1)) * 60 + int(m.group(2))
    if total > 1440:
        raise HoursError(f"{where}: time {value!r} is past 24:00")
    return total


def _slot(raw: dict, where: str) -> Slot:
    if not isinstance(raw, dict) or "open" not in raw or "close" not in raw:
        raise HoursError(f"{where}: a slot needs open and close")
    start, end = _minutes(raw["open"], where), _minutes(raw["close"], where)
    if start >= 1440:
        raise HoursError(f"{where}: a slot cannot open at 24:00")
    if end <= start:
        end += 1440  # 翌: closes the next day; equal means a full 24 h
    return Slot(start, end)


def _weekday(name: object, where: str) -> int:
    key = str(name).strip().lower()[:3]
    if key not in DAYS:
        raise HoursError(f"{where}: unknown weekday {name!r} (use mon..sun)")
    return DAYS.index(key)


_KEYS = {"always", "varies", "weekly", "monthly", "nth_weekday", "holidays", "closed"}


def parse_hours(raw: object) -> Hours:
    """Read the catalogue's `hours` value; raise HoursError saying what is wrong."""
    if raw is None:
        return Hours(unknown=True)
    if not isinstance(raw, dict):
        raise HoursError(f"hours must be a mapping, not {type(raw).__name__}")
    unknown_keys = set(raw) - _KEYS
    if unknown_keys:
        raise HoursError(f"hours: unknown key(s) {', '.join(sorted(map(str, unknown_keys)))}")
    if raw.get("always"):
        return Hours(always=True)
    if raw.get("varies"):
        return Hours(varies=True)
    weekly: list[tuple[int, Slot]] = []
    for i, item in enumerate(raw.get("weekly") or []):
        where = f"hours.weekly[{i}]"
        days = item.get("days") if isinstance(item, dict) else None
        if not days:
            raise HoursError(f"{where}: needs days")
        slot = _slot(item, where)
        weekly += [(_weekday(d, where), slot) for d in days]
    monthly: list[tuple[int, Slot]] = []
    for i, item in enumerate(raw.get("monthly") or []):
        where = f"hours.monthly[{i}]"
        day = item.get("day") if isinstance(item, dict) else None
        if not isinstance(day, int) or not 1 <= day <= 31:
            raise HoursError(f"{where}: day must be 1..31")
        monthly.append((day, _slot(item, where)))
    nth_weekday: list[tuple[int, int, Slot]] = []
    for i, item in enumerate(raw.get("nth_weekday") or []):
        where = f"hours.nth_weekday[{i}]"
        nth = item.get("nth") if isinstance(item, dict) else None
        if nth not in (1, 2, 3, 4, 5, -1):
            raise HoursError(f"{where}: nth must be 1..5 or -1 (last)")
        nth_weekday.append((nth, _weekday(item.get("weekday"), where), _slot(item, where)))
    holiday_slots = tuple(_slot(item, f"hours.holidays[{i}]") for i, item in enumerate(raw.get("holidays") or []))
    closed_holidays = False
    ranges: list[tuple[tuple[int, int], tuple[int, int]]] = []
    for item in raw.get("closed") or []:
        if item == HOLIDAYS:
            closed_holidays = True
        elif item == NEW_YEAR:
            ranges.append(((12, 29), (1, 3)))
        else:
            m = _RANGE.match(str(item))
            if not m:
                raise HoursError(f"hours.closed: {item!r} is not holidays, new_year or MM-DD..MM-DD")
            a, b, c, d = (int(g) for g in m.groups())
            try:
                date(2024, a, b), date(2024, c, d)
            except ValueError as exc:
                raise HoursError(f"hours.closed: {item!r}: {exc}") from None
            ranges.append(((a, b), (c, d)))
    if not (weekly or monthly or nth_weekday or holiday_slots):
        raise HoursError("hours: give always, varies, or at least one weekly/monthly/nth_weekday slot")
    if holiday_slots and closed_holidays:
        raise HoursError("hours: holidays has slots and closed lists holidays: which is it?")
    return Hours(
        weekly=tuple(weekly),
        monthly=tuple(monthly),
        nth_weekday=tuple(nth_weekday),
        closed_holidays=closed_holidays,
        holiday_slots=holiday_slots,
        closed_ranges=tuple(ranges),
    )


_COMPACT_SLOT = re.compile(r"(\d{1,2}:\d{2})\s*[-~〜～]\s*(?:翌)?(\d{1,2}:\d{2})")
_JA_DAYS = {"月": "mon", "火": "tue", "水": "wed", "木": "thu", "金": "fri", "土": "sat", "日": "sun"}


def _compact_days(text: str) -> list[str]:
    """'mon-fri', 'sat,sun', '月〜金', '土日' -> weekday keys."""
    text = text.strip().lower()
    for ja, en in _JA_DAYS.items():
        text = text.replace(ja + "曜日", en).replace(ja + "曜", en).replace(ja, en)
    text = text.replace("〜", "-").replace("～", "-").replace("・", ",").replace("、", ",")
    days: list[str] = []
    for part in re.split(r"[,\s]+", text):
        if not part:
            continue
        if "-" in part:
            a, b = part.split("-", 1)
            ia, ib = DAYS.index(a[:3]), DAYS.index(b[:3])
            days += [DAYS[(ia + k) % 7] for k in range((ib - ia) % 7 + 1)]
        elif re.fullmatch(r"(mon|tue|wed|thu|fri|sat|sun)+", part):
            days += re.findall(r"mon|tue|wed|thu|fri|sat|sun", part)
        else:
            raise HoursError(f"unknown weekday {part!r}")
    return days


def parse_compact(text: str) -> dict | None:
    """The one-line hours operators write in a CSV cell, as the catalogue's `hours` mapping.

    '24h' | 'varies' | 'mon-fri 09:00-17:00; sat 10:00-12:00; closed holidays, new_year'
    | 'mon-fri 09:00-20:00; 土日祝 09:00-17:00' (a holiday keeps the hours named with 祝)
    | '毎月第2土曜 10:00-12:00' | '2nd sat 10:00-12:00' | 'last sun 13:00-15:00' | 'day 10 08:00-08:00'
    Empty means unknown (None).  Raises HoursError on anything else.
    """
    text = (text or "").strip()
    if not text:
        return None
    if text.lower() in ("24h", "24時間", "24時間365日", "always"):
        return {"always": True}
    if text.lower() in ("varies", "自治体により異なる"):
        return {"varies": True}
    out: dict = {}
    for part in re.split(r"[;；]", text):
        part = part.strip()
        if not part:
            continue
        low = part.lower()
        if low.startswith(("closed", "休み", "休:")):
            items = re.split(r"[,\s、]+", re.sub(r"^(closed:?|休み:?|休:)", "", low).strip())
            mapped = {"祝日": HOLIDAYS, "年末年始": NEW_YEAR}
            out.setdefault("closed", []).extend(mapped.get(i, i) for i in items if i)
            continue
        slot = _COMPACT_SLOT.search(part)
        if not slot:
            raise HoursError(f"{part!r}: no HH:MM-HH:MM time")
        times = {"open": slot.group(1).zfill(5), "close": slot.group(2).zfill(5)}
        head = part[: slot.start()].strip()
        nth = re.fullmatch(r"(?:毎月)?第([1-5１-５])\s*(.)曜?日?", head) or re.fullmatch(
            r"([1-5])(?:st|nd|rd|th)\s+(\w+)", head.lower())
        last = re.fullmatch(r"(?:毎月)?最終\s*(.)曜?日?", head) or re.fullmatch(r"last\s+(\w+)", head.lower())
        day = re.fullmatch(r"(?:毎月)?(\d{1,2})日", head) or re.fullmatch(r"day\s+(\d{1,2})", head.lower())
        if nth:
            out.setdefault("nth_weekday", []).append(
                {"nth": int(nth.group(1).translate(str.maketrans("１２３４５", "12345"))),
                 "weekday": _compact_days(nth.group(2))[0], **times})
        elif last:
            out.setdefault("nth_weekday", []).append({"nth": -1, "weekday": _compact_days(last.group(1))[0], **times})
        elif day:
            out.setdefault("monthly", []).append({"day": int(day.group(1)), **times})
        else:
            # 土日祝 / sat,sun,holidays: the holiday's own slot besides the weekdays named
            hol = re.search(r"祝休日|祝日|祝|holidays?", head)
            if hol:
                out.setdefault("holidays", []).append(dict(times))
                head = (head[: hol.start()] + head[hol.end():]).strip(" ・、,")
                if not head:
                    continue
            days = _compact_days(head) if head and head not in ("毎日", "daily") else list(DAYS)
            out.setdefault("weekly", []).append({"days": days, **times})
    parse_hours(out)  # validate
    return out

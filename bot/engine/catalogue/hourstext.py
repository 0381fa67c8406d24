"""The source's own words about opening hours (`hours_text`), read for what they say.

    read(text)                       -> Reading: slots by day, holidays, closures, 24 hours, lunch
    structured(text)                 -> the catalogue's `hours` mapping when the words leave no doubt, else None
    contradictions(hours, text, ...) -> what the structured hours say against the words

The words are Japanese as sources print them: 「月曜日～金曜日 9:00～17:00（休: 祝日・年末年始）」,
「平日 午前9時〜午後5時」, 「土・日・祝 10:00〜18:00」, 「24時間365日」.  A text may speak of
several lines (「DV被害者ホットラインは土・日・祝…」「SNS相談 水 17:00〜22:00」): a sentence
that names another number, another kind of contact (来所, 面接, メール, チャット, SNS…) or a
line the entry's name does not name is not about the entry, and is left out of both uses.

`structured` is strict: every sentence with a day or a time must be read to the last
character (a few filler words aside), or it gives None and the bot says
「受付時間は公式サイトでご確認ください」.  `contradictions` is lenient: it reads what it can
and reports only what the words say outright (open on holidays, closed at weekends, 24 hours,
a lunch break, closed at New Year or in summer) against what the structured hours do.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import jpholiday

from bot.engine.catalogue.hours import TOKYO, Hours

WEEK = "月火水木金土日"
ALL_DAYS = frozenset(range(7))
WEEKDAYS = frozenset(range(5))
NEW_YEAR = ((12, 29), (1, 3))

# -- times ----------------------------------------------------------------------------------------

_CLOCK = r"(?:(午前|午後)\s*)?(\d{1,2})(?::(\d{2})|時(?:(\d{1,2})分|(半))?)"
_NOON = r"正午"
_TIME = rf"(?:{_CLOCK}|{_NOON})"
# 9:00~17:00 / 午前9時から午後5時まで / 8時45分~20時 / 11~17時 / 午後1~4時 / 10:00-翌6:00
_RANGE = re.compile(
    rf"(?:(?P<a>{_TIME})|(?P<bare>(?:(?:午前|午後)\s*)?\d{{1,2}}))\s*(?:~|-|–|から)\s*(?P<next>翌\s*)?(?P<b>{_TIME})(?:まで)?"
)
_ONE_TIME = re.compile(_TIME)
_OPEN_END = re.compile(rf"(?:~|から)\s*{_TIME}")  # 「土曜 〜16:00」: a slot with no opening time

# -- days -----------------------------------------------------------------------------------------

_DAY = r"[月火水木金土日](?:曜日|曜)?"
_HOL = r"(?:祝日|祝休日|祝祭日|休日|祝)"
_DAY_ITEM = rf"(?:{_DAY}\s*(?:~|-|から)\s*{_DAY}|{_DAY}|{_HOL}|平日|毎日|土日祝日?|土日)"
_DAYS = re.compile(rf"(?:毎週\s*)?{_DAY_ITEM}(?:\s*[・、,及び]\s*{_DAY_ITEM}|{_DAY_ITEM})*(?:まで)?")
_DATE = r"(\d{1,2})\s*(?:月|/)\s*(\d{1,2})\s*日?"
_DATE_RANGE = re.compile(rf"{_DATE}\s*(?:~|-|から)\s*(?:(\d{{1,2}})\s*(?:月|/)\s*)?(\d{{1,2}})\s*日?")
_ONE_DATE = re.compile(_DATE)

# Words that say a sentence is about another contact than the entry's phone line.
_ELSEWHERE = ("来所", "来館", "面接", "面談", "メール", "チャット", "SNS", "LINE", "医療", "コールセンター", "転送",
              "通告", "緊急", "FAX", "ファクス", "予約受付", "オンライン", "訪問", "窓口")
_CLOSED_WORDS = re.compile(r"休館|休所|休み|休日?(?=[)）]|$|、|。)|を?除く|は?閉(?:所|庁|館)|以外|休\s*:|休:|お休み|閉まって")
_PHONE = re.compile(r"(?<!\d)0\d{1,4}[-(（]\d{1,4}[-)）]\d{3,4}(?!\d)|#\d{4}")
_NOTE = re.compile(r"(?:\d{4}年|\d{4}-\d{2}|平成|令和|記事|記載|時点|開設時|開所時|報道|ブログ|議員|回答|答弁|予定|頃|コピー|抜粋)")
_FILLER = re.compile(
    r"電話相談|相談電話|電話|相談時間|受付時間|受付|相談|時間|開館|開所|のみ|です|ます|は|で|の|に|を|も|:|・|、|,|\s"
)


@dataclass
class Reading:
    """What a text says about one line's hours."""

    slots: list[tuple[frozenset[int], int, int]] = field(default_factory=list)  # (weekdays, start, end) minutes
    holiday_slots: list[tuple[int, int]] = field(default_factory=list)
    holidays_open: bool = False  # 祝日 named among open days, 毎日, 365日, 年中無休
    holidays_closed: bool = False
    closed_days: set[int] = field(default_factory=set)
    new_year_closed: bool = False
    new_year_open: bool = False  # 年末年始 named among open days, 年中無休, 365日
    closed_ranges: list[tuple[tuple[int, int], tuple[int, int]]] = field(default_factory=list)
    always: bool = False
    lunch: bool = False  # closed around noon: 12:00~13:00を除く, 昼休み, or slots 9-12 and 13-17
    lunch_gaps: list[tuple[frozenset[int], int, int]] = field(default_factory=list)  # (weekdays, from, to)
    weekdays_only: bool = False  # 平日: Monday to Friday, holidays not among them
    unread: list[str] = field(default_factory=list)  # what could not be read (strict reading fails)
    elsewhere: list[str] = field(default_factory=list)  # sentences about another contact, left out

    @property
    def open_days(self) -> set[int]:
        return {d for days, _, _ in self.slots for d in days}


def normalise(text: str) -> str:
    t = unicodedata.normalize("NFKC", text or "")
    t = t.replace("〜", "~").replace("～", "~").replace("∼", "~").replace("〰", "~")
    t = t.replace("（", "(").replace("）", ")").replace("：", ":")
    return t


def _minutes(m: re.Match, offset: int = 0) -> int | None:
    """Minutes after midnight of a _TIME match (groups from `offset`)."""
    text = m.group(0)
    if text.strip() == "正午":
        return 12 * 60
    ampm, h, mm, mm2, half = (m.group(offset + i) for i in range(1, 6))
    hour = int(h)
    minute = int(mm or mm2 or 0) + (30 if half else 0)
    if ampm == "午後" and hour < 12:
        hour += 12
    if hour > 24 or minute > 59:
        return None
    return hour * 60 + minute


def _time_of(text: str, ampm_hint: str | None = None) -> int | None:
    m = _ONE_TIME.fullmatch(text.strip())
    if m:
        value = _minutes(m)
        if value is not None and ampm_hint == "午後" and not m.group(1) and value < 12 * 60 and "正午" not in text:
            value += 12 * 60  # 午後1~4時: the second time keeps the first's 午後
        return value
    bare = re.fullmatch(r"(?:(午前|午後)\s*)?(\d{1,2})", text.strip())
    if bare:
        hour = int(bare.group(2)) + (12 if bare.group(1) == "午後" and int(bare.group(2)) < 12 else 0)
        return hour * 60 if hour <= 24 else None
    return None


def _ranges(clause: str) -> list[tuple[int, int, int, int]]:
    """(start, end, span start, span end) of every time range in a clause; end past 24:00 for 翌."""
    out = []
    for m in _RANGE.finditer(clause):
        first = m.group("a") or m.group("bare")
        ampm = re.match(r"(午前|午後)", first.strip())
        second = m.group("b")
        start = _time_of(first)
        end = _time_of(second, ampm.group(1) if ampm and not re.match(r"\s*(午前|午後)", second) else None)
        if start is None or end is None:
            continue
        if m.group("bare") and not re.search(r"時", second):
            continue  # 「2010-2014」 and the like: two bare numbers are not times
        if end <= start or m.group("next"):
            end += 1440
        out.append((start, end, m.start(), m.end()))
    return out


def _days(text: str) -> tuple[set[int], bool, bool, bool]:
    """Weekdays named in a day phrase, and whether it names holidays, 平日, 毎日."""
    days: set[int] = set()
    text = re.sub(r"([月火水木金土日])(?:曜日|曜)", r"\1", text)
    hol = "祝" in text or "休日" in text
    weekdays_word = "平日" in text
    every = "毎日" in text
    if weekdays_word:
        days |= WEEKDAYS
    if every:
        days |= ALL_DAYS
    for a, b in re.findall(r"([月火水木金土日])\s*(?:~|-|から)\s*([月火水木金土日])", text):
        ia, ib = WEEK.index(a), WEEK.index(b)
        days |= {(ia + k) % 7 for k in range((ib - ia) % 7 + 1)}
    stripped = re.sub(r"([月火水木金土日])\s*(?:~|-|から)\s*([月火水木金土日])", "", text)
    stripped = re.sub(r"祝日|祝休日|祝祭日|休日|祝|平日|毎日", "", stripped)
    for ch in re.findall(r"[月火水木金土日]", stripped):
        days.add(WEEK.index(ch))
    return days, hol, weekdays_word, every


_CONDITIONAL = re.compile(r"時は|場合|その直後|翌日|振替|重なる|ことがあ|臨時|台風|メンテナンス")
_CLOSURE_ITEM = re.compile(r"[・、,]|及び|および|(?<=[日祝始])と")


def _closure(text: str, r: Reading) -> bool:
    """Read a list of closures (祝日・年末年始・12/29~1/3・日曜…) into r, item by item; False if an
    item is not understood (that item alone is left out: 「施設メンテナンス日」 closes no Sunday)."""
    if _CONDITIONAL.search(text) and not re.search(r"[・、,]", text):
        return False
    ok = True
    text = re.sub(r"^\s*休\s*:|^\s*休館日\s*:", "", text)
    text = re.sub(r"を?除く|は?休館日?|は?休所日?|は?休み|お休み|は?閉(?:所|庁|館)日?|以外|は閉まっています|です|ます", " ", text)
    text = re.sub(r"(?<=[月火水木金土日祝])休$|(?<=[日祝])休(?=\s|$)", " ", text)
    rest = text
    for m in list(_DATE_RANGE.finditer(rest)):
        m1, d1, m2, d2 = int(m.group(1)), int(m.group(2)), int(m.group(3) or m.group(1)), int(m.group(4))
        if ((m1, d1), (m2, d2)) == NEW_YEAR:
            r.new_year_closed = True
        elif 1 <= m1 <= 12 and 1 <= m2 <= 12 and 1 <= d1 <= 31 and 1 <= d2 <= 31:
            r.closed_ranges.append(((m1, d1), (m2, d2)))
        else:
            ok = False
    rest = _DATE_RANGE.sub("・", rest)
    for m in list(_ONE_DATE.finditer(rest)):
        mo, d = int(m.group(1)), int(m.group(2))
        if 1 <= mo <= 12 and 1 <= d <= 31:
            r.closed_ranges.append(((mo, d), (mo, d)))
        else:
            ok = False
    rest = _ONE_DATE.sub("・", rest)
    for item in _CLOSURE_ITEM.split(rest):
        item = item.strip(" :")
        if not item:
            continue
        if _CONDITIONAL.search(item) or re.search(r"第\s*\d|毎月", item):
            ok = False  # 第4月曜, 施設メンテナンス日, 月曜が祝日と重なる時は…: not a weekly closure
            continue
        if item == "年末年始":
            r.new_year_closed = True
            continue
        if re.fullmatch(r"夏季休業?|お盆", item):
            ok = False  # closed in summer, dates not given
            continue
        plain = re.sub(r"([月火水木金土日])(?:曜日|曜)", r"\1", item)
        if re.fullmatch(rf"(?:[月火水木金土日]|{_HOL}|祝・休日|土日祝日?|土日)+", plain) or re.fullmatch(
                r"[月火水木金土日]\s*(?:~|-|から)\s*[月火水木金土日]", plain):
            days, hol, _, _ = _days(plain)
            r.closed_days |= days
            if hol:
                r.holidays_closed = True
            continue
        ok = False
    return ok


def _split(text: str) -> list[str]:
    """Sentences: 。 ／ / ; and line breaks (a parenthesis is never cut)."""
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        if depth == 0 and ch in "。/／;\n":
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return [c.strip() for c in out if c.strip()]


def _about_elsewhere(clause: str, phones: tuple[str, ...], name: str) -> bool:
    numbers = {re.sub(r"\D", "", p) for p in _PHONE.findall(clause)}
    own = {re.sub(r"\D", "", p) for p in phones if p}
    if numbers and not numbers & own:
        return True
    if numbers & own:
        return False
    first_day = re.search(r"[月火水木金土日](?:曜|~|-|・|、|,|\s|から|祝|[月火水木金土日])|平日|毎日|毎週", clause)
    cut = [m.start() for m in (first_day, re.search(r"\d|午前|午後|正午|\(", clause)) if m]
    label = clause[: min(cut)] if cut else clause
    label = re.sub(r"[:、,・\s]|^(?:電話相談|電話|相談時間|受付時間|受付|相談)(?:は|の)?", "", label)
    outside = re.sub(r"\([^()]*\)", "", clause)  # a note in brackets is about this line
    if any(w in outside for w in _ELSEWHERE) and not any(w in name for w in _ELSEWHERE if w in outside):
        return True
    # A sentence led by the name of a line (「水曜は若者専用電話相談…」「依存症相談…」) that the entry's
    # name does not carry speaks of another line or another audience.
    core = re.sub(r"(?:は|の|では|:|、)+$", "", label)
    core = re.sub(r"^(?:開館時間|開所時間|業務時間|相談日|平日のみ|毎週)$", "", core)
    return bool(core) and core not in name


def _label_of_own_line(clause: str, name: str) -> str:
    """The clause without a leading label the entry's name carries (「こころの電話相談 月・火…」)."""
    m = re.match(r"\s*([^\d(]+?)(?:は|:|\s)+(?=[月火水木金土日平毎\d午])", clause)
    if m and m.group(1).strip() and m.group(1).strip() in name:
        return clause[m.end():]
    return clause


def read(text: str | None, phones: tuple[str, ...] = (), name: str = "") -> Reading:
    """Everything the words say about the entry's line, and what could not be read."""
    r = Reading()
    t = normalise(text or "")
    if not t.strip():
        r.unread.append("no hours in the source")
        return r
    for clause in _split(t):
        if _about_elsewhere(clause, phones, normalise(name)):
            r.elsewhere.append(clause)
            continue
        _clause(_label_of_own_line(clause, normalise(name)), r)
    return r


def _clause(clause: str, r: Reading) -> None:
    unbracketed = re.sub(r"\([^()]*\)", "", clause)
    if re.search(r"24\s*時間|終日", clause) and not re.search(r"24\s*時間|終日", unbracketed):
        if any(_NOTE.search(inner) for inner in re.findall(r"\(([^()]*24\s*時間[^()]*)\)", clause)):
            r.unread.append(clause)  # 24 hours only in a note (「…講演録では24時間体制と記載」)
            return
        clause = clause.replace("(", " ").replace(")", " ")  # 「緊急通報(24時間)」
    if re.search(r"未確認|不明|切れて", clause):
        r.unread.append(clause)
    named = re.match(rf"\s*({_DAYS.pattern})\s*(?:は|:)?\s*24\s*時間", clause)
    if named and "毎日" not in named.group(1):
        days, hol, _, _ = _days(named.group(1))  # 月・木・金曜は24時間: those days round the clock
        r.slots.append((frozenset(days), 0, 1440))
        if hol:
            r.holiday_slots.append((0, 1440))
        if clause[named.end():].strip(" 。、"):
            r.unread.append(clause[named.end():])
        return
    if re.search(r"24\s*時間|365日\s*24時間|終日", clause):
        r.always = True
        if re.search(r"365日|毎日|年中無休", clause):
            r.holidays_open = True
            r.new_year_open = True
        rest = re.sub(r"\(.*?\)", "", clause)
        rest = re.sub(r"24\s*時間|365日|年中無休|毎日|体制|対応|受付|電話相談|電話|相談|[・、,\s]|で|の|を|し|て|いる|います|"
                      r"受け付けて|け付け|付け", "", rest)
        if rest:
            r.unread.append(clause)
        return
    if re.search(r"年中無休|365日", clause):
        r.holidays_open = True
        r.new_year_open = True
    body = clause
    # Parentheses: closures (休: 祝日…, 祝日・年末年始除く), notes (2019年の記事), or a receipt end (受付16:30まで).
    for inner in re.findall(r"\(([^()]*)\)", clause):
        body = body.replace(f"({inner})", " ", 1)
        for part in re.split(r"[、,。]", inner):
            part = part.strip()
            if not part:
                continue
            if _NOTE.search(part) and not _CLOSED_WORDS.search(part):
                continue
            if re.search(r"受付|受け付け", part) and re.search(r"まで", part):
                r.unread.append(part)  # 受付は16:30まで: the last call, not the closing time
                continue
            if re.search(r"昼休み|12:00\s*~\s*13:00|12時\s*~\s*13時", part):
                r.lunch = True
                gap = _ranges(part)
                if gap and 11 * 60 <= gap[0][0] < gap[0][1] <= 14 * 60:
                    r.lunch_gaps.append((ALL_DAYS, gap[0][0], gap[0][1]))
                else:
                    r.unread.append(part)  # a lunch break whose times are not said
                continue
            if _CLOSED_WORDS.search(part) or re.fullmatch(rf"(?:{_HOL}|年末年始|[・\s])+(?:除く)?", part):
                if not _closure(part, r):
                    r.unread.append(part)
                continue
            if _RANGE.search(part) or _DAYS.search(part):
                r.unread.append(part)  # hours inside brackets (水曜日 9:30~19:00): not read
                continue
            if _NOTE.search(part):
                continue
            r.unread.append(part)
    body = re.sub(r"\s*[—–]\s*\d{4}年.*$|\s*[—–]\s*開設時.*$|\s*[—–]\s*開所時.*$", " ", body)
    if re.search(r"昼休み|12:00\s*~\s*13:00を除く|12時\s*~\s*13時を除く", body):
        r.lunch = True
        if re.search(r"12:00\s*~\s*13:00を除く|12時\s*~\s*13時を除く", body):
            r.lunch_gaps.append((ALL_DAYS, 12 * 60, 13 * 60))
        else:
            r.unread.append("昼休み")
        body = re.sub(r"\(?12:00\s*~\s*13:00を除く\)?|\(?12時\s*~\s*13時を除く\)?|昼休み", " ", body)
    ranges = _ranges(body)
    if not ranges:
        if _OPEN_END.search(body) or re.search(r"\d{1,2}[:時]", body):
            r.unread.append(body.strip())
        days, hol, _, _ = _days(body)
        if (days or hol) and _CLOSED_WORDS.search(body):
            if not _closure(body, r):
                r.unread.append(body.strip())
        elif days or hol:
            r.unread.append(body.strip())  # days with no time
        return
    pos = 0
    current: tuple[set[int], bool] | None = None
    spans: list[tuple[frozenset[int], bool, int, int]] = []
    for start, end, a, b in ranges:
        head = body[pos:a]
        pos = b
        closed_here = None
        m_closed = re.search(rf"({_DAYS.pattern})\s*(?:を除く|除く)", head)
        if m_closed:  # 「月~金(第4木曜除く)」 left after the brackets went: 「年末年始を除く毎日」
            closed_here = m_closed.group(0)
            if not _closure(closed_here, r):
                r.unread.append(closed_here)
            head = head.replace(closed_here, " ")
        days, hol, weekdays_word, every = _days(head)
        if days or hol:
            current = (days, hol)
            if weekdays_word:
                r.weekdays_only = True
            if every:
                r.holidays_open = True
        leftover = _FILLER.sub("", _DAYS.sub("", head))
        leftover = re.sub(r"毎週|曜日|曜|まで|および|及び|と|平日のみ|、|\.", "", leftover)
        if leftover:
            r.unread.append(head.strip())
        if current is None:
            spans.append((frozenset(), False, start, end))
        else:
            spans.append((frozenset(current[0]), current[1], start, end))
    tail = body[pos:]
    tail_days, tail_hol, _, tail_every = _days(tail)
    if _CLOSED_WORDS.search(tail):
        m_every = re.search(r"を?除く\s*毎日", tail)
        closure_text = tail[: m_every.start() + len(m_every.group(0)) - 2] if m_every else tail
        if not _closure(re.sub(r"毎日", "", closure_text), r):
            r.unread.append(tail.strip())
        if m_every or "毎日" in tail:
            spans = [(ALL_DAYS, True, s, e) for d, h, s, e in spans] if all(not d for d, _, _, _ in spans) else spans
            r.holidays_open = True
    elif tail_every and all(not d for d, _, _, _ in spans):
        spans = [(ALL_DAYS, True, s, e) for _, _, s, e in spans]
        r.holidays_open = True
    elif tail.strip():
        leftover = _FILLER.sub("", tail)
        leftover = re.sub(r"まで|まで|毎週|予約制|事前|原則|要予約|、|\.", "", leftover)
        if leftover:
            r.unread.append(tail.strip())
        if tail_days or tail_hol:
            r.unread.append(tail.strip())
    # Times with no day: every day but those the closures name, if they name any weekday.
    for days, hol, start, end in spans:
        if not days and not hol:
            if r.closed_days:
                days = frozenset(ALL_DAYS - r.closed_days)
            else:
                r.unread.append("times with no days")
                continue
        weekdays = frozenset(d for d in days)
        if weekdays:
            r.slots.append((weekdays, start, end))
        if hol:
            r.holidays_open = True
            r.holiday_slots.append((start, end))
    if r.holiday_slots and all(days == ALL_DAYS for days, _, _ in r.slots):
        r.holiday_slots = []  # every day's hours are the holiday's too
    by_days: dict[frozenset[int], list[tuple[int, int]]] = {}
    for days, s, e in r.slots:
        by_days.setdefault(days, []).append((s, e))
    for days, ss in by_days.items():
        ss = sorted(ss)
        for (_, e1), (s2, _) in zip(ss, ss[1:], strict=False):
            if 11 * 60 <= e1 < s2 <= 14 * 60:
                r.lunch = True
                r.lunch_gaps.append((days, e1, s2))


def _hhmm(minutes: int) -> str:
    minutes %= 1440
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def structured(text: str | None, phones: tuple[str, ...] = (), name: str = "") -> dict | None:
    """The `hours` mapping the words give without doubt; None when they leave any."""
    r = read(text, phones, name)
    if r.unread:
        return None
    if r.always:
        if r.slots or r.closed_days or r.holidays_closed or r.new_year_closed or r.closed_ranges:
            return None  # 24 hours, yet closed some days: not one reading
        return {"always": True}
    if not r.slots and not r.holiday_slots:
        return None
    out: dict = {}
    weekly: list[dict] = []
    slots = r.slots
    for gap_days, g1, g2 in r.lunch_gaps:
        cut = []
        for days, start, end in slots:
            if start < g1 and g2 < end and days <= gap_days:
                cut += [(days, start, g1), (days, g2, end)]
            else:
                cut.append((days, start, end))
        slots = cut
    for days, start, end in slots:
        days = frozenset(d for d in days if d not in r.closed_days)
        if not days:
            return None
        names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        weekly.append({"days": [names[d] for d in sorted(days)], "open": _hhmm(start),
                       "close": "24:00" if end == 1440 else _hhmm(end)})
    if weekly:
        out["weekly"] = weekly
    closed: list[str] = []
    if r.holiday_slots:
        if r.holidays_closed:
            return None
        out["holidays"] = [{"open": _hhmm(s), "close": "24:00" if e == 1440 else _hhmm(e)} for s, e in r.holiday_slots]
    elif r.holidays_closed or (r.weekdays_only and not r.holidays_open):
        closed.append("holidays")
    if r.new_year_closed:
        closed.append("new_year")
    closed += [f"{a[0]:02d}-{a[1]:02d}..{b[0]:02d}-{b[1]:02d}" for a, b in r.closed_ranges]
    if closed:
        out["closed"] = closed
    return out


# -- contradictions -------------------------------------------------------------------------------

# Days of 2027 to try the hours on: a holiday on each weekday, New Year, an ordinary week.
def _holidays_by_weekday(year: int = 2027) -> dict[int, date]:
    out: dict[int, date] = {}
    for day, _ in jpholiday.year_holidays(year):
        if (day.month, day.day) <= (1, 3) or (day.month, day.day) >= (12, 29) or day.month == 8:
            continue  # New Year and summer have closures of their own
        out.setdefault(day.weekday(), day)
    return out


_HOLIDAYS = _holidays_by_weekday()
_WEEK = [date(2027, 3, 8) + timedelta(days=i) for i in range(7)]  # Mon 8 March 2027 to Sun 14th: no holiday


def _open_during(hours: Hours, day: date, start: int = 0, end: int = 1440, step: int = 15) -> bool:
    base = datetime(day.year, day.month, day.day, tzinfo=TOKYO)
    return any(hours.is_open(base + timedelta(minutes=m)) for m in range(start, end, step))


def contradictions(hours: Hours, text: str | None, phones: tuple[str, ...] = (), name: str = "") -> list[str]:
    """What the structured hours say against the source's words (empty when they agree or say nothing)."""
    if not text or not hours.known:
        return []
    r = read(text, phones, name)
    out: list[str] = []
    always = hours.always
    if r.always and not always:
        out.append("the source says 24 hours; the hours are not {always: true}")
    if always and not r.always and (r.slots or r.closed_days or r.holidays_closed or r.new_year_closed):
        out.append("the hours say 24 hours; the source gives days and times")
    if always:
        if r.new_year_closed:
            out.append("the source closes at New Year; the hours say 24 hours")
        return out
    holidays_open_days = [d for wd, d in sorted(_HOLIDAYS.items()) if _open_during(hours, d)]
    if r.holidays_open and not r.holidays_closed and not holidays_open_days:
        out.append("the source is open on public holidays (祝日); the hours close them")
    elif r.holiday_slots and len(holidays_open_days) < len(_HOLIDAYS):
        shut = [d for wd, d in sorted(_HOLIDAYS.items()) if d not in holidays_open_days]
        out.append(f"the source is open on public holidays (祝日); the hours close some ({shut[0].isoformat()})")
    if r.holidays_closed and holidays_open_days:
        out.append(f"the source closes on public holidays (祝日); the hours are open on {holidays_open_days[0].isoformat()}")
    for wd in (5, 6):
        label = "土曜" if wd == 5 else "日曜"
        opened = _open_during(hours, _WEEK[wd])
        if wd in r.open_days and not opened and wd not in r.closed_days:
            out.append(f"the source is open on {label}; the hours have no {label} slot")
        if wd in r.closed_days and opened:
            out.append(f"the source is closed on {label}; the hours are open on {label}")
    gaps = r.lunch_gaps or ([(frozenset(r.open_days or WEEKDAYS), 12 * 60, 13 * 60)] if r.lunch else [])
    for days, start, end in gaps:
        opened = [d for d in _WEEK if d.weekday() in days and _open_during(hours, d, start, end, 5)]
        if opened:
            out.append(f"the source closes for lunch ({_hhmm(start)}〜{_hhmm(end)}); the hours are open then "
                       f"on {WEEK[opened[0].weekday()]}曜")
            break
    if r.new_year_closed and not r.new_year_open:
        for d in (date(2027, 12, 30), date(2028, 1, 2), date(2027, 1, 2)):
            if _open_during(hours, d):
                out.append(f"the source closes at New Year (年末年始); the hours are open on {d.isoformat()}")
                break
    for (m1, d1), (m2, d2) in r.closed_ranges:
        year = 2027
        try:
            first = date(year, m1, d1)
        except ValueError:
            continue
        if _open_during(hours, first) and (m1, d1) != (m2, d2) or (_open_during(hours, first) and (m1, d1) == (m2, d2)):
            out.append(f"the source closes {m1}/{d1}{'' if (m1, d1) == (m2, d2) else f'〜{m2}/{d2}'}; "
                       f"the hours are open on {first.isoformat()}")
    if r.closed_days - {5, 6}:
        for wd in sorted(r.closed_days - {5, 6}):
            if _open_during(hours, _WEEK[wd]):
                out.append(f"the source is closed on {WEEK[wd]}曜; the hours are open on {WEEK[wd]}曜")
    return out


# -- places to go: 第2・第4土曜 13:00〜15:00 ----------------------------------------------------

_KANJI_NUM = str.maketrans("一二三四五", "12345")
_NTH = re.compile(r"(?:毎月\s*)?(第\s*[1-5](?:\s*[・、,]\s*第?\s*[1-5])*)\s*([月火水木金土日])(?:曜日|曜)?")
_IRREGULAR = re.compile(r"不定期|変更|休業中|休止|いずれか|授業|夏季|夏休み|冬休み|春休み|※|開催なし|年\s*\d+\s*回|(?<!1)[かヶカケ]月に|"
                        r"偶数月|奇数月|隔月|次回|予定|中止|ご覧|お問い合わせ|問合せ|による|祝祭日を除く|祝日を除く|除く|第\d.*は")


def place_schedule(text: str | None) -> dict | None:
    """A place's schedule as `hours` when the words fix the day and both times; else None.

    「第2・第4土曜日 13:00〜15:00」「毎月第3水曜 14:00〜15:00」「週に1回／曜日:日／13:00〜17:00」.
    A weekday alone (「曜日:土／12:00〜13:30」) does not say every week: many run once a month.
    """
    t = normalise(text or "").translate(_KANJI_NUM)
    if not t.strip() or _IRREGULAR.search(t):
        return None
    ranges = _ranges(t)
    spans = {(s, e) for s, e, _, _ in ranges}
    if len(spans) != 1:
        return None  # no time, or several different times: which applies when is not said
    start, end = spans.pop()
    if end > 1440:
        return None
    times = {"open": _hhmm(start), "close": "24:00" if end == 1440 else _hhmm(end)}
    nths = _NTH.findall(t)
    names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    if nths:
        weekdays = {w for _, w in nths}
        if len(weekdays) != 1 and len(nths) != len(weekdays):
            return None
        out = []
        for numbers, weekday in nths:
            for n in re.findall(r"[1-5]", numbers):
                out.append({"nth": int(n), "weekday": names[WEEK.index(weekday)], **times})
        other = set("".join(re.findall(r"曜日:([月火水木金土日]+)", t)))
        if other and other != {w for _, w in nths}:
            return None
        return {"nth_weekday": out}
    weekly = re.findall(r"毎週\s*([月火水木金土日](?:\s*[・、,]\s*[月火水木金土日])*)(?:曜日|曜)?", t)
    day_field = re.search(r"曜日:([月火水木金土日]+)(?:／|/|$)", t)
    if weekly:
        days = sorted({d for w in weekly for d in re.findall(r"[月火水木金土日]", w)}, key=WEEK.index)
    elif day_field and re.search(r"週に\s*1\s*回|毎週", t) and len(day_field.group(1)) == 1:
        days = [day_field.group(1)]
    else:
        return None
    return {"weekly": [{"days": [names[WEEK.index(d)] for d in days], **times}]}


def warnings(services, name: str) -> list[str]:
    """`file:line: id: hours …` for every entry whose structured hours contradict its own words."""
    out = []
    for s in services:
        phones = (s.phone,) if s.phone else ()
        for problem in contradictions(s.hours, s.hours_text, phones, s.name):
            out.append(f"{name}:{s.line}: {s.id}: hours: {problem}")
    return out

"""`bot catalogue build`: services.yaml kept in step with the sourced tables.

    sourced rows (sourced.py)  --derive-->  the entry each row gives
    services.yaml              --check--->  entries that disagree with their row (file:line), rows with no entry
                               --write--->  rows' facts copied in, new rows appended, nothing else touched

What a row owns, and an entry must repeat: its phone numbers (the entry's `phone` and `phone_alt`
are numbers the row prints), `hours_text`, `address`, `source_url`, `source_date` and
`confidence`.  What the catalogue decides, and the builder only proposes for a new entry: `kind`,
`intents`, `hours` (read from the words only when they leave no doubt, see hourstext.py), `area`,
`excludes`, `for_whom`, `free`, `notes`.  An entry whose id is in no row is an operator's: never
read, never changed.  The judgement rules are written out in docs/catalogue-build.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from bot.engine.areas import Areas
from bot.engine.catalogue import reader
from bot.engine.catalogue.hours import HoursError, parse_hours
from bot.engine.catalogue.hourstext import contradictions, place_schedule, structured
from bot.engine.catalogue.model import valid_phone
from bot.engine.catalogue.sourced import PLACE_INTENTS, Row, Sourced, display

# Numbers the shared data README names as superseded or misprinted: never copied, wherever printed.
DO_NOT_USE = {
    "0570046556", "05700783 55".replace(" ", ""), "0570064000", "0570783189", "0570078310", "0570055210",
    "0570064370",
}
_NUMBER = re.compile(r"(#\d{4})|(?<![\d-])(0\d{1,4}[-(（]?\d{1,6}[-)）]?\d{2,5}|1\d\d)(?![\d-])")
_OLD = re.compile(r"旧|誤植|印刷どおり|使わない|終了|廃止")
_MOBILE = re.compile(r"^0[789]0-")
CONFIDENCE_MAP = {"n/a": "incomplete", "low (no phone)": "incomplete", "medium (address only)": "incomplete"}
NO_VALUE = re.compile(r"^[（(]?(?:抜粋に|記事に|出典に)?記載なし[）)]?$|^[（(].*記載なし.*[）)]$")
PERSONAL = "携帯電話の番号は運営者個人の番号のこともあるため載せていない（出典のページを案内する）"


@dataclass
class Derived:
    row: Row
    entry: dict  # the entry, keys in the catalogue's order
    numbers: list[str]  # every number the row prints (phone column, hours_text): the entry's phones are among them
    decisions: list[str] = field(default_factory=list)  # what the builder decided, said in notes


@dataclass
class Finding:
    where: str  # file:line
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


# -- reading a row ------------------------------------------------------------------------------


def numbers_of(text: str, place: bool = False) -> tuple[list[tuple[str, str]], list[str]]:
    """(number as dialled, the words printed before it) for each usable number; and what was left out.

    0AA(BBB)CCCC is written 0AA-BBB-CCCC (the same number as dialled).  A number the row calls 旧
    or 誤植, one of DO_NOT_USE, and for places a mobile number (it may be a person's own) are left out.
    """
    out: list[tuple[str, str]] = []
    left: list[str] = []
    pos = 0
    for m in _NUMBER.finditer(text or ""):
        raw = m.group(0)
        label = (text[pos:m.start()]).strip(" ／/、,（(）)・:：")
        after = text[m.end():m.end() + 14]
        pos = m.end()
        number = re.sub(r"[()（）]", "-", raw).replace("--", "-").strip("-")
        digits = re.sub(r"\D", "", number)
        if raw.startswith("1") and not re.fullmatch(r"1(?:10|19|18|88|89)", raw):
            continue  # a bare three-digit run (a room number, 「1日3時間」): not a number to dial
        if digits in DO_NOT_USE or _OLD.search(label[-8:] + after[:8]):
            left.append(f"{number}（旧・誤りとされる番号）")
            continue
        if not valid_phone(number):
            continue
        if place and _MOBILE.match(number):
            left.append(f"{number}（携帯）")
            continue
        out.append((number, re.sub(r"\s+", " ", label)))
    return out, left


def _areas_lookup(areas: Areas) -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    for place in areas.places.values():
        out.setdefault((place.pref_name, place.name), place.code)
        if len(place.code) == 2:
            out.setdefault((place.name, ""), place.code)
    for place in areas.places.values():
        if place.is_ward and place.city_code:
            city = areas.places[place.city_code].name
            out.setdefault((place.pref_name, place.name[len(city):]), place.code)  # 淀川区 in 大阪府
    return out


def area_of(row: Row, areas: Areas, lookup: dict) -> tuple[str | None, str | None]:
    """(code, problem): the municipality the row names, else its prefecture; national without either."""
    pref, town = row.get("prefecture"), row.get("municipality")
    if not pref and not town:
        return "national", None
    if town:
        town = re.split(r"[／/、,（(]", town)[0].strip()
        code = lookup.get((pref, town))
        if code is None:
            found = areas.find(f"{pref}{town}")
            code = found.code if found and len(found.code) == 6 else None
        if code:
            return code, None
        return lookup.get((pref, "")), f"municipality {town!r} of {pref} is not in bot/data/municipalities.csv"
    code = lookup.get((pref, ""))
    return code, None if code else f"prefecture {pref!r} is not known"


def _designated_cities(areas: Areas, pref: str) -> list[str]:
    return sorted({p.city_code for p in areas.places.values() if p.city_code and p.pref == pref})


def _confidence(row: Row) -> str:
    value = row.get("confidence")
    return CONFIDENCE_MAP.get(value, value)


def _text(value: str) -> str | None:
    value = (value or "").strip()
    return None if not value or NO_VALUE.match(value) else value


def _foreign_intents(row: Row) -> tuple[str, ...]:
    """Lines for foreign residents: the needs their own name says, else everyday consultation."""
    name = row.get("name") + row.get("id")
    if row.get("phone") in ("110", "119") or re.search(r"11[09]", row.get("id")):
        return ("emergency",)
    if re.search(r"労働|roudou|worker", name):
        return ("workplace_trouble",)
    if re.search(r"出入国|在留|isa|fresc|法テラス|houterasu", name):
        return ("legal_trouble",)
    if re.search(r"よりそい|yorisoi", name):
        return ("suicide_risk", "loneliness", "domestic_violence", "sexual_violence", "financial_hardship")
    return ("legal_trouble", "workplace_trouble", "financial_hardship", "housing")


def _credit(row: Row) -> str | None:
    """CC BY data: the credit its licence asks for, shown with the entry."""
    notes = row.get("notes")
    m = re.search(r"(\S+?)のオープンデータ「(.+?)」（CC BY", notes)
    if not m:
        return None
    who = re.sub(r"^.*[。、]", "", m.group(1))
    return f"出典：{who}「{m.group(2)}」（東京都オープンデータカタログサイト、CC BY 4.0）をもとに作成"


def national_numbers(sourced: Sourced) -> set[str]:
    """Digits of every number a national line has (#8891's 0120-8891-77): never a local centre's own."""
    out: set[str] = set()
    for row in sourced.rows:
        if row.table.stem.startswith("national"):
            out |= {re.sub(r"[^\d#]", "", n) for n, _ in numbers_of(row.get("phone"))[0]}
    return out


def derive(row: Row, areas: Areas, lookup: dict | None = None, national: set[str] = frozenset()) -> Derived:
    """The entry a row gives on its own (the builder's proposal for a new entry)."""
    lookup = lookup if lookup is not None else _areas_lookup(areas)
    table = row.table
    place = table.stem == "places"
    decisions: list[str] = []
    kind, intents = table.kind, table.intents
    if place:
        kind, intents = PLACE_INTENTS.get(row.get("category"), ("place", ("places_to_go",)))
    elif table.stem == "foreign_residents":
        intents = _foreign_intents(row)
    found, left = numbers_of(row.get("phone"), place=place)
    numbers = [n for n, _ in found]
    # A local number first; #8891 or 189 leads only when the row gives nothing else.
    found.sort(key=lambda f: not f[0].startswith("0") or re.sub(r"\D", "", f[0]) in national)
    printed = numbers + [n for n, _ in numbers_of(row.get("hours_text"))[0] if n not in numbers]
    phone = found[0][0] if found else None
    alts = [{"number": n, "note": label or "別の番号"} for n, label in found[1:]]
    if left and place:
        decisions.append(PERSONAL if any("携帯" in x for x in left) else f"載せない番号: {'、'.join(left)}")
    elif left:
        decisions.append(f"載せない番号: {'、'.join(left)}")
    if row.get("phone") and not phone and not left:
        decisions.append("電話欄の番号は市外局番がないなど、そのままかけられる形でないため phone は null")
    hours_text = _text(row.get("schedule_text") if place else row.get("hours_text"))
    label = found[0][1] if found else ""
    hours = (place_schedule(hours_text) if place else structured(hours_text, (phone,) if phone else (),
                                                                    row.get("name") + " " + label))
    if hours_text and hours is None:
        decisions.append("開催日時は出典の文言から曜日と時刻が一つに決まらないため hours は null" if place else
                         "受付時間は出典の文言から一つに読めないため hours は null（公式サイトで確認）")
    elif place and not hours_text:
        decisions.append("出典に開催日時の記載がない")
    area, problem = area_of(row, areas, lookup)
    if problem:
        decisions.append(f"地域: {problem}")
    excludes: list[str] = []
    if table.statutory in ("mhwc", "jiso") and area and len(area) == 2:
        excludes = _designated_cities(areas, area)  # 政令市には市の精神保健福祉センター・児童相談所がある
        if excludes:
            decisions.append("政令指定都市は市のセンターの管轄のため excludes")
    languages = row.get("languages").split() if row.get("languages") else ["ja"]
    url = _text(row.get("url"))
    if url and not url.startswith(("http://", "https://")):
        decisions.append(f"出典の URL 欄「{url}」は http(s):// で始まらないため url にしていない")
        url = None
    lat = _float(row.get("lat"))
    lon = _float(row.get("lon"))
    entry: dict = {
        "id": row.id,
        "name": row.get("name"),
        "kind": kind,
        "intents": list(intents),
        "phone": phone,
    }
    if alts:
        entry["phone_alt"] = alts
    entry |= {"url": url, "hours": hours, "hours_text": hours_text}
    if not place:
        entry |= {"free": None, "for_whom": None, "languages": languages}
    entry["area"] = area
    if excludes:
        entry["excludes"] = excludes
    entry["address"] = _text(row.get("address"))
    if lat is not None and lon is not None:
        entry |= {"lat": lat, "lon": lon}
    entry |= {"source_url": row.get("source_url"), "source_date": row.get("source_date"),
              "confidence": _confidence(row)}
    if credit := _credit(row):
        entry["credit"] = credit
    if not place:
        entry["checked"] = None
    entry["status"] = "active"
    notes = cut_old_numbers(row.get("notes"))
    if decisions:
        notes = (notes + " ／" if notes else "") + "【カタログ】" + "。".join(decisions) + "。"
    entry["notes"] = notes or None
    return Derived(row, entry, printed, decisions)


def cut_old_numbers(text: str) -> str:
    """Words with every superseded, misprinted or 旧 number taken out (the warning around it stays)."""
    def cut(m: re.Match) -> str:
        digits = re.sub(r"\D", "", m.group(0))
        before = text[max(0, m.start() - 10):m.start()]
        if digits in DO_NOT_USE or _OLD.search(before):
            return "（番号はここに写していない）"
        return m.group(0)
    return _NUMBER.sub(cut, text or "")


def _float(value: str) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


# -- checking the catalogue against the rows ----------------------------------------------------

CHECKED = ("hours_text", "address", "source_url", "source_date", "confidence")


def _norm(value) -> str:
    return "" if value is None else re.sub(r"\s+", " ", str(value)).strip()


def compare(entry: dict, derived: Derived) -> list[tuple[str, str]]:
    """(field, what differs) for each fact of the row the entry does not repeat."""
    out: list[tuple[str, str]] = []
    printed = {re.sub(r"[^\d#]", "", n): n for n in derived.numbers}
    phone = entry.get("phone")
    if phone is not None:
        as_printed = printed.get(re.sub(r"[^\d#]", "", str(phone)))
        if as_printed is None:
            out.append(("phone", f"{phone} is not among the row's numbers ({', '.join(derived.numbers) or 'none'})"))
        elif as_printed != str(phone):
            out.append(("phone", f"{phone} is printed {as_printed} in the row"))
    local = [n for n in derived.numbers if n.startswith("0")]
    if phone is None and derived.entry.get("phone") and local and entry.get("status", "active") == "active":
        out.append(("phone", f"null, but the row gives {derived.entry['phone']}"))
    for alt in entry.get("phone_alt") or []:
        number = str(alt.get("number") if isinstance(alt, dict) else alt)
        as_printed = printed.get(re.sub(r"[^\d#]", "", number))
        if as_printed is None:
            out.append(("phone_alt", f"{number} is not among the row's numbers"))
        elif as_printed != number:
            out.append(("phone_alt", f"{number} is written {as_printed} in the row"))
    for key in CHECKED:
        want = _without_old_numbers(derived.row.get(key) if key != "confidence" else derived.entry.get(key))
        have = entry.get(key)
        if key == "hours_text" and derived.row.table.stem == "places":
            want = derived.entry.get(key)
        if _norm(_text(str(have)) if isinstance(have, str) else have) != _norm(_text(want or "")):
            out.append((key, f"{_short(have)!r} but the row says {_short(want)!r}"))
    return out


def _without_old_numbers(value: str | None) -> str | None:
    """A row's words with any bracket that holds a superseded or misprinted number cut (never copied)."""
    if not value:
        return value
    for m in list(re.finditer(r"[(（][^()（）]*[)）]", value)):
        if any(re.sub(r"\D", "", n.group(0)) in DO_NOT_USE for n in _NUMBER.finditer(m.group(0))):
            value = value.replace(m.group(0), "")
    return value.strip()


def _catalogue_part(notes: str | None) -> str:
    """The catalogue's own judgement at the end of an entry's notes (from 【カタログ】 on)."""
    notes = notes or ""
    at = notes.find("【カタログ】")
    return notes[at:].strip() if at >= 0 else ""


def hours_disagree(raw_hours, text: str | None, entry: dict) -> list[str]:
    try:
        hours = parse_hours(raw_hours)
    except HoursError:
        return ["the hours cannot be read"]
    phones = tuple(str(p) for p in [entry.get("phone")] if p)
    return contradictions(hours, text, phones, str(entry.get("name") or ""))


def _short(value, limit: int = 60) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    missing: list[Derived] = field(default_factory=list)  # rows with no entry
    changed: dict[str, tuple[Derived, list[tuple[str, str]]]] = field(default_factory=dict)
    agreeing: int = 0
    operator: list[str] = field(default_factory=list)  # entries from no row


def check(catalogue: Path, sourced: Sourced, areas: Areas, text: str | None = None) -> Report:
    text = catalogue.read_text(encoding="utf-8") if text is None else text
    entries = reader.parse(text)
    report = Report()
    lookup = _areas_lookup(areas)
    national = national_numbers(sourced)
    name = display(catalogue)
    present: set[str] = set()
    for e in entries:
        if not isinstance(e.raw, dict):
            continue
        sid = str(e.raw.get("id", ""))
        present.add(sid)
        row = sourced.by_entry.get(sid)
        if row is None:
            report.operator.append(sid)
            continue
        derived = derive(row, areas, lookup, national)
        differences = compare(e.raw, derived)
        if differences:
            report.changed[sid] = (derived, differences)
            for key, what in differences:
                line = e.keys.get(key, e.line)
                report.findings.append(Finding(f"{name}:{line}", f"{sid}: {key} {what} ({row.where})"))
        else:
            report.agreeing += 1
    for sid, row in sourced.by_entry.items():
        if sid not in present:
            derived = derive(row, areas, lookup, national)
            report.missing.append(derived)
            report.findings.append(Finding(row.where, f"{sid}: no entry in {name}"))
    return report


# -- writing ------------------------------------------------------------------------------------

ORDER = ("id", "name", "name_en", "kind", "intents", "phone", "phone_alt", "url", "line_url", "hours", "hours_text",
         "free", "for_whom", "languages", "area", "excludes", "address", "lat", "lon", "source_url", "source_date",
         "confidence", "credit", "checked", "status", "notes")
_PLAIN_FIRST = set("-?:,[]{}#&*!|>'\"%@` ")
_PROBE = reader._Reader()


def scalar(value, flow: bool = False) -> str:
    """A value as the catalogue writes it: plain where YAML reads it back as the same string."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value).replace("\n", " ").replace("\r", " ")
    risky = (not text or text[0] in _PLAIN_FIRST or text != text.strip() or ": " in text or " #" in text
             or text.endswith(":") or "\t" in text or (flow and re.search(r"[,\[\]{}]", text)))
    if not risky:
        try:
            risky = _PROBE._plain(text) != text or type(_PROBE._plain(text)) is not str
        except Exception:  # noqa: BLE001 - anything the probe cannot take is quoted
            risky = True
    return "'" + text.replace("'", "''") + "'" if risky else text


def _time(value: str) -> str:
    return f'"{value}"'


def _flow_map(d: dict) -> str:
    parts = []
    for k, v in d.items():
        if k in ("open", "close"):
            parts.append(f"{k}: {_time(v)}")
        elif isinstance(v, list):
            parts.append(f"{k}: [{', '.join(scalar(x, flow=True) for x in v)}]")
        else:
            parts.append(f"{k}: {scalar(v, flow=True)}")
    return "{" + ", ".join(parts) + "}"


def hours_lines(hours: dict | None) -> list[str]:
    if hours is None:
        return ["  hours: null"]
    if hours.get("always"):
        return ["  hours: {always: true}"]
    if hours.get("varies"):
        return ["  hours: {varies: true}"]
    lines = ["  hours:"]
    for key in ("weekly", "monthly", "nth_weekday", "holidays"):
        if hours.get(key):
            lines.append(f"    {key}:")
            lines += [f"      - {_flow_map(item)}" for item in hours[key]]
    if hours.get("closed"):
        lines.append(f"    closed: [{', '.join(scalar(c, flow=True) for c in hours['closed'])}]")
    return lines


def value_lines(key: str, value) -> list[str]:
    if key == "hours":
        return hours_lines(value)
    if key == "phone_alt":
        return ["  phone_alt:"] + [f"    - {_flow_map(a)}" for a in value]
    if key in ("intents", "languages", "excludes"):
        inner = ", ".join(f'"{v}"' if key == "excludes" else scalar(v, flow=True) for v in value)
        return [f"  {key}: [{inner}]"]
    if key == "area":
        return [f'  area: "{value}"' if value != "national" else "  area: national"]
    if key == "phone" and value is not None:
        return [f'  phone: "{value}"' if not re.fullmatch(r"0[\d-]+", str(value)) else f"  phone: {value}"]
    if key == "source_date":
        quoted = f'"{value}"' if re.fullmatch(r"[\d-]+", str(value)) else scalar(value)
        return [f"  source_date: {quoted}"]
    return [f"  {key}: {scalar(value)}"]


def entry_text(entry: dict) -> str:
    lines: list[str] = []
    for key in ORDER:
        if key not in entry:
            continue
        block = value_lines(key, entry[key])
        if key == "id":
            block[0] = "- " + block[0][2:]
        lines += block
    return "\n".join(lines) + "\n"


def write(catalogue: Path, report: Report, sourced: Sourced, text: str | None = None) -> tuple[str, list[str]]:
    """The catalogue with every changed entry's row facts copied in and every missing row appended.

    Only the lines of the keys that change are rewritten; new entries go after the last entry of
    their table, or at the end of the file under a comment naming the table.  Returns (text, notes).
    """
    text = catalogue.read_text(encoding="utf-8") if text is None else text
    entries = reader.parse(text)
    lines = text.split("\n")
    notes: list[str] = []
    edits: list[tuple[int, int, list[str]]] = []  # (first line index, end index, new lines)
    starts = [e.line - 1 for e in entries]
    for i, e in enumerate(entries):
        sid = str(e.raw.get("id", "")) if isinstance(e.raw, dict) else ""
        if sid not in report.changed:
            continue
        derived, differences = report.changed[sid]
        end_of_entry = starts[i + 1] if i + 1 < len(starts) else len(lines)
        updates: dict[str, object] = {}
        for key, _ in differences:
            if key in ("phone", "phone_alt"):
                updates["phone"] = derived.entry.get("phone")
                updates["phone_alt"] = derived.entry.get("phone_alt") or []
            else:
                updates[key] = derived.entry.get(key)
        # The catalogue's old judgement stays unless the number or the words it was about changed.
        keep_note = "" if "phone" in updates else _catalogue_part(e.raw.get("notes"))
        if "hours_text" in updates:
            fresh = derived.entry.get("hours")
            if fresh is not None:
                updates["hours"] = fresh
                keep_note = ""  # the old judgement was about the old words
                notes.append(f"{sid}: hours_text changed; hours read again from the new words")
            elif hours_disagree(e.raw.get("hours"), updates["hours_text"], e.raw):
                updates["hours"] = None
                keep_note = ""
                notes.append(f"{sid}: hours_text changed and the hours no longer agree with it: hours null, "
                             "structure them by hand")
            else:
                keep_note = "【カタログ】受付時間の構造は前の版のまま（新しい文言と食い違わない）。"
                notes.append(f"{sid}: hours_text changed; the hours kept (they agree with the new words)")
        # The row's notes as they are now, then the catalogue's own judgement.
        row_notes = cut_old_numbers(derived.row.get("notes"))
        fresh_notes = derived.entry.get("notes") if not keep_note else (
            (row_notes + " ／" if row_notes else "") + keep_note)
        if _norm(fresh_notes) != _norm(e.raw.get("notes")):
            updates["notes"] = fresh_notes or None
        edits += key_edits(lines, e, end_of_entry, updates)
    apply_edits(lines, edits)
    text = "\n".join(lines)
    if report.missing:
        text = _append(text, report.missing, sourced)
    return text, notes


def key_edits(lines: list[str], entry: reader.Entry, end_of_entry: int, updates: dict) -> list[tuple[int, int, list[str]]]:
    """The line edits that give `entry` (at lines[entry.line - 1:end_of_entry]) the values in `updates`.

    A key that is there has its lines replaced (a block value with all its lines; a value of
    None for phone_alt, or an empty one, drops the key); a key that is not is inserted after
    the keys that come before it in ORDER.  Comments and blank lines after the entry stay.
    """
    key_lines = sorted((ln - 1, k) for k, ln in entry.keys.items())
    last = end_of_entry
    while last > entry.line and (not lines[last - 1].strip() or lines[last - 1].startswith("#")):
        last -= 1
    edits: list[tuple[int, int, list[str]]] = []
    for key, value in updates.items():
        block = [] if key == "phone_alt" and not value else value_lines(key, value)
        spans = [a for a, k in key_lines if k == key]
        if spans:
            a = spans[0]
            later = [b for b, _ in key_lines if b > a]
            b = min(later[0], last) if later else last
            while b > a + 1 and (not lines[b - 1].strip() or lines[b - 1].lstrip().startswith("#")):
                b -= 1
            edits.append((a, b, block))
        elif block:
            before = [b for b, k in key_lines if k in ORDER and key in ORDER and ORDER.index(k) < ORDER.index(key)]
            after = max(before) if before else key_lines[-1][0]
            nxt = [b for b, _ in key_lines if b > after]
            at = nxt[0] if nxt else last
            edits.append((at, at, block))
    return edits


def apply_edits(lines: list[str], edits: list[tuple[int, int, list[str]]]) -> None:
    """Replace lines[a:b] with each block, last first so that earlier line numbers stay right."""
    for a, b, block in sorted(edits, key=lambda x: -x[0]):
        lines[a:b] = block


def _append(text: str, missing: list[Derived], sourced: Sourced) -> str:
    """New entries after the last entry of their table; a table with none yet gets its own group."""
    entries = reader.parse(text)
    lines = text.split("\n")
    by_table: dict[str, list[Derived]] = {}
    for d in missing:
        by_table.setdefault(d.row.table.stem, []).append(d)
    last: dict[str, int] = {}
    for i, e in enumerate(entries):
        sid = str(e.raw.get("id", "")) if isinstance(e.raw, dict) else ""
        row = sourced.by_entry.get(sid)
        if row is not None:
            last[row.table.stem] = i
    inserts: list[tuple[int, list[str]]] = []
    groups: list[str] = []
    for stem, derived in by_table.items():
        block = _spaced("".join(entry_text(d.entry) for d in derived)).rstrip("\n")
        if stem in last:
            i = last[stem]
            at = entries[i + 1].line - 1 if i + 1 < len(entries) else len(lines)
            while at > 0 and (not lines[at - 1].strip() or lines[at - 1].startswith("#")):
                at -= 1
            inserts.append((at, [""] + block.split("\n")))
        else:
            table = derived[0].row.table
            groups.append(f"# --- {table.label}（{display(derived[0].row.path)}） ---\n{block}\n")
    for at, block in sorted(inserts, key=lambda x: -x[0]):
        lines[at:at] = block
    out = "\n".join(lines).rstrip("\n") + "\n"
    for group in groups:
        out += "\n\n" + group
    return out


def _spaced(block: str) -> str:
    """Entries separated by one blank line, as the file has them."""
    return re.sub(r"\n(?=- id:)", "\n\n", block)

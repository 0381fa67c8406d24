"""The service catalogue: services.yaml, reviewed and edited by people.

Loading validates every entry and reports `file:line: what is wrong`; a
catalogue with errors is refused whole, so a running bot keeps its last good
one (see Engine.reload).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from bot.engine.catalogue import reader
from bot.engine.catalogue.hours import Hours, HoursError, parse_hours

ROOT = Path(__file__).resolve().parents[3]  # the repository (bot/engine/catalogue/model.py)
CATALOGUE_PATH = ROOT / "services.yaml"

KINDS = ("phone", "chat", "sns", "web", "centre", "place")
CONFIDENCE = ("high", "medium", "low", "incomplete", "not-standing")
STATUS = ("active", "paused", "ended")
REQUIRED = ("id", "name", "kind", "intents", "area", "source_url", "source_date", "confidence", "status")
FIELDS = set(REQUIRED) | {
    "name_en", "name_local", "phone", "phone_alt", "url", "line_url", "hours", "hours_text", "free", "for_whom",
    "languages", "address", "lat", "lon", "checked", "notes", "excludes", "credit",
}
# 0120-279-338, 0570-078374, 0800-100-2707, 090-1234-5678; #8891; 110/119/189/188
PHONE = re.compile(r"^(#\d{4}|1\d\d|0[\d-]+)$")
ID = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")
CONFIRM_HOURS = "受付時間は公式サイトでご確認ください"


@dataclass(frozen=True)
class Service:
    id: str
    name: str
    kind: str
    intents: tuple[str, ...]
    areas: tuple[str, ...]  # ("national",) or codes: a number may serve several prefectures
    source_url: str
    source_date: str
    confidence: str
    status: str
    hours: Hours
    name_en: str | None = None
    name_local: str | None = None  # its name in another language, as its source gives it (issue 16)
    phone: str | None = None
    phone_alt: tuple[tuple[str, str], ...] = ()
    url: str | None = None
    line_url: str | None = None
    hours_text: str = ""
    free: bool | None = None
    for_whom: str | None = None
    languages: tuple[str, ...] = ("ja",)
    address: str | None = None
    lat: float | None = None
    lon: float | None = None
    checked: date | None = None
    notes: str | None = None
    excludes: tuple[str, ...] = ()  # areas inside `area` it does not serve (a prefecture centre's 政令市)
    credit: str | None = None  # the attribution a licence asks for (CC BY open data), shown with the entry
    line: int = 0  # where it stands in the file, for messages

    @property
    def area(self) -> str:
        return self.areas[0]

    @property
    def national(self) -> bool:
        return self.areas == ("national",)

    @property
    def hours_certain(self) -> bool:
        """Whether the hours may be shown as open or closed: low confidence is never presented as certain."""
        return self.hours.known and self.confidence in ("high", "medium") and self.status == "active"

    @property
    def always_open(self) -> bool:
        return self.hours.always and self.hours_certain


@dataclass
class Catalogue:
    services: tuple[Service, ...]
    path: str
    version: str  # sha256 of the file, short
    by_intent: dict[str, list[Service]] = field(default_factory=dict)
    national: dict[str, list[Service]] = field(default_factory=dict)
    local: dict[tuple[str, str], list[Service]] = field(default_factory=dict)
    by_id: dict[str, Service] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Indexed once per load so that routing cost does not grow with the catalogue.
        index: dict[str, list[Service]] = defaultdict(list)
        national: dict[str, list[Service]] = defaultdict(list)
        local: dict[tuple[str, str], list[Service]] = defaultdict(list)
        for s in self.services:
            for i in s.intents:
                index[i].append(s)
                if s.national:
                    national[i].append(s)
                else:
                    for code in s.areas:
                        local[(i, code)].append(s)
        self.by_intent, self.national, self.local = dict(index), dict(national), dict(local)
        self.by_id = {s.id: s for s in self.services}

    def get(self, service_id: str) -> Service | None:
        return self.by_id.get(service_id)

    def release(self, step: int = 500) -> None:
        """Empty it a few hundred services at a time, for a catalogue that nothing reads any more.

        Dropped whole, 30k services are freed in one go, with the GIL held (~40 ms); so a reload
        lets go of the catalogue it replaced slice by slice, other threads running in between.
        """
        services = list(self.services)
        self.services = ()
        for index in (self.local, self.by_intent, self.national, self.by_id):
            while index:
                for _ in range(min(step * 4, len(index))):
                    index.popitem()
                time.sleep(0)
        while services:
            del services[-step:]
            time.sleep(0)  # a thread waiting for the GIL (a reply) has it now

    def covering(self, intent: str, codes: list[str]) -> list[Service]:
        """Local services for a need whose area is one of `codes` (a resident's ward, city, prefecture)."""
        seen: dict[str, Service] = {}
        for code in codes:
            for s in self.local.get((intent, code), ()):
                seen.setdefault(s.id, s)
        return list(seen.values())


class CatalogueError(Exception):
    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def valid_phone(value: str) -> bool:
    if not PHONE.match(value):
        return False
    if value.startswith("0"):
        digits = value.replace("-", "")
        return digits.isdigit() and len(digits) in (10, 11) and "--" not in value and not value.endswith("-")
    return True


def _frozen(value):
    """A key for a value read from YAML: equal keys for equal values of the same types."""
    if isinstance(value, dict):
        return ("{", tuple((_frozen(k), _frozen(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("[", tuple(_frozen(v) for v in value))
    return (type(value), value)  # TypeError if it cannot be hashed


def _date(value) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def load_catalogue(
    path: Path | str = CATALOGUE_PATH,
    intent_ids: set[str] | None = None,
    area_codes: set[str] | None = None,
    text: str | None = None,
) -> Catalogue:
    """Read and validate a catalogue; raise CatalogueError listing `file:line: problem`."""
    path = Path(path)
    name = path.name if path.parent == ROOT else str(path)
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CatalogueError([f"{name}:0: cannot read: {exc}"]) from None
    try:
        entries = reader.parse(text)
    except reader.YamlProblem as exc:
        raise CatalogueError([f"{name}:{exc.line}: {exc.message}"]) from None
    problems: list[str] = []
    services: list[Service] = []
    seen: dict[str, int] = {}
    # Values that many entries repeat (kind, intents, areas, hours...) are kept once: less memory,
    # and a reload aside (bot/engine/catalogue/aside.py) pickles each of them once per batch.
    shared: dict = {}
    hours_read: dict = {}

    def one(value):
        try:
            return shared.setdefault(value, value)
        except TypeError:  # unhashable (intents: [{...}] with no intent list to check against)
            return value

    def read_hours(value):
        """parse_hours(value), or the HoursError's message; the same hours are read once."""
        try:
            key = _frozen(value)
            return hours_read[key]
        except TypeError:  # a value that cannot be a key: read it
            key = None
        except KeyError:
            pass
        try:
            hours = parse_hours(value)
        except HoursError as exc:
            hours = str(exc)
        if key is not None:
            hours_read[key] = hours
        return hours

    for entry in entries:
        raw, line = entry.raw, entry.line
        entry_problems: list[str] = []

        def bad(key, message, keys=entry.keys, line=line, out=entry_problems):
            at = keys.get(key, 0) if key is not None else line
            out.append(f"{name}:{at or line}: {message}")

        if not isinstance(raw, dict):
            bad(None, "an entry must be a mapping of fields")
            problems += entry_problems
            continue
        sid = str(raw.get("id", ""))
        for key in REQUIRED:
            if raw.get(key) in (None, "", []):
                bad(None, f"{sid or 'entry'}: {key} is required")
        for key in raw:
            if key not in FIELDS:
                bad(key, f"{sid}: unknown field {key!r}")
        if sid and not ID.match(sid):
            bad("id", f"id {sid!r} must be lower-case letters, digits, _ or -")
        if sid in seen:
            bad("id", f"duplicate id {sid!r} (first at line {seen[sid]})")
        elif sid:
            seen[sid] = line
        if raw.get("kind") not in (None, *KINDS):
            bad("kind", f"{sid}: kind {raw.get('kind')!r} is not one of {', '.join(KINDS)}")
        if raw.get("confidence") not in (None, *CONFIDENCE):
            bad("confidence", f"{sid}: confidence {raw.get('confidence')!r} is not one of {', '.join(CONFIDENCE)}")
        if raw.get("status") not in (None, *STATUS):
            bad("status", f"{sid}: status {raw.get('status')!r} is not one of {', '.join(STATUS)}")
        intents = raw.get("intents") or []
        if not isinstance(intents, list):
            bad("intents", f"{sid}: intents must be a list of intent ids")
            intents = []
        for intent in intents:
            if intent_ids is not None and intent not in intent_ids:
                bad("intents", f"{sid}: unknown intent id {intent!r}")
        raw_area = raw.get("area")
        areas = tuple(str(a).strip() for a in (raw_area if isinstance(raw_area, list) else [raw_area]) if a)
        for area in areas:
            if area != "national" and area_codes is not None and area not in area_codes:
                bad("area", f"{sid}: area {area!r} is not national, a prefecture code (\"22\") or a local government code")
        excludes = tuple(str(a).strip() for a in raw.get("excludes") or [])
        for area in excludes:
            if area_codes is not None and area not in area_codes:
                bad("excludes", f"{sid}: excludes {area!r} is not a local government code")
        if "national" in areas and len(areas) > 1:
            bad("area", f"{sid}: area is either national or a list of codes")
        phones = [raw.get("phone")] + [a.get("number") if isinstance(a, dict) else a for a in raw.get("phone_alt") or []]
        for value in phones:
            if value is not None and not valid_phone(str(value)):
                bad("phone", f"{sid}: phone {value!r} is not a number as dialled (0120-279-338, #8891, 189)")
        hours = read_hours(raw.get("hours"))
        if isinstance(hours, str):
            bad("hours", f"{sid}: {hours}")
            hours = Hours(unknown=True)
        checked = None
        try:
            checked = _date(raw.get("checked"))
        except ValueError:
            bad("checked", f"{sid}: checked {raw.get('checked')!r} is not a date (YYYY-MM-DD)")
        if checked and checked > date.today():
            bad("checked", f"{sid}: checked {checked} is in the future")
        sdate = str(raw.get("source_date", ""))
        if sdate and not re.search(r"(19|20)\d\d|undated|平成|令和|昭和", sdate):
            bad("source_date", f"{sid}: source_date {sdate!r} names no year (write 'undated' if the page has none)")
        for key in ("url", "source_url"):
            value = raw.get(key)
            if value and not str(value).lstrip().startswith(("http://", "https://")) and key == "url":
                bad(key, f"{sid}: {key} must start with http:// or https://")
        lat, lon = raw.get("lat"), raw.get("lon")
        for key, value, lo, hi in (("lat", lat, 20, 46), ("lon", lon, 122, 154)):
            if value is not None and (not isinstance(value, int | float) or not lo <= value <= hi):
                bad(key, f"{sid}: {key} {value!r} is not in Japan")
        free = raw.get("free")
        if free not in (None, True, False):
            bad("free", f"{sid}: free must be true, false or null")
        if entry_problems:
            problems += entry_problems
            continue
        services.append(
            Service(
                id=sid,
                name=str(raw["name"]),
                kind=one(raw["kind"]),
                intents=one(tuple(intents)),
                areas=one(areas),
                source_url=str(raw["source_url"]),
                source_date=one(sdate),
                confidence=one(raw["confidence"]),
                status=one(raw["status"]),
                hours=hours,
                name_en=raw.get("name_en"),
                name_local=raw.get("name_local"),
                phone=str(raw["phone"]) if raw.get("phone") is not None else None,
                phone_alt=tuple(
                    (str(a.get("number")), str(a.get("note", ""))) for a in raw.get("phone_alt") or [] if isinstance(a, dict)
                ),
                url=raw.get("url"),
                line_url=raw.get("line_url"),
                hours_text=one(str(raw.get("hours_text") or "")),
                free=free,
                for_whom=raw.get("for_whom"),
                languages=one(tuple(raw.get("languages") or ("ja",))),
                address=raw.get("address"),
                lat=lat,
                lon=lon,
                checked=checked,
                notes=raw.get("notes"),
                excludes=excludes,
                credit=raw.get("credit"),
                line=line,
            )
        )
    if problems:
        raise CatalogueError(problems)
    version = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    return Catalogue(tuple(services), str(path), version)

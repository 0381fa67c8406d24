"""Operators bring their own lists: a CSV of services merged into services.yaml.

    FILE.csv -> validate every row (FILE:LINE: what is wrong)
             -> plan: added / changed / unchanged, by id
             -> with write=True: merge into services.yaml, keeping comments,
                order and fields the CSV does not carry; the merged file must
                pass the same checks as `bot catalogue check` or nothing is written.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from bot.engine.areas import Areas
from bot.engine.catalogue import reader
from bot.engine.catalogue.build import apply_edits, entry_text, key_edits
from bot.engine.catalogue.hours import HoursError, parse_compact
from bot.engine.catalogue.model import CONFIDENCE, KINDS, STATUS, CatalogueError, load_catalogue, valid_phone

# Column names, with the Japanese headers operators may use instead.
COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("id", "ID", "識別子"),
    "name": ("name", "名称", "名前"),
    "name_en": ("name_en", "英語名"),
    "kind": ("kind", "種別"),
    "intents": ("intents", "ニーズ", "分野"),
    "phone": ("phone", "電話", "電話番号"),
    "url": ("url", "URL", "ウェブサイト"),
    "line_url": ("line_url", "LINE"),
    "hours": ("hours", "受付時間（構造）", "開催日時"),
    "hours_text": ("hours_text", "受付時間"),
    "free": ("free", "無料"),
    "for_whom": ("for_whom", "対象"),
    "area": ("area", "地域", "市区町村"),
    "address": ("address", "住所"),
    "lat": ("lat", "緯度"),
    "lon": ("lon", "経度"),
    "source_url": ("source_url", "出典URL", "出典"),
    "source_date": ("source_date", "出典日", "出典の日付"),
    "confidence": ("confidence", "確度"),
    "checked": ("checked", "確認日"),
    "status": ("status", "状態"),
    "notes": ("notes", "備考"),
}
REQUIRED = ("id", "name", "kind", "intents", "area", "source_url", "source_date")
_TRUE = {"true", "yes", "1", "はい", "無料", "○"}
_FALSE = {"false", "no", "0", "いいえ", "有料", "×"}


@dataclass
class Plan:
    entries: list[tuple[int, dict]] = field(default_factory=list)  # (csv line, entry)
    problems: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    changed: list[tuple[str, list[str]]] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"added {len(self.added)}, changed {len(self.changed)}, unchanged {len(self.unchanged)}"]
        lines += [f"  + {i}" for i in self.added]
        lines += [f"  ~ {i}: {', '.join(fields)}" for i, fields in self.changed]
        return "\n".join(lines)


def _header_map(header: list[str]) -> dict[str, int]:
    out = {}
    for idx, name in enumerate(header):
        name = name.strip().lstrip("\ufeff")
        for key, names in COLUMNS.items():
            if name in names or name.lower() == key:
                out[key] = idx
    return out


def read_rows(path: Path, areas: Areas, intent_ids: set[str]) -> Plan:
    plan = Plan()
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        plan.problems.append(f"{name}:0: cannot read as UTF-8 text: {exc}")
        return plan
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        plan.problems.append(f"{name}:1: the file is empty")
        return plan
    cols = _header_map(header)
    missing = [c for c in REQUIRED if c not in cols]
    if missing:
        plan.problems.append(f"{name}:1: missing column(s): {', '.join(missing)}")
        return plan
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue

        def cell(key: str, row=row) -> str:
            i = cols.get(key)
            return row[i].strip() if i is not None and i < len(row) else ""

        def bad(message: str, line=line) -> None:
            plan.problems.append(f"{name}:{line}: {message}")

        before = len(plan.problems)
        entry: dict = {}
        for key in REQUIRED:
            if not cell(key):
                bad(f"{key} is required")
        sid = cell("id")
        if sid in seen:
            bad(f"duplicate id {sid!r} (first at line {seen[sid]})")
        seen[sid] = line
        entry["id"] = sid
        entry["name"] = cell("name")
        if cell("name_en"):
            entry["name_en"] = cell("name_en")
        kind = cell("kind")
        if kind and kind not in KINDS:
            bad(f"kind {kind!r} is not one of {', '.join(KINDS)}")
        entry["kind"] = kind
        intents = [i for i in cell("intents").replace("、", " ").replace(",", " ").split() if i]
        for i in intents:
            if i not in intent_ids:
                bad(f"unknown intent id {i!r}")
        entry["intents"] = intents
        phone = cell("phone")
        if phone and not valid_phone(phone):
            bad(f"phone {phone!r} is not a number as dialled (0120-279-338, #8891, 189)")
        entry["phone"] = phone or None
        for key in ("url", "line_url"):
            value = cell(key)
            if key == "url" and value and not value.startswith(("http://", "https://")):
                bad(f"url {value!r} must start with http:// or https://")
            entry[key] = value or None
        try:
            entry["hours"] = parse_compact(cell("hours"))
        except (HoursError, ValueError) as exc:
            bad(f"hours {cell('hours')!r}: {exc}")
        entry["hours_text"] = cell("hours_text") or cell("hours")
        free = cell("free").lower()
        entry["free"] = True if free in _TRUE else False if free in _FALSE else None
        entry["for_whom"] = cell("for_whom") or None
        area_text = cell("area")
        if area_text.lower() in ("national", "全国"):
            entry["area"] = "national"
        elif area_text:
            found = areas.find(area_text)
            if found is None:
                bad(f"area {area_text!r} is not a place name, postal code or local government code")
            else:
                entry["area"] = found.code
        entry["address"] = cell("address") or None
        for key in ("lat", "lon"):
            value = cell(key)
            if value:
                try:
                    entry[key] = float(value)
                except ValueError:
                    bad(f"{key} {value!r} is not a number")
        entry["source_url"] = cell("source_url")
        entry["source_date"] = cell("source_date")
        confidence = cell("confidence") or "medium"
        if confidence not in CONFIDENCE:
            bad(f"confidence {confidence!r} is not one of {', '.join(CONFIDENCE)}")
        entry["confidence"] = confidence
        entry["checked"] = cell("checked") or None
        status = cell("status") or "active"
        if status not in STATUS:
            bad(f"status {status!r} is not one of {', '.join(STATUS)}")
        entry["status"] = status
        if cell("notes"):
            entry["notes"] = cell("notes")
        if len(plan.problems) == before:
            plan.entries.append((line, entry))
    return plan


ORDER = ("id", "name", "name_en", "kind", "intents", "phone", "url", "line_url", "hours", "hours_text", "free",
         "for_whom", "languages", "area", "address", "lat", "lon", "source_url", "source_date", "confidence",
         "checked", "status", "notes")


def _represent_none(representer, data):
    return representer.represent_scalar("tag:yaml.org,2002:null", "null")


def _yaml() -> YAML:
    """Round-trip YAML that writes services.yaml back the way people wrote it (null, not empty)."""
    y = YAML(typ="rt")
    y.width = 4096
    y.preserve_quotes = True
    # Nested lists are indented under their key (ruamel applies this to the top level too;
    # dump_catalogue takes those two spaces back, so `- id:` stays at the margin).
    y.indent(mapping=2, sequence=4, offset=2)
    y.representer.add_representer(type(None), _represent_none)
    return y


def dump_catalogue(y: YAML, data) -> str:
    buf = io.StringIO()
    y.dump(data, buf)
    return "".join(line[2:] if line.startswith("  ") else line for line in buf.getvalue().splitlines(keepends=True))


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def flow_style(value):
    """Short lists and hours in flow style, as people write them in services.yaml."""
    if isinstance(value, list):
        seq = CommentedSeq(flow_style(v) for v in value)
        seq.fa.set_flow_style()
        return seq
    if isinstance(value, dict):
        m = CommentedMap((k, flow_style(v)) for k, v in value.items())
        m.fa.set_flow_style()
        return m
    return value


def merge(plan: Plan, catalogue_path: Path, intent_ids: set[str], area_codes: set[str], write: bool) -> list[str]:
    """Compute added/changed/unchanged; with write, merge and save. Returns problems (nothing written if any).

    The file is edited line by line (bot/engine/catalogue/build.py): a changed entry has only the
    lines of its changed keys rewritten, a new one is appended; comments, order and every other
    line stay.  (ruamel's round trip of the whole file took seconds at 1,500 entries.)
    """
    text = catalogue_path.read_text(encoding="utf-8")
    try:
        entries = reader.parse(text)
    except reader.YamlProblem as exc:
        return [f"{catalogue_path.name}:{exc.line}: {exc.message}"]
    lines = text.split("\n")
    position = {str(e.raw.get("id")): i for i, e in enumerate(entries) if isinstance(e.raw, dict)}
    edits: list[tuple[int, int, list[str]]] = []
    fresh: list[dict] = []
    for _, entry in plan.entries:
        i = position.get(entry["id"])
        if i is None:
            plan.added.append(entry["id"])
            fresh.append({key: entry[key] for key in ORDER if key in entry})
            continue
        current = entries[i].raw
        updates = {}
        for key, value in entry.items():
            if value in (None, "", []) and key not in current:
                continue
            if _plain(current.get(key)) != value and str(current.get(key)) != str(value):
                if value in (None, "") and key in ("notes", "name_en", "checked"):
                    continue  # an empty cell never erases an operator's note
                updates[key] = value
        if updates:
            plan.changed.append((entry["id"], list(updates)))
            end = entries[i + 1].line - 1 if i + 1 < len(entries) else len(lines)
            edits += key_edits(lines, entries[i], end, updates)
        else:
            plan.unchanged.append(entry["id"])
    apply_edits(lines, edits)
    text = "\n".join(lines)
    if fresh:
        text = text.rstrip("\n") + "\n\n" + "\n".join(entry_text(e) for e in fresh)
    try:
        load_catalogue(catalogue_path, intent_ids, area_codes, text=text)
    except CatalogueError as exc:
        return [f"after merging: {p}" for p in exc.problems]
    if write and (plan.added or plan.changed):
        tmp = catalogue_path.with_suffix(".yaml.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(catalogue_path)  # atomic: a watching server never reads half a file
    return []

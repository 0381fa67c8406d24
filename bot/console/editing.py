"""「窓口一覧」: the catalogue as staff see it, and the operators' edits and CSV imports.

    listing(filters, time) -> rows with open-now at that time, stale marks
    check() -> the file's problems as `services.yaml:LINE: what is wrong` (what `bot catalogue check` prints)
    edit: form -> the entry's YAML -> spliced into the file in place of the old entry's lines
          (every other line, comment and blank stays byte for byte) -> load_catalogue(text=...) must
          pass -> atomic write -> engine.reload()
    import: CSV -> importer.read_rows (FILE:LINE problems) -> importer.merge dry run = the preview
            -> confirm -> merge(write=True) -> engine.reload()
"""

from __future__ import annotations

import hashlib
import io
import re
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from bot.engine import Engine
from bot.engine.catalogue import reader
from bot.engine.catalogue.hours import HoursError, parse_compact
from bot.engine.catalogue.importer import ORDER, flow_style, merge, read_rows
from bot.engine.catalogue.model import CONFIDENCE, KINDS, STATUS, CatalogueError, Service, load_catalogue

STALE_DAYS = 180  # as `bot catalogue stale`
FIELDS = ("id", "name", "name_en", "kind", "intents", "phone", "url", "line_url", "hours", "hours_text", "free",
          "for_whom", "area", "address", "lat", "lon", "source_url", "source_date", "confidence", "checked",
          "status", "notes")
CONFLICT = "他の人がこの間に services.yaml を変更しました。ページを読み込み直してから、もう一度編集してください。"


def version_of(text: str) -> str:
    """The catalogue version of a file's text (the same short hash as Catalogue.version)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


# Parsing services.yaml round-trip takes most of a second: pages that only read it share one
# parse per version of the file.
_parsed: dict[tuple[str, str], tuple[str, Any]] = {}
_parsed_lock = threading.Lock()


def _cached(kind: str, path: Path, build: Callable[[str], Any]) -> Any:
    text = path.read_text(encoding="utf-8")
    key, version = (kind, str(path)), version_of(text)
    with _parsed_lock:
        hit = _parsed.get(key)
        if hit and hit[0] == version:
            return hit[1]
    value = build(text)
    with _parsed_lock:
        _parsed[key] = (version, value)
    return value


def _remember(kind: str, path: Path, text: str, value: Any) -> None:
    with _parsed_lock:
        _parsed[(kind, str(path))] = (version_of(text), value)


def check(engine: Engine) -> list[str]:
    """The catalogue file's problems right now (the engine keeps serving its last good catalogue)."""
    intents, codes = set(engine.intents), set(engine.areas.places)

    def problems(text: str) -> list[str]:
        try:
            load_catalogue(engine.catalogue_path, intents, codes, text=text)
        except CatalogueError as exc:
            return exc.problems
        return []

    return list(_cached("check", engine.catalogue_path, problems))


# Listing -------------------------------------------------------------------------------------


@dataclass
class Row:
    service: Service
    areas: str
    open_now: str  # "open" | "closed" | "unknown"
    always: bool
    stale: bool
    age: int | None  # days since checked


@dataclass
class Filters:
    need: str = ""
    area: str = ""
    confidence: str = ""
    stale: bool = False
    kind: str = ""


def listing(engine: Engine, f: Filters, at: datetime) -> tuple[list[Row], str | None, str | None]:
    """Rows that pass the filters; the area as understood (name) or an error saying it is unknown."""
    today = at.date()
    area_code, area_name, area_error = None, None, None
    if f.area.strip():
        if f.area.strip() in ("全国", "national"):
            area_code, area_name = "national", "全国"
        else:
            found = engine.find_area(f.area)
            if found is None:
                area_error = f"「{f.area}」という地域が見つかりません（市区町村名・郵便番号・コード）"
            else:
                area_code, area_name = found.code, found.name
    rows = []
    for s in engine.catalogue.services:
        if f.need and f.need not in s.intents:
            continue
        if f.confidence and s.confidence != f.confidence:
            continue
        if f.kind and s.kind != f.kind:
            continue
        if area_code == "national" and not s.national:
            continue
        if area_code and area_code != "national" and (s.national or engine.areas.level(s.areas, area_code) is None):
            continue
        age = (today - s.checked).days if s.checked else None
        stale = age is None or age > STALE_DAYS or s.confidence not in ("high", "medium")
        if f.stale and not stale:
            continue
        is_open = s.hours.is_open(at) if s.hours_certain else None
        rows.append(Row(s, area_names(engine, s.areas), "unknown" if is_open is None else ("open" if is_open else "closed"),
                        s.always_open, stale, age))
    return rows, area_name, area_error


def area_names(engine: Engine, codes: tuple[str, ...]) -> str:
    names = []
    for code in codes:
        place = None if code == "national" else engine.areas.get(code)
        names.append("全国" if code == "national" else (place.name if place else code))
    return "・".join(names)


# Editing one entry ---------------------------------------------------------------------------


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.width = 4096
    y.preserve_quotes = True
    y.indent(mapping=2, sequence=4, offset=2)  # as services.yaml nests lists under a key
    y.representer.add_representer(type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null"))
    return y


@dataclass
class Entries:
    """The file's text and its entries with the lines they stand on.

    The file is read by the catalogue's own reader (milliseconds); only the entry being edited is
    read by ruamel's round trip, which keeps its comments and quoting (the whole file took ruamel
    some 10 s at 1,500 entries).
    """

    text: str
    data: list  # each entry's value, as read (an edited entry: its round-trip mapping)
    starts: list[int]  # 0-based line where each entry's "- " stands

    @classmethod
    def read(cls, path: Path) -> Entries:
        """A fresh parse, to edit."""
        return cls.parse(path.read_text(encoding="utf-8"))

    @classmethod
    def parse(cls, text: str) -> Entries:
        try:
            found = reader.parse(text)
        except reader.YamlProblem:
            data = _yaml().load(text) or CommentedSeq()  # let ruamel say what is wrong, as before
            starts = [data.lc.item(i)[0] for i in range(len(data))] if hasattr(data, "lc") else []
            return cls(text, data, starts)
        return cls(text, [e.raw for e in found], [e.line - 1 for e in found])

    def editable(self, i: int) -> CommentedMap:
        """Entry i as ruamel's round trip reads it alone: its comments and quoting kept for the rewrite."""
        lines = self.text.splitlines(keepends=True)
        end = self.starts[i + 1] if i + 1 < len(self.starts) else len(lines)
        item = (_yaml().load("".join(lines[self.starts[i]:end])) or [None])[0]
        return item if isinstance(item, CommentedMap) else CommentedMap()

    @classmethod
    def shared(cls, path: Path) -> Entries:
        """A parse shared by readers of the same version of the file: never modify it."""
        return _cached("entries", path, cls.parse)

    def index(self, sid: str) -> int | None:
        return next((i for i, item in enumerate(self.data) if isinstance(item, dict) and str(item.get("id")) == sid),
                    None)

    def splice(self, i: int | None, entry: CommentedMap) -> str:
        """The file with entry i's lines replaced by `entry` (appended when i is None)."""
        lines = self.text.splitlines(keepends=True)
        new = _dump_entry(entry)
        if i is None:
            tail = "" if self.text.endswith("\n") or not self.text else "\n"
            return self.text + tail + "\n" + new
        start = self.starts[i]
        end = self.starts[i + 1] if i + 1 < len(self.starts) else len(lines)
        # Blank lines and column-0 comments at the end of the span belong to what follows.
        keep = end
        while keep > start + 1 and (not lines[keep - 1].strip() or lines[keep - 1].startswith("#")):
            keep -= 1
        return "".join(lines[:start]) + new + "".join(lines[keep:])


def _dump_entry(entry: CommentedMap) -> str:
    # Dumped as the item of a list, so that nesting and comment columns come out as in the file;
    # the list's own two-space offset is then taken off every line.
    buf = io.StringIO()
    _yaml().dump(CommentedSeq([entry]), buf)
    out = [line[2:] if line.startswith("  ") else line for line in buf.getvalue().splitlines()]
    while out and (not out[-1].strip() or out[-1].lstrip().startswith("#")):
        out.pop()  # comments after the entry stay where they were in the file
    return "".join(line + "\n" for line in out)


def form_values(entry: dict[str, Any] | None) -> dict[str, str]:
    """An entry as the strings of the edit form."""
    entry = entry or {}
    out: dict[str, str] = {}
    for key in FIELDS:
        value = entry.get(key)
        if value is None:
            out[key] = ""
        elif key in ("intents", "area") and isinstance(value, list):
            out[key] = " ".join(str(v) for v in value)
        elif key == "hours":
            buf = io.StringIO()
            y = _yaml()
            y.default_flow_style = True
            y.dump(flow_style(_quote_times(value)), buf)  # as written in the file: key order, quoted times
            out[key] = buf.getvalue().strip()
        elif key == "free":
            out[key] = "true" if value is True else "false" if value is False else ""
        elif isinstance(value, date):
            out[key] = value.isoformat()
        else:
            out[key] = str(value)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


_TIME = re.compile(r"^\d{1,2}:\d{2}$")


def _quote_times(value: Any) -> Any:
    """"10:00" stays a quoted string: a YAML 1.1 reader would take 10:00 for the number 600."""
    if isinstance(value, dict):
        for k in list(value):
            value[k] = _quote_times(value[k])
        return value
    if isinstance(value, list):
        return [_quote_times(v) for v in value]
    if isinstance(value, str) and _TIME.match(value):
        return DoubleQuotedScalarString(value)
    return value


def _same(a: Any, b: Any) -> bool:
    a, b = _plain(a), _plain(b)
    return a == b and type(a) is type(b)


def _parse_field(key: str, text: str, problems: list[str]) -> Any:
    """One form field -> the YAML value written for it (None for an empty field)."""
    text = text.strip()
    if not text:
        return None
    if key == "intents":
        return flow_style([i for i in re.split(r"[\s,、]+", text) if i])
    if key == "area":
        codes = [a for a in re.split(r"[\s,、]+", text) if a]
        if codes == ["national"]:
            return "national"
        quoted = [DoubleQuotedScalarString(c) for c in codes]
        return quoted[0] if len(quoted) == 1 else flow_style(quoted)
    if key == "phone":
        return DoubleQuotedScalarString(text)
    if key == "hours":
        try:
            value = _yaml().load(text)
        except YAMLError as exc:
            problems.append(f"hours: YAMLとして読めません: {getattr(exc, 'problem', exc)}")
            return None
        if isinstance(value, str):  # the one-line form of the CSV import: "mon-fri 09:00-17:00; closed holidays"
            try:
                value = parse_compact(value)
            except (HoursError, ValueError) as exc:
                problems.append(f"hours: {exc}")
                return None
        return flow_style(_quote_times(value))
    if key == "free":
        return {"true": True, "false": False}.get(text)
    if key in ("lat", "lon"):
        try:
            return float(text)
        except ValueError:
            problems.append(f"{key}: {text!r} は数値ではありません")
            return None
    if key == "checked":
        try:
            return date.fromisoformat(text)
        except ValueError:
            problems.append(f"checked: {text!r} は日付（YYYY-MM-DD）ではありません")
            return None
    return text


@dataclass
class EditResult:
    problems: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    text: str = ""
    written: bool = False


def edit_entry(engine: Engine, sid: str | None, form: dict[str, str], version: str, write: bool) -> EditResult:
    """Apply a form to entry `sid` (a new entry when None); refuse the whole edit on any problem."""
    path = engine.catalogue_path
    entries = Entries.read(path)
    result = EditResult()
    if version and version_of(entries.text) != version:
        result.problems.append(CONFLICT)
        return result
    new_id = form.get("id", "").strip()
    i = entries.index(sid) if sid else None
    if sid and i is None:
        result.problems.append(f"{sid}: そのIDの窓口は services.yaml にありません")
        return result
    if sid is None and entries.index(new_id) is not None:
        result.problems.append(f"{new_id}: そのIDはすでに使われています")
        return result
    current: CommentedMap = entries.editable(i) if i is not None else CommentedMap()
    for key in FIELDS:
        if key not in form:
            continue
        value = _parse_field(key, form[key], result.problems)
        if key in current and _same(current.get(key), value) or key not in current and value is None:
            continue
        if key == "id" and sid is not None and value != sid:
            result.problems.append("id は変えられません（新しい窓口として追加してください）")
            continue
        result.changed.append(key)
        if key in current:
            current[key] = value
        else:
            later = [k for k in ORDER[ORDER.index(key) + 1:] if k in current] if key in ORDER else []
            pos = list(current).index(later[0]) if later else len(current)
            current.insert(pos, key, value)
    if result.problems:
        return result
    text = entries.splice(i, current)
    try:
        load_catalogue(path, set(engine.intents), set(engine.areas.places), text=text)
    except CatalogueError as exc:
        result.problems = exc.problems
        return result
    result.text = text
    if write and result.changed:
        _write(path, text)
        result.written = True
        _remember("check", path, text, [])  # just validated
        if i is not None:  # the parse we edited is the new file's (its line numbers aside)
            entries.data[i] = current
            _remember("entries", path, text, Entries(text, entries.data, []))
    return result


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)  # atomic: a watching server never reads half a file


# CSV import ----------------------------------------------------------------------------------


@dataclass
class ImportPreview:
    filename: str
    problems: list[str] = field(default_factory=list)
    added: list[dict[str, Any]] = field(default_factory=list)  # the new entries
    changed: list[tuple[str, list[tuple[str, Any, Any]]]] = field(default_factory=list)  # id, (field, old, new)
    unchanged: list[str] = field(default_factory=list)
    written: bool = False


def import_csv(engine: Engine, filename: str, text: str, write: bool) -> ImportPreview:
    """Validate a CSV and show (or, with write, make) the changes it would bring to services.yaml."""
    name = Path(filename or "import.csv").name or "import.csv"
    if not name.lower().endswith(".csv"):
        name += ".csv"
    preview = ImportPreview(name)
    intent_ids, codes = set(engine.intents), set(engine.areas.places)
    with tempfile.TemporaryDirectory(prefix="tsunagu-import-") as tmp:
        path = Path(tmp) / name
        path.write_text(text, encoding="utf-8")
        plan = read_rows(path, engine.areas, intent_ids)
        preview.problems = [p.replace(str(path), name, 1) for p in plan.problems]
        if preview.problems:
            return preview
    before = {str(item.get("id")): dict(item) for item in Entries.shared(engine.catalogue_path).data
              if isinstance(item, dict)}
    problems = merge(plan, engine.catalogue_path, intent_ids, codes, write=write)
    if problems:
        preview.problems = problems
        return preview
    entries = dict((e["id"], e) for _, e in plan.entries)
    preview.added = [entries[i] for i in plan.added]
    preview.changed = [(i, [(f, _plain(before.get(i, {}).get(f)), entries[i].get(f)) for f in fields])
                       for i, fields in plan.changed]
    preview.unchanged = list(plan.unchanged)
    preview.written = write and bool(plan.added or plan.changed)
    if preview.written:  # merge validated what it wrote
        _remember("check", engine.catalogue_path, engine.catalogue_path.read_text(encoding="utf-8"), [])
    return preview


__all__ = ["CONFIDENCE", "KINDS", "STATUS", "check", "edit_entry", "form_values", "import_csv", "listing"]

"""Operators keep services.yaml true: `bot catalogue check` says file:line what is wrong."""

from __future__ import annotations

import random
import subprocess
import sys
from datetime import date

import pytest

from bot.cli import main
from bot.engine.catalogue import reader
from bot.engine.catalogue.model import CatalogueError, load_catalogue, valid_phone
from tests.support import ROOT, SHARED


def test_the_shipped_catalogue_passes_the_check(capsys):
    assert main(["catalogue", "check"]) == 0
    assert "no problems" in capsys.readouterr().out


def broken_copy(tmp_path, old: str, new: str):
    text = (ROOT / "services.yaml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "services.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    line = text[: text.index(old)].count("\n") + 1
    return path, line


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("  phone: 0120-279-338\n", "  phone: 0120-279-33X\n", "not a number as dialled"),
        ("intents: [suicide_risk, loneliness", "intents: [suicidal, loneliness", "unknown intent id 'suicidal'"),
        ("  hours: {always: true}\n  hours_text: 24時間・365日", "  hours: {weekly: [{days: [mon], open: '9', close: '17'}]}\n  hours_text: 24時間・365日",
         "not HH:MM"),
        ("  confidence: high\n", "  confidence: sure\n", "confidence 'sure'"),
        ("- id: yorisoi_hotline_tohoku\n", "- id: yorisoi_hotline\n", "duplicate id"),
    ],
)
def test_a_broken_line_is_reported_with_file_and_line(tmp_path, capsys, old, new, message):
    path, line = broken_copy(tmp_path, old, new)
    assert main(["catalogue", "check", str(path)]) == 1
    out = capsys.readouterr().out
    assert message in out
    reported = [ln for ln in out.splitlines() if message in ln][0]
    assert reported.startswith(f"{path}:")
    assert abs(int(reported.split(":")[1]) - line) <= 12  # the entry's line or the field's line


def test_yaml_that_does_not_parse_is_reported_at_its_line(tmp_path, capsys):
    path = tmp_path / "services.yaml"
    path.write_text("- id: a\n  name: [unclosed\n", encoding="utf-8")
    assert main(["catalogue", "check", str(path)]) == 1
    assert "not valid YAML" in capsys.readouterr().out


@pytest.mark.parametrize("number", ["0120-279-338", "#8891", "189", "0570-078374", "0800-100-2707", "090-2599-3105"])
def test_phone_formats_that_residents_dial(number):
    assert valid_phone(number)


@pytest.mark.parametrize("number", ["0120-279-33", "12-3456", "0120--279-338", "#88", "電話", "1190"])
def test_phone_formats_that_are_wrong(number):
    assert not valid_phone(number)


def test_every_entry_keeps_its_source_date_and_confidence():
    cat = load_catalogue(ROOT / "services.yaml")
    assert len(cat.services) > 70
    for s in cat.services:
        assert s.source_url and s.source_date and s.confidence


def test_not_standing_services_are_paused_and_never_open():
    cat = load_catalogue(ROOT / "services.yaml")
    for sid in ("kodoku_9999", "hataraku_denwa"):
        s = cat.get(sid)
        assert s is not None and s.status == "paused" and not s.hours_certain


@pytest.mark.skipif(not (SHARED / "tools" / "phones_check.py").exists(), reason="shared tools not beside the repo")
def test_every_phone_number_is_in_a_sourced_table():
    done = subprocess.run(
        [sys.executable, str(SHARED / "tools" / "phones_check.py"), "services.yaml",
         str(SHARED / "data" / "sourced"), "data/sourced"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stdout
    assert done.stdout.strip().endswith("0 unknown")


def test_stale_lists_the_least_certain_first(capsys):
    assert main(["catalogue", "stale", "--days", "30"]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if "checked" in ln and "source" in ln]
    assert lines, "nothing listed"
    order = {"not-standing": 0, "incomplete": 1, "low": 2, "medium": 3, "high": 4}
    ranks = [order[ln.split()[2]] for ln in lines]
    assert ranks == sorted(ranks)


# -- reading services.yaml quickly: the same values and lines as ruamel's round-trip loader ----------


def _plain(value):
    """A value with its kind (bool is not int, a date is not a str), whatever classes ruamel used."""
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    for kind in (bool, int, float, str, date):
        if isinstance(value, kind):
            return (kind.__name__, kind(value) if kind is not date else value)
    return value if value is None else (type(value).__name__, repr(value))


def _reading(read, text):
    try:
        return [(_plain(e.raw), e.line, e.keys) for e in read(text)]
    except reader.YamlProblem as exc:
        return ("problem", exc.line, exc.message)


def _same_as_ruamel(text):
    fast, whole = _reading(reader.parse, text), _reading(reader.parse_whole, text)
    if whole[:2] == ("problem", 0) and fast[0] == "problem":
        fast = (*fast[:1], 0, *fast[2:])  # ruamel raised a plain ValueError or TypeError: the entry's line is told
    assert fast == whole


def test_the_shipped_file_reads_the_same_fast_and_by_ruamel():
    text = (ROOT / "services.yaml").read_text(encoding="utf-8")
    _same_as_ruamel(text)
    by_hand, lines = reader._Reader(), text.split("\n")
    starts = [n for n, ln in enumerate(lines) if ln.startswith("- ")] + [len(lines)]
    for a, b in zip(starts, starts[1:], strict=False):
        by_hand.entry(lines, a, b)  # every entry is in the shape read fast: none left to ruamel


ENTRY = """- id: a_1
  name: 名前 (a)
  kind: phone
  intents: [suicide_risk, loneliness]
  phone: 0120-279-338
  phone_alt:
    - {number: 0570-064-556, note: 月〜金 9:00〜21:00、土日 10:00〜16:00}
  hours:
    weekly:
      - {days: [mon, tue], open: "09:00", close: '17:00'}
    closed: [holidays, "12-28..01-03"]
  free: true
  lat: 35.5
  area: "22"
  checked: 2024-06-12
  source_date: "2024-06-12 (x)"
  notes: a # a comment
"""

AWKWARD = [
    "",
    "# only comments\n\n",
    "- id: a\n- id: b\n",
    "- id: a\n  x: &anchor [1, 2]\n- id: b\n  y: *anchor\n",
    "- id: a\n  notes: |\n    two\n    lines\n",
    "- id: a\n  notes: >-\n    folded\n    text\n",
    "- id: a\n  notes: going\n    on over lines\n",
    "- id: a\n  notes: \"an \\\"escaped\\\" quote\\n\"\n",
    "- id: a\n  notes: 'it''s'\n",
    "- id: a\n  notes: \"multi\n  line\"\n",
    "- id: a\n  notes: 'open\n- id: b\n  x: it'\n",
    "- id: a\n  intents: [a,\n    b]\n",
    "- id: a\n  intents: [a,\n- id: b\n",
    "- id: a\n  id: b\n",
    "- id: a\n  hours: {a: 1, a: 2}\n",
    "- id: a\n  id: b\n- id: c\n  name: [unclosed\n",
    "- id: a\n\tname: tab\n",
    "- id: a\n  name: x\r\n  kind: phone\r\n",
    "\ufeff- id: a\n",
    "\ufeff# c\n- id: a\n  name: b\n",
    "\ufeff\ufeff- id: a\n",
    "- id: a\n  name: \ufeffb\n",
    "- id: a\n---\n- id: b\n",
    "%YAML 1.1\n---\n- id: a\n  free: yes\n",
    "id: a\nname: b\n",
    "  - id: a\n  - id: b\n",
    "[{id: a}]\n",
    "- just a string\n- id: b\n",
    "- [1, 2]\n",
    "-\n  id: a\n",
    "- id: a\n  nth: -1\n  n: +2\n  f: .5\n  e: 1e3\n  o: 0o17\n  z: 0120\n  u: 1_000\n",
    "- id: a\n  t: True\n  f: FALSE\n  y: yes\n  n: ~\n  N: Null\n  e:\n",
    "- id: a\n  d: 2024-02-30\n- id: b\n  x: [\n",
    "- id: a\n  ts: 2001-12-14t21:59:43.10-05:00\n",
    "- id: a\n  null: 1\n",
    "- id: a\n  true: 1\n",
    "- id: a\n  <<: {b: 1}\n",
    "- id: a\n  1: x\n",
    "- id: a\n  名前: x\n",
    "- id: a\n  key : x\n",
    "- id: a\n  \"quoted\": x\n",
    "- id: a\n  x: a: b\n",
    "- id: a\n  x: a:b\n  y: a#b\n  z: a #b\n  w: 'q' # c\n  v: [a:b, 'c', \"d\"] # c\n",
    "- id: a\n  x: [a: b]\n",
    "- id: a\n  x: [a:]\n",
    "- id: a\n  x: [a, b,]\n",
    "- id: a\n  x: {a}\n",
    "- id: a\n  x: {a: }\n",
    "- id: a\n  x: {\"a\": 1}\n",
    "- id: a\n  x: [a b, c  d , ?e, f?]\n",
    "- id: a\n  x: [-1, -a, - a]\n",
    "- id: a\n  x: 'a' b\n",
    "- id: a\n  x: \"a\"b\n",
    "- id: a\n  x: [a] b\n",
    "- id: a\n  x: !!str 1\n",
    "- id: a\n  x: @a\n",
    "- id: a\n  x: `a\n",
    "- id: a\n  x: %a\n",
    "- id: a\n  x:\n  - a\n  - b\n  y: c\n",
    "- id: a\n  x:\n    - a\n    - - b\n",
    "- id: a\n  x:\n    -\n      b: 1\n",
    "- id: a\n  x:\n    - b: 1\n      c: 2\n    - d\n",
    "- id: a\n  x:\n    - b: 1\n     c: 2\n",
    "- id: a\n  x:\n    a: 1\n   b: 2\n",
    "- id: a\n  x:\n      a: 1\n    b: 2\n",
    "- id: a\n  x: 1\n    y: 2\n",
    "- id: a\n   x: 1\n",
    "- id: a\n x: 1\n",
    "- id: a\nx: 1\n",
    "- id: a\n  x:\n    # a comment\n    a: 1\n  # another\n  y: 2\n# the end\n",
    "- id: a\n  x: \"a\\u00e9\"\n",
    "- id: a\n  x: \x07\n",
    "- id: a\n  x: a\u2028b\n",
    "- id: a  # c\n  name: b\n",
    "- # c\n  id: a\n",
    "-  id: a\n   name: b\n",
    "- id: a\n  x: ...\n  y: ---\n  z: - a\n",
    "- id: a\n  x: [a, [b, {c: d}], {e: [f]}]\n",
    "- id: a\n  x: {a: 1, b: [2, 3]}\n  y: {a: 1, b: [2, 3]}\n",
    ENTRY,
    ENTRY + ENTRY.replace("a_1", "a_2"),
]


@pytest.mark.parametrize("text", AWKWARD)
def test_what_is_not_the_catalogue_s_own_shape_reads_as_ruamel_reads_it(text):
    _same_as_ruamel(text)


def test_a_date_that_is_not_one_is_refused_at_its_entry(tmp_path):
    text = "- id: a\n  name: b\n- id: c\n  checked: 2024-13-45\n"
    assert _reading(reader.parse, text) == ("problem", 3, "not valid YAML: month must be in 1..12")
    assert _reading(reader.parse_whole, text) == ("problem", 0, "not valid YAML: month must be in 1..12")
    path = tmp_path / "services.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogueError) as refused:  # ruamel raised ValueError through load_catalogue
        load_catalogue(path)
    assert refused.value.problems == [f"{path}:3: not valid YAML: month must be in 1..12"]


def test_an_unclosed_quote_is_reported_where_ruamel_finds_it_without_reading_the_rest_by_ruamel(monkeypatch):
    text = "".join(f"- id: e{n}\n  name: \"n{n}\"\n" for n in range(2000))
    text = text.replace('name: "n5"', 'name: "n5', 1)
    read = []
    original = reader.YAML

    def spy(*args, **kw):
        yaml = original(*args, **kw)
        load = yaml.load
        yaml.load = lambda stream: (read.append(len(stream)), load(stream))[1]
        return yaml

    monkeypatch.setattr(reader, "YAML", spy)
    fast = _reading(reader.parse, text)
    monkeypatch.undo()
    assert fast == _reading(reader.parse_whole, text)
    assert fast[0] == "problem" and fast[1] == 14  # the quote opened on line 12 closes on 14
    assert len(read) == 2  # the entry, then from the entry on: ruamel stops at the error, near it


def test_edits_of_real_entries_read_as_ruamel_reads_them():
    text = (ROOT / "services.yaml").read_text(encoding="utf-8")
    entries = ["- " + e for e in text.split("\n- ")[1:]]
    rng = random.Random(11)
    alphabet = list(" :#-'\"[]{},&*!|>\n\t?%@`x1.") + ["  ", ": ", " #", "\n  ", "\n- "]
    for _ in range(150):
        doc = "".join(rng.sample(entries, 3))
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(doc))
            doc = doc[:at] + rng.choice(alphabet) + doc[at + rng.choice((0, 0, 1)):]
        _same_as_ruamel(doc)


def test_a_large_catalogue_is_loaded_in_a_child_process_to_the_same_services(monkeypatch, tmp_path):
    from bot.engine.catalogue import aside

    monkeypatch.setattr(aside, "INLINE_BYTES", 0)
    path = ROOT / "services.yaml"
    here = load_catalogue(path, {i for s in load_catalogue(path).services for i in s.intents})
    loaded = aside.load_aside(path, {i for s in here.services for i in s.intents})
    assert loaded.services == here.services and (loaded.version, loaded.path) == (here.version, here.path)
    assert loaded.by_intent.keys() == here.by_intent.keys()

    broken, line = broken_copy(tmp_path, "  confidence: high\n", "  confidence: sure\n")
    with pytest.raises(CatalogueError) as refused:
        aside.load_aside(broken)
    with pytest.raises(CatalogueError) as here_refused:
        load_catalogue(broken)
    assert refused.value.problems == here_refused.value.problems
    assert any(p.startswith(f"{broken}:") and "confidence 'sure'" in p for p in refused.value.problems)


def test_a_text_about_to_be_written_is_checked_in_the_child(monkeypatch, tmp_path):
    from bot.engine.catalogue import aside

    monkeypatch.setattr(aside, "INLINE_BYTES", 0)
    path = ROOT / "services.yaml"
    text = path.read_text(encoding="utf-8").replace("  confidence: high\n", "  confidence: sure\n", 1)
    with pytest.raises(CatalogueError) as refused:
        aside.load_aside(path, text=text)
    with pytest.raises(CatalogueError) as here_refused:
        load_catalogue(path, text=text)
    assert refused.value.problems == here_refused.value.problems != []


def test_without_a_child_the_catalogue_is_loaded_here(monkeypatch):
    from bot.engine.catalogue import aside

    monkeypatch.setattr(aside, "INLINE_BYTES", 0)
    monkeypatch.setattr(aside.sys, "executable", "/nonexistent/python")
    cat = aside.load_aside(ROOT / "services.yaml")
    assert cat.services == load_catalogue(ROOT / "services.yaml").services


def test_a_reload_swaps_the_catalogue_whole_and_leaves_one_still_held_intact(tmp_path):
    import copy
    import threading

    from tests.support import engine

    subject = copy.copy(engine())  # its own path and lock, the same matcher and areas
    subject._lock = threading.Lock()
    subject.catalogue_path = tmp_path / "services.yaml"
    subject.catalogue_path.write_text((ROOT / "services.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    held = subject.catalogue  # the shared engine's too: a reload must not empty it
    count, indexed = len(held.services), len(held.local)
    with subject.catalogue_path.open("a", encoding="utf-8") as f:
        f.write("\n# a comment: a new version\n")
    assert subject.reload() == []
    assert subject.catalogue is not held and subject.catalogue.version != held.version
    assert len(held.services) == count and len(held.local) == indexed
    assert [s.id for s in subject.catalogue.services] == [s.id for s in held.services]


def test_a_catalogue_nobody_reads_is_let_go_in_slices():
    cat = load_catalogue(ROOT / "services.yaml")
    cat.release(step=7)
    assert cat.services == () and not (cat.by_id or cat.local or cat.by_intent or cat.national)

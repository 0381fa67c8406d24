"""Operators keep services.yaml true: `bot catalogue check` says file:line what is wrong."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bot.catalogue import load_catalogue, valid_phone
from bot.cli import main
from tests.helpers import ROOT, SHARED


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

"""The `bot` command as a new user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support import ROOT, SHARED


def run(*args, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=ROOT, input=stdin,
                          capture_output=True, text=True, timeout=120)


def test_route_jsonl_answers_each_line_in_order():
    lines = [
        {"text": "もう死にたい", "at": "2026-12-01T03:00:00"},
        {"text": "ひきこもりの息子のことで相談したい", "area": "浜松市"},
        {"text": "ひきこもり", "area": "4300929"},
        {"text": "ひきこもり", "lat": 34.7038, "lon": 137.7346},
        {"text": "ひきこもり", "area": "どこでもない町"},
        "not an object",
    ]
    done = run("route", "--jsonl", stdin="\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n")
    assert done.returncode == 0, done.stderr
    out = [json.loads(x) for x in done.stdout.splitlines()]
    assert len(out) == len(lines)
    assert out[0]["crisis"] is True and out[0]["services"][0]["open_now"] is True
    for o in out[1:4]:
        assert o["intents"][0]["id"] == "hikikomori"
        assert "053-457-2709" in [s["phone"] for s in o["services"]]
    assert out[3]["area"]["approximate"] is True
    assert out[4]["ask_area"] is True and out[4]["services"]
    assert "error" in out[5]


def test_test_referrals_prints_a_report_and_the_closing_line(tmp_path):
    cases = tmp_path / "cases.yaml"
    cases.write_text('- {text: "死にたい", expect: [suicide_risk], crisis: true}\n'
                     '- {text: "こんにちは", expect: [greeting], crisis: absent}\n', encoding="utf-8")
    done = run("test-referrals", str(cases))
    assert done.returncode == 0, done.stdout
    assert "crisis recall: 1.000" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "2 passed, 0 failed"


def test_test_referrals_fails_and_says_why(tmp_path):
    cases = tmp_path / "cases.yaml"
    cases.write_text('- {text: "こんにちは", expect: [hikikomori]}\n', encoding="utf-8")
    done = run("test-referrals", "--json", str(cases))
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["failed"] == 1 and report["failures"][0]["got"] == "greeting"
    assert report["failures"][0]["why"]


def test_dev_cases_all_pass_when_shared_is_present():
    dev = SHARED / "referrals" / "dev.yaml"
    if not dev.exists():
        return
    done = run("test-referrals", str(dev))
    assert done.returncode == 0, done.stdout[-3000:]
    assert "crisis recall: 1.000" in done.stdout


def test_every_command_has_help_text():
    from bot.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, p in sub.choices.items():
        assert p.description or sub._name_parser_map[name].format_help(), name
    helps = {a.dest: a.help for a in sub._choices_actions}
    assert all(helps.values()), helps


def test_i18n_check_passes_on_the_shipped_locales_and_fails_on_a_missing_key(tmp_path):
    import shutil

    done = run("i18n", "check")
    assert done.returncode == 0, done.stdout
    assert "10 languages" in done.stdout
    copy = tmp_path / "locales"
    shutil.copytree(ROOT / "locales", copy)
    ko = copy / "ko.yaml"
    ko.write_text("\n".join(x for x in ko.read_text(encoding="utf-8").splitlines()
                            if not x.lstrip().startswith("if_unsure:")), encoding="utf-8")
    done = run("i18n", "check", str(copy))
    assert done.returncode == 1
    assert "ko.yaml" in done.stdout and "checkin.if_unsure missing" in done.stdout

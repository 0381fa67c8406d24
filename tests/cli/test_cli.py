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


def test_route_jsonl_says_the_reply_language_and_each_services_languages():
    lines = [
        {"text": "Tôi muốn chết", "at": "2026-12-01T03:00:00"},
        {"text": "Necesito ayuda, no tengo dinero"},
        {"text": "ひきこもりの息子のことで相談したい", "lang": "ko"},
        {"text": "ok", "lang": "xx"},
        {"text": "うん", "asked": "suicide_check"},
    ]
    done = run("route", "--jsonl", stdin="\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n")
    assert done.returncode == 0, done.stderr
    out = [json.loads(x) for x in done.stdout.splitlines()]
    assert out[0]["lang"] == "vi" and out[0]["language"] == "vi" and out[0]["services"]
    assert all(isinstance(s["languages"], list) for s in out[0]["services"])
    assert out[1]["lang"] == "ja-easy" and out[1]["with_english"] and out[1]["intents"][0]["id"] == "financial_hardship"
    assert out[2]["lang"] == "ko" and out[2]["intents"][0]["id"] == "hikikomori"
    assert "error" in out[3] and "lang must be one of" in out[3]["error"]
    assert "error" not in out[4]
    done = run("route", "--jsonl", "--lang", "tl", stdin='{"text": "死にたい"}\n')
    assert json.loads(done.stdout)["lang"] == "tl"


def test_chat_remembers_the_language_chosen_and_a_number_chooses_one_of_the_needs_offered():
    done = run("chat", "--at", "2026-12-02T12:00", stdin="今日の天気は？\n4\n/lang vi\nok\n")
    assert done.returncode == 0, done.stderr
    from bot.engine import texts

    replies = done.stdout.split("> ")
    assert texts.say("ja", "opening.out_of_scope") in replies[1] and "4. 職場の困りごと" in replies[1]
    assert texts.say("ja", "opening.workplace_trouble") in replies[2]
    assert texts.say("vi", "chat.lang_set") in replies[3]
    assert texts.say("vi", "unsure.opening") in replies[4], "ok: too little to tell what is needed, asked in Vietnamese"


def test_chat_reads_the_next_line_as_the_answer_to_the_check_in(understood, monkeypatch, capsys):
    import io

    from bot.cli import build_parser, cmd_chat
    from bot.engine import texts

    engine = understood
    monkeypatch.setattr(sys, "stdin", io.StringIO("何もかも面倒になった\nうん\nぜんぶ嫌になった\nそこまでじゃない\n"))
    assert cmd_chat(build_parser().parse_args(["chat", "--at", "2026-12-01T03:00"]), engine) == 0
    replies = capsys.readouterr().out.split("> ")
    assert replies[1].index("0120-279-338") < replies[1].index(texts.say("ja", "checkin.question"))
    assert replies[2].startswith(texts.say("ja", "checkin.if_yes")) and "【今つながる相談先】" in replies[2]
    assert replies[4].startswith(texts.say("ja", "checkin.if_no")) and "0120-279-338" in replies[4]

"""Hours that agree with their own words: the source's hours_text read, and the structure checked against it.

The sentences are the kind sources print (several copied from data/sourced rows).
"""

from __future__ import annotations

import pytest

from bot.cli import main
from bot.engine.catalogue.hours import parse_hours
from bot.engine.catalogue.hourstext import contradictions, place_schedule, structured
from tests.support import ROOT, at


@pytest.mark.parametrize("words, hours", [
    ("月曜日～金曜日 8:30～17:15（休: 祝日・年末年始）",
     {"weekly": [{"days": ["mon", "tue", "wed", "thu", "fri"], "open": "08:30", "close": "17:15"}],
      "closed": ["holidays", "new_year"]}),
    ("平日 8:30～20:00、土曜日・日曜日・祝日 9:00～18:00",
     {"weekly": [{"days": ["mon", "tue", "wed", "thu", "fri"], "open": "08:30", "close": "20:00"},
                 {"days": ["sat", "sun"], "open": "09:00", "close": "18:00"}],
      "holidays": [{"open": "09:00", "close": "18:00"}]}),
    ("月曜日から金曜日の午前8時30分から午後5時（正午から午後1時は昼休み。祝日、年末年始は休み）",
     {"weekly": [{"days": ["mon", "tue", "wed", "thu", "fri"], "open": "08:30", "close": "12:00"},
                 {"days": ["mon", "tue", "wed", "thu", "fri"], "open": "13:00", "close": "17:00"}],
      "closed": ["holidays", "new_year"]}),
    ("10:00〜16:00（木・日・祝除く）— 2017年開設時",
     {"weekly": [{"days": ["mon", "tue", "wed", "fri", "sat"], "open": "10:00", "close": "16:00"}],
      "closed": ["holidays"]}),
    ("24時間365日", {"always": True}),
    ("月・木・金曜は24時間", {"weekly": [{"days": ["mon", "thu", "fri"], "open": "00:00", "close": "24:00"}]}),
])
def test_words_that_leave_no_doubt_become_structured_hours(words, hours):
    assert structured(words) == hours


@pytest.mark.parametrize("words", [
    "9:00～21:00（休: 祝日・年末年始）",  # times, but which days?
    "平日 9:00〜20:00、土曜 〜16:00（開設1年時）",  # Saturday has no opening time
    "月曜日～金曜日 9:00～21:00、土曜日・日曜日 9:00～16:00（休: 祝日・年末年始・施設メンテナンス日）",
    "火〜土 9:00〜17:00（祝日・年末年始、月曜が祝日と重なる時はその直後の平日を除く）",
    "（2017年の講演録では平成27年6月から24時間体制の相談対応と記載。現行時間は未確認）",
])
def test_words_that_leave_doubt_give_no_hours_so_the_bot_sends_people_to_the_official_site(words):
    assert structured(words) is None


def test_a_sentence_about_another_line_is_not_read_as_this_one():
    words = ("月〜金 10:00〜17:00（祝日・年末年始除く）。DV被害者ホットラインは土・日・祝 10:00〜18:00（年末年始除く）。"
             "SNS相談 水 17:00〜22:00、土 12:00〜17:00")
    assert structured(words, ("052-351-5388",), "名古屋市配偶者暴力相談支援センター") == {
        "weekly": [{"days": ["mon", "tue", "wed", "thu", "fri"], "open": "10:00", "close": "17:00"}],
        "closed": ["holidays", "new_year"]}


HOKKAIDO_DV = "月曜日～金曜日 9:00～17:00・18:00～20:00、土曜日・日曜日・祝日 9:00～18:00（休: 12月29日～1月3日）"


def test_a_centre_open_on_holidays_shown_as_closed_on_them_is_caught():
    closed_on_holidays = parse_hours({"weekly": [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "open": "09:00", "close": "17:00"},
        {"days": ["sat", "sun"], "open": "09:00", "close": "18:00"}], "closed": ["holidays", "new_year"]})
    assert contradictions(closed_on_holidays, HOKKAIDO_DV) == [
        "the source is open on public holidays (祝日); the hours close them"]
    as_read = parse_hours(structured(HOKKAIDO_DV))
    assert contradictions(as_read, HOKKAIDO_DV) == []
    assert as_read.is_open(at("2026-11-23T10:00")) is True  # 勤労感謝の日, a Monday: the holiday's hours
    assert as_read.is_open(at("2026-11-23T19:00")) is False  # not the weekday evening slot
    assert as_read.is_open(at("2027-01-01T10:00")) is False  # New Year


@pytest.mark.parametrize("hours, words, problem", [
    ({"weekly": [{"days": ["mon", "tue", "wed", "thu", "fri"], "open": "09:00", "close": "17:00"}]},
     "24時間365日", "the source says 24 hours"),
    ({"always": True}, "月〜金 9:00〜17:00（祝日・年末年始除く）", "the hours say 24 hours"),
    ({"weekly": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat"], "open": "09:00", "close": "17:00"}]},
     "9:30〜17:00（土・日・祝・年末年始休み）", "the source is closed on 土曜"),
    ({"weekly": [{"days": ["mon", "tue", "wed", "thu", "fri"], "open": "09:00", "close": "16:00"}]},
     "平日 9:00～16:00、土曜日 9:00～12:00", "the source is open on 土曜"),
    ({"weekly": [{"days": ["mon", "tue", "wed", "thu", "fri"], "open": "09:00", "close": "17:00"}]},
     "月〜金 9:00〜12:00、13:00〜17:00", "the source closes for lunch (12:00〜13:00)"),
    ({"weekly": [{"days": ["mon", "tue", "wed", "thu", "fri"], "open": "09:00", "close": "17:00"}]},
     "月〜金 9:00〜17:00（祝日・年末年始除く）", "the source closes on public holidays"),
    ({"weekly": [{"days": ["tue", "fri"], "open": "10:00", "close": "16:00"}], "closed": ["holidays", "new_year"]},
     "毎週火・金 10:00〜16:00（祝日・8/13〜15・12/29〜1/3除く）", "the source closes 8/13〜8/15"),
])
def test_each_kind_of_contradiction_is_named(hours, words, problem):
    found = contradictions(parse_hours(hours), words)
    assert any(p.startswith(problem) for p in found), found


def test_a_closure_the_format_cannot_hold_closes_no_weekday():
    # 「施設メンテナンス日」 ends in 日 but is not Sunday; 「毎月第4月曜」 is not every Monday.
    hours = parse_hours({"weekly": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                                     "open": "10:00", "close": "17:00"}], "closed": ["new_year"]})
    assert contradictions(hours, "毎日 10:00〜17:00（休: 施設メンテナンス日・毎月第4月曜・年末年始）") == []


@pytest.mark.parametrize("words, hours", [
    ("第2・第4土曜日 13:00〜15:00", {"nth_weekday": [
        {"nth": 2, "weekday": "sat", "open": "13:00", "close": "15:00"},
        {"nth": 4, "weekday": "sat", "open": "13:00", "close": "15:00"}]}),
    ("1か月に1回／曜日:水／第４水曜日／16:30〜18:30", {"nth_weekday": [
        {"nth": 4, "weekday": "wed", "open": "16:30", "close": "18:30"}]}),
    ("週に１回／曜日:金／18:00〜19:00", {"weekly": [{"days": ["fri"], "open": "18:00", "close": "19:00"}]}),
    ("曜日:土／12:00〜13:30", None),  # a weekday alone: many meet once a month
    ("偶数月 第3日曜日 13時~15時", None),
    ("月1回不定期 12時～／12:00〜", None),
])
def test_a_places_schedule_is_read_only_when_day_and_both_times_are_fixed(words, hours):
    assert place_schedule(words) == hours


def test_catalogue_check_warns_at_the_entry_and_fails(tmp_path, capsys):
    text = (ROOT / "services.yaml").read_text(encoding="utf-8")
    start = text.index("- id: dv_hokkaido\n")
    old = "    holidays:\n      - {open: \"09:00\", close: \"18:00\"}\n    closed: [new_year]\n"
    assert text.index(old, start) < text.index("- id:", start + 5)
    broken = text[:start] + text[start:].replace(old, "    closed: [holidays, new_year]\n", 1)
    path = tmp_path / "services.yaml"
    path.write_text(broken, encoding="utf-8")
    line = broken[:start].count("\n") + 1
    assert main(["catalogue", "check", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}:{line}: dv_hokkaido: hours: the source is open on public holidays (祝日); the hours close them" in out

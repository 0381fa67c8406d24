"""Every fixed text in every reply language (locales/*.yaml), and the check that keeps them whole."""

from __future__ import annotations

import shutil

from bot.engine import texts
from bot.types import REPLY_LANGS
from tests.support import ROOT


def test_the_shipped_locales_pass_the_check():
    assert texts.check() == []


def test_every_language_has_every_text_of_japanese():
    tables = texts.load()
    assert set(tables) == set(REPLY_LANGS)
    for lang, table in tables.items():
        assert table.keys() == tables["ja"].keys(), lang
        assert texts.say(lang, "meta.review")


def test_the_check_fails_when_one_key_is_missing_in_one_language(tmp_path):
    copy = tmp_path / "locales"
    shutil.copytree(ROOT / "locales", copy)
    vi = copy / "vi.yaml"
    lines = vi.read_text(encoding="utf-8").splitlines(keepends=True)
    gone = next(n for n, line in enumerate(lines) if line.lstrip().startswith("speaks:"))
    vi.write_text("".join(lines[:gone] + lines[gone + 1:]), encoding="utf-8")
    problems = texts.check(copy)
    assert len(problems) == 1
    assert "vi.yaml" in problems[0] and "reply.speaks missing" in problems[0]


def test_the_check_fails_on_other_placeholders_a_long_label_and_no_review_status(tmp_path):
    copy = tmp_path / "locales"
    shutil.copytree(ROOT / "locales", copy)
    pt = copy / "pt.yaml"
    text = pt.read_text(encoding="utf-8")
    text = text.replace("{name}", "{nome}", 1)
    text = text.replace("  call: ", "  call: Ligue já para este número, por favor ", 1)
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("review:"))
    pt.write_text(text, encoding="utf-8")
    problems = "\n".join(texts.check(copy))
    assert "placeholders ['nome']" in problems
    assert "button.call: label of" in problems
    assert "meta.review" in problems
    assert all("pt.yaml" in p for p in problems.splitlines())


def test_placeholders_are_filled_and_weekdays_are_seven():
    assert texts.say("en", "reply.area_used", name="Hamamatsu").startswith("Including services for Hamamatsu")
    for lang in REPLY_LANGS:
        assert len(texts.weekdays(lang)) == 7, lang
        assert "{" not in texts.say(lang, "reply.speaks", language="X"), lang

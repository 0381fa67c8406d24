"""Operators bring their own lists: `bot catalogue import FILE.csv`."""

from __future__ import annotations

import shutil

from bot.cli import main
from bot.engine.catalogue.model import load_catalogue
from tests.support import ROOT

# Clearly fictional places: the catalogue never ships invented ones.
GOOD = """名称,ID,種別,ニーズ,電話,受付時間（構造）,受付時間,地域,住所,緯度,経度,出典URL,出典日,確度
架空の認知症カフェ「テストの庭」,test_cafe_niwa,place,dementia caregiver_burden,,毎月第2土曜 10:00-12:00,毎月第2土曜 10時〜12時,浜松市,架空町1-2-3,34.71,137.73,https://example.org/fictional-cafe,2026-11-01,medium
架空の子ども食堂「テスト食堂」,test_kodomo_shokudo,place,food,,last sun 11:00-13:00,毎月最終日曜 11時〜13時,4300929,架空町4-5-6,34.70,137.72,https://example.org/fictional-shokudo,2026-11-01,low
"""

BROKEN = """name,id,kind,intents,phone,hours,area,source_url,source_date
架空の窓口A,test_a,centre,hikikomori,053-000,mon-fri 09:00-17:00,浜松市,https://example.org/a,2026-11-01
架空の窓口B,test_b,centre,unknown_need,,mon-fri 9-17,浜松市,https://example.org/b,2026-11-01
架空の窓口C,test_c,centre,hikikomori,,,どこにもない村,https://example.org/c,
"""


def catalogue_copy(tmp_path):
    target = tmp_path / "services.yaml"
    shutil.copy(ROOT / "services.yaml", target)
    return target


def test_a_dry_run_shows_what_would_change_and_writes_nothing(tmp_path, capsys):
    target = catalogue_copy(tmp_path)
    before = target.read_text(encoding="utf-8")
    csv = tmp_path / "places.csv"
    csv.write_text(GOOD, encoding="utf-8")
    assert main(["--catalogue", str(target), "catalogue", "import", str(csv)]) == 0
    out = capsys.readouterr().out
    assert "added 2, changed 0" in out and "+ test_cafe_niwa" in out
    assert target.read_text(encoding="utf-8") == before


def test_write_merges_keeping_comments_and_the_result_passes_the_check(tmp_path, capsys):
    target = catalogue_copy(tmp_path)
    csv = tmp_path / "places.csv"
    csv.write_text(GOOD, encoding="utf-8")
    assert main(["--catalogue", str(target), "catalogue", "import", str(csv), "--write"]) == 0
    text = target.read_text(encoding="utf-8")
    assert "# --- 緊急通報 ---" in text  # comments survive
    cat = load_catalogue(target)
    cafe = cat.get("test_cafe_niwa")
    assert cafe is not None and cafe.area == "221309" and cafe.hours.nth_weekday
    shokudo = cat.get("test_kodomo_shokudo")
    assert shokudo is not None and shokudo.area == "221309"  # from the postal code
    # Importing the same file again changes nothing.
    capsys.readouterr()
    assert main(["--catalogue", str(target), "catalogue", "import", str(csv)]) == 0
    assert "added 0, changed 0, unchanged 2" in capsys.readouterr().out


def test_a_broken_file_gives_file_line_errors_and_changes_nothing(tmp_path, capsys):
    target = catalogue_copy(tmp_path)
    before = target.read_text(encoding="utf-8")
    csv = tmp_path / "broken.csv"
    csv.write_text(BROKEN, encoding="utf-8")
    assert main(["--catalogue", str(target), "catalogue", "import", str(csv), "--write"]) == 1
    out = capsys.readouterr().out
    assert f"{csv}:2: phone '053-000'" in out
    assert f"{csv}:3: unknown intent id 'unknown_need'" in out
    assert f"{csv}:3: hours 'mon-fri 9-17'" in out
    assert f"{csv}:4: source_date is required" in out
    assert f"{csv}:4: area 'どこにもない村'" in out
    assert target.read_text(encoding="utf-8") == before

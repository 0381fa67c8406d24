"""A real centre for every town: coverage counted over the 67 areas, and what a resident is given."""

from __future__ import annotations

import re

from bot.cli import main
from bot.engine.areas import Areas
from bot.engine.catalogue.coverage import measure, table
from bot.engine.catalogue.model import Catalogue
from bot.engine.catalogue.sourced import read_tables
from bot.types import ResidentContext
from tests.support import ROOT, WEDNESDAY_NOON, engine


def shipped(*ids: str) -> Catalogue:
    cat = engine().catalogue
    return Catalogue(tuple(cat.get(i) for i in ids), "subset", "0")


def test_coverage_counts_each_area_once_with_its_own_number_and_marks_cities_served_by_the_prefecture():
    cov = measure(shipped("dv_fukuoka", "jiso_fukuoka", "os_hokkaido", "hik_kitakyushu"), read_tables([]), Areas())
    assert len(cov.areas) == 67
    # The prefecture's DV centre: 福岡県 itself, and serving its two designated cities.
    assert cov.count("dv", "phone") == 1
    assert cov.cells["dv"]["401307"].served == ["dv_fukuoka"] == cov.cells["dv"]["401005"].served
    assert {"福岡県", "福岡市", "北九州市"}.isdisjoint(cov.missing("dv"))
    # A child guidance centre of the prefecture has no say in its designated cities.
    assert cov.count("jiso", "phone") == 1 and "北九州市" in cov.missing("jiso")
    # #8891 alone reaches the centre through the national exchange: an entry, not a number of its own.
    assert cov.count("onestop", "entry") == 1 and cov.count("onestop", "phone") == 0
    # A city's own centre, with a number of low confidence.
    assert cov.cells["hikikomori"]["401005"].low == ["hik_kitakyushu"]


def test_the_readme_shows_the_coverage_the_command_prints(capsys):
    assert main(["catalogue", "coverage"]) == 0
    printed = capsys.readouterr().out
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    cov = measure(engine().catalogue, read_tables(), Areas())
    assert table(cov) in printed
    assert table(cov).split("\n\n")[0] in readme, "README.md: paste the table `bot catalogue coverage` prints"


def route(text, **ctx):
    return engine().route(text, ResidentContext(**ctx), WEDNESDAY_NOON)


def test_a_resident_of_a_small_town_gets_the_prefectures_dv_centre_with_its_number_before_the_towns_website():
    referral = route("夫から暴力をふるわれていて相談したい", area=engine().find_area("氷見市").code)
    dv = [h for h in referral.services if h.intent == "domestic_violence"]
    assert dv[0].service_id == "dv_toyama" and dv[0].phone == "076-465-6722"
    ids = [h.service_id for h in dv]
    assert not any(i.startswith("official_site:") for i in ids[: ids.index("dv_toyama")])


def test_a_centre_known_by_name_only_comes_after_the_towns_website():
    referral = route("ひきこもりの息子のことで相談したい", area=engine().find_area("福井県池田町").code)
    ids = [h.service_id for h in referral.services if h.intent == "hikikomori"]
    site = next(i for i, sid in enumerate(ids) if sid.startswith("official_site:"))
    assert "hik_fukui" not in ids[:site]


def test_a_dementia_question_gets_one_cafe_beside_the_lines_not_a_list_of_cafes():
    referral = route("認知症の母のことで相談したい", area=engine().find_area("大分市").code)  # 13 cafes there
    dementia = [h for h in referral.services if h.intent == "dementia"]
    assert sum(h.kind == "place" for h in dementia) == 1
    assert any(h.kind == "phone" for h in dementia)


def test_looking_for_a_place_to_go_lists_places_nearest_first_and_those_without_a_location_after():
    near_niiza = dict(lat=35.7936, lon=139.5653)  # 新座市役所 (localgovjp)
    referral = route("子ども食堂に行ってみたい", **near_niiza)
    places = [h for h in referral.services if h.kind == "place"]
    assert len(places) >= 3
    located = [h.distance_km for h in places if h.distance_km is not None]
    assert located == sorted(located)
    first_unlocated = next((i for i, h in enumerate(places) if h.distance_km is None), len(places))
    assert all(h.distance_km is None for h in places[first_unlocated:])


def test_a_place_shows_its_schedule_its_address_and_its_credit():
    from bot.engine.render import render_text

    referral = route("子ども食堂を探しています", area=engine().find_area("渋谷区").code)
    text = render_text(referral)
    assert "開催: " in text and "東京都渋谷区" in text
    assert re.search(r"出典：渋谷区「子ども食堂一覧」（東京都オープンデータカタログサイト、CC BY 4\.0）", text)

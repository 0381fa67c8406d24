"""The centre in the resident's own town, and never an empty list."""

from __future__ import annotations

from bot.engine.render import render_text
from bot.types import ResidentContext
from tests.support import WEDNESDAY_NOON, engine


def route(text, **ctx):
    return engine().route(text, ResidentContext(**ctx), WEDNESDAY_NOON)


def phones(referral):
    return [h.phone for h in referral.services]


def test_hikikomori_in_hamamatsu_by_name_postal_code_and_location():
    assert "053-457-2709" in phones(route("息子がひきこもっていて", area="221309"))
    assert "053-457-2709" in phones(route("浜松市に住んでいます。息子がひきこもりです"))
    assert "053-457-2709" in phones(route("〒430-0929 ひきこもりの相談"))
    assert "053-457-2709" in phones(route("ひきこもりの相談", lat=34.7038, lon=137.7346))


def test_local_entries_come_before_national_ones_and_the_reply_names_the_area():
    referral = route("ひきこもりの相談がしたい", area="221309")
    hik = [h for h in referral.services if h.intent == "hikikomori"]
    assert hik[0].area != "national"
    assert "浜松市の窓口" in render_text(referral)


def test_sexual_violence_in_a_tokyo_ward_gets_the_tokyo_centre():
    referral = route("性暴力の被害にあいました", area=engine().find_area("新宿区").code)
    assert "03-5607-0799" in phones(referral)


def test_a_town_without_an_entry_gets_its_official_website():
    referral = route("ひきこもりの相談", area=engine().find_area("青森市").code)
    site = [h for h in referral.services if h.service_id.startswith("official_site:")]
    assert site and site[0].url.startswith("https://www.city.aomori")
    assert "ひきこもり" in site[0].name


def test_an_unknown_place_gets_national_lines_and_a_question_about_the_area():
    referral = route("ひきこもりの相談")
    assert referral.area is None and referral.ask_area
    assert referral.services


def test_a_need_with_no_service_anywhere_still_gets_somewhere_real():
    referral = route("住む家がなくなりそうです")
    assert referral.services


def test_a_prefecture_centre_that_excludes_the_city_is_not_offered_there():
    hamamatsu = [h.service_id for h in route("ひきこもりの相談", area="221309").services]
    assert "hik_shizuoka" not in hamamatsu and "hik_hamamatsu" in hamamatsu
    numazu = [h.service_id for h in route("ひきこもりの相談", area=engine().find_area("沼津市").code).services]
    assert "hik_shizuoka" in numazu

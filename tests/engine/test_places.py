"""Places to go: an operator's own list, nearest first, with the next time they open."""

from __future__ import annotations

import shutil

from bot.cli import main
from bot.engine import Engine
from bot.engine.render import render_text
from bot.types import ResidentContext
from tests.support import ROOT, at

# Clearly fictional places near 浜松駅 (34.7038, 137.7346): the catalogue never ships invented ones.
PLACES = """名称,ID,種別,ニーズ,受付時間（構造）,受付時間,地域,住所,緯度,経度,出典URL,出典日,確度
架空の認知症カフェ「ちかく」,fiction_cafe_near,place,dementia places_to_go,毎月第2土曜 10:00-12:00,毎月第2土曜 10時〜12時,浜松市,架空町1,34.705,137.735,https://example.org/fiction-near,2026-11-01,medium
架空の認知症カフェ「とおく」,fiction_cafe_far,place,dementia places_to_go,毎月第4土曜 10:00-12:00,毎月第4土曜 10時〜12時,浜松市,架空町9,34.80,137.80,https://example.org/fiction-far,2026-11-01,medium
"""


def engine_with_places(tmp_path) -> Engine:
    catalogue = tmp_path / "services.yaml"
    shutil.copy(ROOT / "services.yaml", catalogue)
    csv = tmp_path / "places.csv"
    csv.write_text(PLACES, encoding="utf-8")
    assert main(["--catalogue", str(catalogue), "catalogue", "import", str(csv), "--write"]) == 0
    return Engine.load(catalogue)


def test_a_shared_location_gets_the_nearest_place_first_with_its_distance_and_next_opening(tmp_path):
    engine = engine_with_places(tmp_path)
    referral = engine.route("認知症カフェに行ってみたい", ResidentContext(lat=34.7038, lon=137.7346),
                            at("2026-12-07T09:00"))  # a Monday
    places = [h for h in referral.services if h.kind == "place"]
    assert [h.service_id for h in places] == ["fiction_cafe_near", "fiction_cafe_far"]
    assert places[0].distance_km is not None and places[0].distance_km < places[1].distance_km
    assert places[0].next_open == at("2026-12-12T10:00")  # the 2nd Saturday
    text = render_text(referral)
    assert "12/12(土) 10:00" in text and "km" in text


def test_the_place_is_open_during_its_monthly_slot(tmp_path):
    engine = engine_with_places(tmp_path)
    referral = engine.route("認知症カフェ", ResidentContext(area="221309"), at("2026-12-12T10:30"))
    near = next(h for h in referral.services if h.service_id == "fiction_cafe_near")
    assert near.open_now is True

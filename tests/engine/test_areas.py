"""Knowing where the resident is: names as residents write them, postal codes, locations."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.engine.areas import Areas

AREAS = Areas()


@pytest.mark.parametrize(
    "text, code",
    [
        ("浜松市に住んでいます", "221309"),
        ("浜松で", "221309"),
        ("はままつにすんでる", "221309"),
        ("札幌市中央区", "011011"),
        ("静岡県", "22"),
        ("〒430-0929", "221309"),
        ("4300929", "221309"),
        ("221309", "221309"),
        ("ふくおかけん", "40"),
        ("横浜", "141003"),
        ("広島県府中市", "342084"),
    ],
)
def test_places_as_residents_write_them(text, code):
    area = AREAS.find(text)
    assert area is not None and area.code == code


@pytest.mark.parametrize("text", ["市に対して意見がある", "ひきこもりの相談", "息子が家にいる", "あさひがのぼる", "天気"])
def test_ordinary_words_are_not_places(text):
    assert AREAS.find(text) is None


def test_hamamatsu_wards_reorganised_in_2024_still_land_in_the_city():
    assert AREAS.find("浜松市中区").code == "221309"  # old ward (until 2023)
    assert AREAS.find("浜松市中央区").code == "221309"  # new ward (2024-)
    assert AREAS.find("221317").code == "221309"  # old ward code


def test_a_location_gives_the_nearest_municipal_office_as_an_approximation():
    area, km = AREAS.near(34.7038, 137.7346)  # near 浜松駅
    assert area.code == "221309" and area.approximate and km < 5


def test_a_ward_is_covered_by_its_city_and_prefecture():
    assert AREAS.level(("011002",), "011011") == 1  # 札幌市 covers 中央区
    assert AREAS.level(("01",), "011011") == 2
    assert AREAS.level(("13",), "011011") is None


def test_postal_codes_are_found_on_every_thread_that_routes():
    """The Desk routes on several threads at once: each of them looks postal codes up."""
    areas = Areas()
    with ThreadPoolExecutor(1) as first, ThreadPoolExecutor(1) as second:
        assert first.submit(areas.find, "〒430-0929").result().code == "221309"
        assert second.submit(areas.find, "〒060-0001").result().code == "011011"
        assert first.submit(areas.find, "〒100-0001").result().code == "131016"

"""Opening hours at their edges: midnight, the 10th, public holidays, New Year."""

from datetime import datetime

import pytest

from bot.engine.catalogue.hours import TOKYO, HoursError, parse_hours


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TOKYO)


INOCHI_FREE = parse_hours(
    {
        "weekly": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "open": "16:00", "close": "21:00"}],
        "monthly": [{"day": 10, "open": "08:00", "close": "08:00"}],
    }
)
NIGHT = parse_hours({"weekly": [{"days": ["fri"], "open": "22:00", "close": "06:00"}]})
OFFICE = parse_hours({"weekly": [{"days": ["mon", "tue", "wed", "thu", "fri"], "open": "08:30", "close": "17:15"}],
                      "closed": ["holidays", "new_year"]})
SOS = parse_hours({"weekly": [{"days": ["mon", "thu", "fri"], "open": "00:00", "close": "24:00"},
                              {"days": ["tue", "wed", "sat", "sun"], "open": "06:00", "close": "24:00"}]})


def test_always_open_is_open_at_any_minute():
    always = parse_hours({"always": True})
    assert always.is_open(at("2026-12-31T23:59")) is True
    assert always.next_open(at("2027-01-01T00:00")) == at("2027-01-01T00:00")


def test_a_slot_past_midnight_is_open_until_it_closes_the_next_day():
    assert NIGHT.is_open(at("2026-11-27T23:59")) is True  # Friday
    assert NIGHT.is_open(at("2026-11-28T00:00")) is True  # Saturday, still Friday's slot
    assert NIGHT.is_open(at("2026-11-28T05:59")) is True
    assert NIGHT.is_open(at("2026-11-28T06:00")) is False
    assert NIGHT.is_open(at("2026-11-27T21:59")) is False


def test_the_free_dial_is_open_all_day_on_the_tenth_and_into_the_eleventh():
    assert INOCHI_FREE.is_open(at("2026-12-10T08:00")) is True
    assert INOCHI_FREE.is_open(at("2026-12-10T23:59")) is True
    assert INOCHI_FREE.is_open(at("2026-12-11T00:00")) is True
    assert INOCHI_FREE.is_open(at("2026-12-11T07:59")) is True
    assert INOCHI_FREE.is_open(at("2026-12-11T08:00")) is False
    assert INOCHI_FREE.is_open(at("2026-12-09T07:59")) is False
    assert INOCHI_FREE.next_open(at("2026-12-09T22:00")) == at("2026-12-10T08:00")


def test_next_opening_after_the_evening_slot_is_tomorrow_afternoon():
    assert INOCHI_FREE.next_open(at("2026-12-03T21:00")) == at("2026-12-04T16:00")


def test_a_public_holiday_closes_an_office():
    assert OFFICE.is_open(at("2026-11-23T10:00")) is False  # 勤労感謝の日 (Monday)
    assert OFFICE.next_open(at("2026-11-23T10:00")) == at("2026-11-24T08:30")
    assert OFFICE.is_open(at("2026-11-24T10:00")) is True


def test_new_year_closes_an_office_from_12_29_to_1_3():
    assert OFFICE.is_open(at("2026-12-28T17:14")) is True
    assert OFFICE.is_open(at("2026-12-29T10:00")) is False
    assert OFFICE.is_open(at("2026-12-31T10:00")) is False
    # 1/4 is a Monday in 2027 and not a holiday
    assert OFFICE.next_open(at("2026-12-31T10:00")) == at("2027-01-04T08:30")


def test_midnight_edges_of_a_24_hour_day():
    assert SOS.is_open(at("2026-11-30T23:59")) is True  # Monday 24 h
    assert SOS.is_open(at("2026-12-01T00:00")) is False  # Tuesday opens at 6
    assert SOS.is_open(at("2026-12-01T06:00")) is True
    assert SOS.next_open(at("2026-12-01T00:00")) == at("2026-12-01T06:00")


def test_nth_weekday_of_the_month_for_places_to_go():
    cafe = parse_hours({"nth_weekday": [{"nth": 2, "weekday": "sat", "open": "10:00", "close": "12:00"}]})
    assert cafe.is_open(at("2026-12-12T10:30")) is True  # 2nd Saturday
    assert cafe.is_open(at("2026-12-05T10:30")) is False  # 1st Saturday
    assert cafe.next_open(at("2026-12-12T12:00")) == at("2027-01-09T10:00")
    last = parse_hours({"nth_weekday": [{"nth": -1, "weekday": "sun", "open": "13:00", "close": "15:00"}]})
    assert last.is_open(at("2026-11-29T14:00")) is True
    assert last.is_open(at("2026-11-22T14:00")) is False


def test_hours_that_vary_or_are_unknown_are_never_open():
    assert parse_hours({"varies": True}).is_open(at("2026-12-01T12:00")) is None
    assert parse_hours(None).is_open(at("2026-12-01T12:00")) is None
    assert parse_hours(None).next_open(at("2026-12-01T12:00")) is None


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"weekly": [{"days": ["mon"], "open": "25:00", "close": "26:00"}]}, "not HH:MM"),
        ({"weekly": [{"days": ["moon"], "open": "09:00", "close": "10:00"}]}, "unknown weekday"),
        ({"monthly": [{"day": 32, "open": "09:00", "close": "10:00"}]}, "day must be"),
        ({"closed": ["sometimes"], "always": False}, "not holidays"),
        ({"opens": "9"}, "unknown key"),
        ("24h", "must be a mapping"),
    ],
)
def test_unreadable_hours_say_what_is_wrong(raw, message):
    with pytest.raises(HoursError, match=message):
        parse_hours(raw)


def test_a_holiday_with_hours_of_its_own_keeps_them_and_not_the_weekdays():
    from bot.engine.catalogue.hours import parse_compact

    hours = parse_hours(parse_compact("mon-fri 09:00-20:00; 土日祝 09:00-17:00; closed new_year"))
    assert hours.is_open(at("2026-11-23T10:00")) is True  # 勤労感謝の日, a Monday
    assert hours.is_open(at("2026-11-23T18:00")) is False  # the weekday evening is not the holiday's
    assert hours.is_open(at("2026-11-24T18:00")) is True
    assert hours.is_open(at("2027-01-02T10:00")) is False


def test_holiday_hours_and_closed_on_holidays_together_are_refused():
    with pytest.raises(HoursError, match="which is it"):
        parse_hours({"weekly": [{"days": ["mon"], "open": "09:00", "close": "17:00"}],
                     "holidays": [{"open": "09:00", "close": "12:00"}], "closed": ["holidays"]})

"""Years no Government notice covers yet are laid out provisionally, and say so."""

from __future__ import annotations

import copy
import datetime as dt
import re
from typing import Any

import pytest

from hotro.shared.calendar import CalendarDataError, load_calendar
from hotro.shared.calendar.provisional import provisional_days_off
from hotro.shared.calendar.resources import (
    SCHEDULE_FILE,
    packaged_schedule,
    parse_schedule,
    read_packaged_toml,
)

D = dt.date.fromisoformat


def _weekdays_off(days: list[dt.date]) -> set[dt.date]:
    return {day for day in days if day.weekday() < 5}


@pytest.mark.parametrize("year", [2024, 2025, 2026])
def test_the_rules_reproduce_every_official_years_weekdays_off(year: int) -> None:
    """Laid over a year a notice does cover, the provisional rules give the same weekdays
    off as the notice, swaps apart (those are never guessed)."""
    data = packaged_schedule()
    official = [entry.date for entry in data.days
                if entry.date.year == year and entry.kind in ("holiday", "compensatory")
                and not entry.since.endswith("-unconfirmed")]

    provisional = list(provisional_days_off(year, data.provisional))

    assert _weekdays_off(provisional) == _weekdays_off(official)


def test_2027_tet_giỗ_tổ_and_national_day_are_days_off() -> None:
    calendar = load_calendar()

    # mùng 1 Tết Đinh Mùi = Saturday 6/2/2027: Thu 4, Fri 5, Sat 6, Sun 7, Mon 8 are the
    # five Tết days; nghỉ bù for Saturday and Sunday on Tue 9 and Wed 10.
    off = [D("2027-02-04"), D("2027-02-05"), D("2027-02-08"), D("2027-02-09"),
           D("2027-02-10"), D("2027-04-16"), D("2027-09-03")]
    assert [calendar.is_working_day(day) for day in off] == [False] * len(off)
    assert calendar.is_working_day(D("2027-02-03"))
    assert calendar.is_working_day(D("2027-02-11"))
    # Giỗ Tổ 10/3 âm lịch = Friday 16/4; 2/9 Thursday joined by Friday 3/9.
    assert calendar.is_working_day(D("2027-04-15"))
    assert calendar.is_working_day(D("2027-09-01"))


def test_a_reply_deadline_across_tet_2027_skips_it_and_warns() -> None:
    result = load_calendar().add_working_days(D("2027-01-29"), 10)

    # Without Tết the 10th working day would be Friday 12/2; five weekdays of Tết move it
    # a week on.
    assert result.last_day == D("2027-02-19")
    assert not result.covered
    text = result.explain()
    assert "Tết Nguyên đán (mùng 1)" in text
    assert "provisional schedule" in text
    assert "recompute when it is published" in text


def test_every_provisional_day_is_marked_unofficial_with_its_source() -> None:
    days = load_calendar().days_off(2027)

    assert len([day for day in days if day.kind == "holiday"]) == 11  # Điều 112: 11 days
    assert all(not day.official and "provisional for 2027" in day.source for day in days)


def test_a_holiday_on_the_weekend_is_compensated_after_the_others() -> None:
    days = provisional_days_off(2028, packaged_schedule().provisional)

    # 2028: 30/4 Sunday → nghỉ bù Tuesday 2/5, as Monday 1/5 is itself a holiday.
    assert days[D("2028-05-02")].kind == "compensatory"
    assert D("2028-05-03") not in days


@pytest.fixture
def raw() -> dict[str, Any]:
    return copy.deepcopy(read_packaged_toml(SCHEDULE_FILE))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"tet_days_before": 3}, "must be 5"),
        ({"national_day_adjacent": {"Monday": 1}}, "must name each of Monday"),
        ({"national_day_adjacent": {"Monday": 2, "Tuesday": -1, "Wednesday": -1,
                                    "Thursday": 1, "Friday": -1, "Saturday": -1,
                                    "Sunday": 1}}, "Monday"),
        ({"source": "Nghị định 999"}, "provisional: source 'Nghị định 999' is not listed"),
    ],
)
def test_bad_provisional_rules_are_refused_with_a_reason(
        raw: dict[str, Any], change: dict[str, Any], message: str) -> None:
    raw["provisional"].update(change)

    with pytest.raises(CalendarDataError, match=message):
        parse_schedule(raw, origin="test.toml")


def _with_a_2027_notice(raw: dict[str, Any]) -> dict[str, Any]:
    """The data file as it will be once the 2027 notice is entered (dates invented here,
    one + four arranged, to tell it apart from the provisional two + three)."""
    raw["sources"].append({"ref": "Thông báo X/TB-BNV", "issued": D("2026-12-15"),
                           "title": "test notice"})
    raw["versions"].append({"id": "vn-2027.1", "effective_from": D("2026-12-15"),
                            "sources": ["Thông báo X/TB-BNV"], "description": "2027 (test)",
                            "covers": [2027]})
    for day in ("2027-02-05", "2027-02-06", "2027-02-07", "2027-02-08", "2027-02-09"):
        raw["days"].append({"date": D(day), "kind": "holiday", "name_vi": "Tết",
                            "name_en": "Lunar New Year", "source": "Thông báo X/TB-BNV",
                            "since": "vn-2027.1"})
    return raw


def test_a_years_notice_covers_it_only_from_its_own_version_on(raw: dict[str, Any]) -> None:
    data = parse_schedule(_with_a_2027_notice(raw), origin="test.toml")

    noticed = load_calendar(schedule=data)
    before = load_calendar("vn-2026.2", schedule=data)

    assert noticed.version == "vn-2027.1" and noticed.covers(D("2027-02-04"))
    assert noticed.is_working_day(D("2027-02-04"))  # the notice starts Tết a day later
    assert not noticed.is_working_day(D("2027-02-05"))
    # as it was known before the notice: 2027 is provisional, not "covered and empty"
    assert not before.covers(D("2027-02-04"))
    assert not before.is_working_day(D("2027-02-04"))
    assert not before.add_working_days(D("2027-01-29"), 10).covered


def test_a_day_in_a_year_no_notice_covers_is_refused(raw: dict[str, Any]) -> None:
    raw["days"].append({"date": D("2027-02-05"), "kind": "holiday", "name_vi": "Tết",
                        "name_en": "Lunar New Year", "source": raw["days"][0]["source"],
                        "since": "vn-2026.2"})

    with pytest.raises(CalendarDataError, match=r"year 2027 is covered by no official"):
        parse_schedule(raw, origin="test.toml")


def test_the_days_before_tết_are_named_by_their_lunar_day_as_the_notices_name_them() -> None:
    data = packaged_schedule()
    compared = 0
    for year in (2024, 2025, 2026):
        provisional = provisional_days_off(year, data.provisional)
        for entry in data.days:
            named = re.search(r"(\d+) tháng Chạp", entry.name_vi)
            if named and entry.date in provisional:
                assert f"({named.group(1)} tháng Chạp" in provisional[entry.date].name_vi
                compared += 1
    assert compared >= 4  # 29 and 30 Chạp 2024, 28 and 29 Chạp 2025

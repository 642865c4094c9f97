from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from hotro.shared.calendar import CalendarDataError
from hotro.shared.calendar.resources import (
    SCHEDULE_FILE,
    packaged_schedule,
    parse_schedule,
    read_packaged_toml,
)

D = dt.date.fromisoformat


@pytest.fixture
def raw() -> dict[str, Any]:
    return copy.deepcopy(read_packaged_toml(SCHEDULE_FILE))


def _index_of(raw: dict[str, Any], date: str) -> int:
    return next(i for i, day in enumerate(raw["days"]) if day["date"] == D(date))


def test_packaged_schedule_is_valid_and_complete() -> None:
    data = packaged_schedule()

    assert data.timezone == "Asia/Ho_Chi_Minh"
    assert data.covered_years == (2024, 2025, 2026)
    for day in data.days:
        assert day.name_vi and day.name_en and day.source
    # Labour Code art. 112: 11 holidays a year (1 + 5 + 1 + 1 + 1 + 2) in every covered year.
    for year in data.covered_years:
        official = [
            d
            for d in data.days
            if d.date.year == year and d.kind == "holiday" and d.since != "vn-2026.3-unconfirmed"
        ]
        assert len(official) == 11, year


def test_bad_kind_error_names_the_entry(raw: dict[str, Any]) -> None:
    index = _index_of(raw, "2025-05-02")
    raw["days"][index]["kind"] = "holidy"

    with pytest.raises(CalendarDataError) as caught:
        parse_schedule(raw, origin="test.toml")

    message = str(caught.value)
    assert message.startswith("test.toml:")
    assert f"days[{index}] (date=2025-05-02, kind=holidy).kind" in message
    assert "'holiday', 'compensatory', 'swapped_off' or 'working_weekend'" in message


def test_unknown_source_error_names_the_entry(raw: dict[str, Any]) -> None:
    index = _index_of(raw, "2026-08-31")
    raw["days"][index]["source"] = "Thông báo 0000/TB-XYZ"

    with pytest.raises(
        CalendarDataError, match=rf"days\[{index}\] \(date=2026-08-31.*Thông báo 0000"
    ):
        parse_schedule(raw, origin="test.toml")


def test_working_weekend_on_a_weekday_is_rejected(raw: dict[str, Any]) -> None:
    index = _index_of(raw, "2026-08-22")
    raw["days"][index]["date"] = D("2026-08-24")

    with pytest.raises(CalendarDataError, match=rf"days\[{index}\] \(date=2026-08-24.*weekday"):
        parse_schedule(raw, origin="test.toml")


def test_unknown_version_reference_is_rejected(raw: dict[str, Any]) -> None:
    raw["days"][0]["since"] = "vn-1999.1"

    with pytest.raises(CalendarDataError, match=r"days\[0\].*since='vn-1999.1' is not a listed"):
        parse_schedule(raw, origin="test.toml")


def test_missing_field_is_reported(raw: dict[str, Any]) -> None:
    del raw["days"][3]["name_en"]

    with pytest.raises(
        CalendarDataError, match=r"days\[3\] \(date=2024-02-10.*\.name_en: Field required"
    ):
        parse_schedule(raw, origin="test.toml")


def test_differences_with_the_holidays_package_are_recorded() -> None:
    differences = packaged_schedule().differences
    dates = {date for difference in differences for date in difference.dates}

    assert {D("2026-01-02"), D("2026-01-10"), D("2026-11-24")} <= dates


def test_recorded_differences_still_match_the_holidays_package() -> None:
    """Comparison only: skipped where the optional `holidays` package is not installed."""
    holidays = pytest.importorskip("holidays")
    from hotro.shared.calendar import load_calendar

    calendar = load_calendar()
    recorded = {date for d in packaged_schedule().differences for date in d.dates}
    package = holidays.country_holidays("VN", years=(2024, 2025, 2026))
    for year in (2024, 2025, 2026):
        day = dt.date(year, 1, 1)
        while day.year == year:
            if day.weekday() < 5 and day not in recorded:
                assert calendar.is_working_day(day) == (day not in package), day
            day += dt.timedelta(days=1)
    assert D("2026-01-02") not in package
    assert D("2026-11-24") in package

"""The lunar calendar that places Tết and Giỗ Tổ in years no notice covers."""

from __future__ import annotations

import datetime as dt

import pytest
from holidays.calendars.chinese import VIETNAMESE_CALENDAR, _ChineseLunisolar

from hotro.shared.calendar.lunar import hung_kings_day, lunar_new_year, lunar_to_solar
from hotro.shared.calendar.resources import packaged_schedule

D = dt.date.fromisoformat


def test_agrees_with_the_holidays_package_tables_for_two_centuries() -> None:
    """An independent derivation: the package's Vietnamese (UTC+7) lunisolar tables."""
    package = _ChineseLunisolar(calendar=VIETNAMESE_CALENDAR)
    differences = []
    for year in range(1901, 2100):
        theirs = (package.lunar_new_year_date(year)[0], package.hung_kings_date(year)[0])
        ours = (lunar_new_year(year), hung_kings_day(year))
        if theirs != ours:
            differences.append((year, theirs, ours))
    assert differences == []


def test_agrees_with_the_official_notices_in_the_data_file() -> None:
    named = {(day.date, day.name_en) for day in packaged_schedule().days}
    for year in (2024, 2025, 2026):
        assert (lunar_new_year(year), "Lunar New Year (day 1)") in named, year
        assert (hung_kings_day(year), "Hung Kings' Commemoration Day") in named, year


@pytest.mark.parametrize(
    ("year", "new_year", "hung_kings"),
    [
        # Vietnam (UTC+7) began 2007 a day before China (UTC+8): the new moon fell at
        # 23:14 on 16 February in Hanoi, 00:14 on the 17th in Beijing.
        ("2007", "2007-02-17", "2007-04-26"),
        # 2023 had a leap 2nd month: the 3rd month began a month later.
        ("2023", "2023-01-22", "2023-04-29"),
        ("2027", "2027-02-06", "2027-04-16"),
    ],
)
def test_year_boundaries_and_leap_months(year: str, new_year: str, hung_kings: str) -> None:
    assert lunar_new_year(int(year)) == D(new_year)
    assert hung_kings_day(int(year)) == D(hung_kings)


def test_refuses_dates_outside_a_month() -> None:
    with pytest.raises(ValueError, match="month must be 1–10"):
        lunar_to_solar(2027, 12, 1)
    with pytest.raises(ValueError, match=r"has (29|30) days, not 31"):
        lunar_to_solar(2027, 1, 31)

"""Days off for a year no official schedule covers: a provisional schedule.

Điều 112 of the Labour Code names the holidays; Tết and Giỗ Tổ are placed by the lunar
calendar (``lunar``), and what only a year's notice decides — which five days make Tết,
which day joins 2/9 — follows ``ProvisionalRules`` from the data file. A holiday on the
weekly rest day gets its nghỉ bù (Điều 111.3). Swaps and working Saturdays are never
guessed. Every day here is ``official=False``.

Only ``PROVISIONAL_YEARS`` are laid out: outside them ``OutsideCoverageError`` says so (the
lunar model is not fitted there, and the years 1 and 9999 have no neighbour to compute from).
A year before 2021 gets Quốc khánh as one day, as the Labour Code 2012 (Điều 115.1.đ) gave it.
"""

from __future__ import annotations

import datetime as dt

from hotro.shared.calendar.days import CalendarDay
from hotro.shared.calendar.errors import OutsideCoverageError
from hotro.shared.calendar.lunar import hung_kings_day, last_month_length, lunar_new_year
from hotro.shared.calendar.schedule import ProvisionalRules

NOTE = ("provisional: no official schedule covers this year yet; holidays per Điều 112, "
        "lunar dates computed (UTC+7), Tết and 2/9 arranged as the recent notices did")
_FIXED = (
    ((1, 1), "Tết Dương lịch", "New Year's Day"),
    ((4, 30), "Ngày Chiến thắng", "Reunification Day"),
    ((5, 1), "Ngày Quốc tế Lao động", "International Labour Day"),
    ((9, 2), "Quốc khánh", "National Day"),
)
_SATURDAY = 5
_ONE_DAY = dt.timedelta(days=1)
#: the years a provisional schedule is given for: the span of the ΔT fits the lunar model
#: uses (Espenak–Meeus, 1900–2150; ``lunar._delta_t_days``); the sla API asks 1900–2100
PROVISIONAL_YEARS = range(1900, 2151)
#: Điều 112.1.đ of the Labour Code 2019 (in force 01/01/2021) added the day joined to 2/9;
#: before it, Điều 115.1.đ of the Labour Code 2012 gave Quốc khánh one day, 2/9 alone
SECOND_NATIONAL_DAY_FROM = 2021


def provisional_days_off(year: int, rules: ProvisionalRules) -> dict[dt.date, CalendarDay]:
    """The holidays of ``year`` under Điều 112 and ``rules``, plus their nghỉ bù.

    A holiday on Saturday/Sunday is compensated on the next weekday that is not itself a
    holiday or an earlier compensatory day (e.g. 30/4 Sat + 1/5 Sun → Mon 2/5 and Tue 3/5).
    Raises ``OutsideCoverageError`` for a year outside ``PROVISIONAL_YEARS``.
    """
    if year not in PROVISIONAL_YEARS:
        raise OutsideCoverageError(
            f"{year}: no official schedule covers it and no provisional one is computed "
            f"outside {PROVISIONAL_YEARS[0]}–{PROVISIONAL_YEARS[-1]}")
    holidays: dict[dt.date, tuple[str, str]] = {}
    for part in (_fixed_dates(year), _tet(year, rules), _hung_kings(year),
                 _second_national_day(year, rules)):
        for date, names in part.items():
            holidays.setdefault(date, names)  # two holidays on one day stay one day off
    days = {date: _day(date, "holiday", vi, en) for date, (vi, en) in holidays.items()}
    for holiday in sorted(d for d in holidays if d.weekday() >= _SATURDAY):
        substitute = holiday + _ONE_DAY
        while substitute.weekday() >= _SATURDAY or substitute in days:
            substitute += _ONE_DAY
        vi, en = holidays[holiday]
        days[substitute] = _day(substitute, "compensatory", f"Nghỉ bù {vi}",
                                f"{en} (compensatory day off)")
    return dict(sorted(days.items()))


def _fixed_dates(year: int) -> dict[dt.date, tuple[str, str]]:
    return {dt.date(year, month, day): (vi, en) for (month, day), vi, en in _FIXED}


def _tet(year: int, rules: ProvisionalRules) -> dict[dt.date, tuple[str, str]]:
    first = lunar_new_year(year)
    eve = last_month_length(year)  # the 29th or 30th of the 12th month
    days: dict[dt.date, tuple[str, str]] = {}
    for before in range(rules.tet_days_before, 0, -1):
        lunar_day = eve - before + 1
        days[first - before * _ONE_DAY] = (
            (f"Tết Nguyên đán ({lunar_day} tháng Chạp, giao thừa)", "Lunar New Year's Eve")
            if before == 1 else
            (f"Tết Nguyên đán ({lunar_day} tháng Chạp)",
             f"Lunar New Year ({lunar_day}th of the 12th month)"))
    for n in range(1, rules.tet_days_from + 1):
        days[first + (n - 1) * _ONE_DAY] = (f"Tết Nguyên đán (mùng {n})",
                                              f"Lunar New Year (day {n})")
    return days


def _hung_kings(year: int) -> dict[dt.date, tuple[str, str]]:
    return {hung_kings_day(year): ("Giỗ Tổ Hùng Vương (10/3 âm lịch)",
                                   "Hung Kings' Commemoration Day")}


def _second_national_day(year: int, rules: ProvisionalRules) -> dict[dt.date, tuple[str, str]]:
    if year < SECOND_NATIONAL_DAY_FROM:
        return {}
    national_day = dt.date(year, 9, 2)
    adjacent = national_day + rules.national_day_offset(national_day) * _ONE_DAY
    return {adjacent: ("Quốc khánh (ngày liền kề)", "National Day (adjacent day)")}


def _day(date: dt.date, kind: str, name_vi: str, name_en: str) -> CalendarDay:
    return CalendarDay.model_validate(
        {
            "date": date,
            "kind": kind,
            "name_vi": name_vi,
            "name_en": name_en,
            "source": f"Bộ luật Lao động 2019, Điều 111.3 và 112 (provisional for {date.year})",
            "note": NOTE,
            "official": False,
        }
    )

"""Days off for years no official schedule covers: fixed-date holidays only.

Tết and Giỗ Tổ follow the lunar calendar and the second National-Day day, swaps and the
working Saturdays are only known from each year's notice, so none of them appear here.
"""

from __future__ import annotations

import datetime as dt
import functools

from hotro.shared.calendar.days import CalendarDay

_SOURCE = "Bộ luật Lao động 2019, Điều 111.3 và 112 (no official schedule for this year)"
_NOTE = "not covered by an official schedule: lunar holidays, swaps and working weekends unknown"
_FIXED = (
    ((1, 1), "Tết Dương lịch", "New Year's Day"),
    ((4, 30), "Ngày Chiến thắng", "Reunification Day"),
    ((5, 1), "Ngày Quốc tế Lao động", "International Labour Day"),
    ((9, 2), "Quốc khánh", "National Day"),
)
_SATURDAY = 5


@functools.cache
def fixed_date_days_off(year: int) -> dict[dt.date, CalendarDay]:
    """Fixed-date holidays of ``year`` plus their nghỉ bù (Labour Code art. 111.3).

    A holiday on Saturday/Sunday is compensated on the next weekday that is not itself a
    holiday or an earlier compensatory day (e.g. 30/4 Sat + 1/5 Sun → Mon 2/5 and Tue 3/5).
    """
    days: dict[dt.date, CalendarDay] = {}
    for (month, day), name_vi, name_en in _FIXED:
        holiday = dt.date(year, month, day)
        days[holiday] = _day(holiday, "holiday", name_vi, name_en)
    for holiday in sorted(d for d in days if d.weekday() >= _SATURDAY):
        substitute = holiday + dt.timedelta(days=1)
        while substitute.weekday() >= _SATURDAY or substitute in days:
            substitute += dt.timedelta(days=1)
        original = days[holiday]
        days[substitute] = _day(
            substitute,
            "compensatory",
            f"Nghỉ bù {original.name_vi}",
            f"{original.name_en} (compensatory day off)",
        )
    return days


def _day(date: dt.date, kind: str, name_vi: str, name_en: str) -> CalendarDay:
    return CalendarDay.model_validate(
        {
            "date": date,
            "kind": kind,
            "name_vi": name_vi,
            "name_en": name_en,
            "source": _SOURCE,
            "note": _NOTE,
            "official": False,
        }
    )

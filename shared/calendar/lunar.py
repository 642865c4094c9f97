"""The Vietnamese lunisolar calendar (âm lịch), computed for the two dates the law needs.

Labour Code art. 112 fixes two holidays by the lunar calendar: Tết (which starts on the
first day of the first month) and Giỗ Tổ Hùng Vương (10th day of the 3rd month). The
Government's notice names their Gregorian dates each year; for a year no notice covers
yet, the calendar computes them here.

The rules of the calendar (as Vietnam has used them since 1968, on UTC+7):

* a month starts on the local day of a new moon;
* the 11th month is the one in which the winter solstice falls;
* a lunar year with 13 months (13 new moons from one 11th month to the next) has a leap
  month: the first month after the 11th that holds no principal solar term (the sun's
  longitude crossing a multiple of 30°), numbered like the month before it.

Astronomy from J. Meeus, *Astronomical Algorithms* (2nd ed., 1998): chapter 49 (true new
moons, with the periodic terms down to 0.00002 day) and chapter 25 (the sun's apparent
longitude, low accuracy: about 0.01°, i.e. a quarter of an hour). Times of new moons are
converted from dynamical time with the Espenak–Meeus polynomial for ΔT. Checked against
the `holidays` package's Vietnamese tables for 1901–2099 in ``tests/unit/calendar``.
"""

from __future__ import annotations

import datetime as dt
import functools
import math

#: Vietnam's standard time (UTC+7) as a fraction of a day
_UTC_OFFSET_DAYS = 7 / 24
_SYNODIC_MONTH = 29.530588861
#: Julian day of 1 January 2000, 12:00 TT, and the first new moon after it (Meeus 49.1, k=0)
_J2000 = 2451545.0
_FIRST_NEW_MOON_2000 = 2451550.09766
_ORDINAL_TO_JD = 1721424.5  # date.toordinal() + this = Julian day at that date's 0:00 UT


def _sin(degrees: float) -> float:
    return math.sin(math.radians(degrees))


# Periodic terms of a new moon (Meeus table 49.A): (coefficient, power of E, M, M', F, Ω)
_NEW_MOON_TERMS = (
    (-0.40720, 0, 0, 1, 0, 0), (0.17241, 1, 1, 0, 0, 0), (0.01608, 0, 0, 2, 0, 0),
    (0.01039, 0, 0, 0, 2, 0), (0.00739, 1, -1, 1, 0, 0), (-0.00514, 1, 1, 1, 0, 0),
    (0.00208, 2, 2, 0, 0, 0), (-0.00111, 0, 0, 1, -2, 0), (-0.00057, 0, 0, 1, 2, 0),
    (0.00056, 1, 1, 2, 0, 0), (-0.00042, 0, 0, 3, 0, 0), (0.00042, 1, 1, 0, 2, 0),
    (0.00038, 1, 1, 0, -2, 0), (-0.00024, 1, -1, 2, 0, 0), (-0.00017, 0, 0, 0, 0, 1),
    (-0.00007, 0, 2, 1, 0, 0), (0.00004, 0, 0, 2, -2, 0), (0.00004, 0, 3, 0, 0, 0),
    (0.00003, 0, 1, 1, -2, 0), (0.00003, 0, 0, 2, 2, 0), (-0.00003, 0, 1, 1, 2, 0),
    (0.00003, 0, -1, 1, 2, 0), (-0.00002, 0, -1, 1, -2, 0), (-0.00002, 0, 1, 3, 0, 0),
    (0.00002, 0, 0, 4, 0, 0),
)


def new_moon(k: int) -> float:
    """Julian day (UT) of the ``k``-th true new moon after January 2000 (k may be < 0)."""
    t = k / 1236.85
    jde = (_FIRST_NEW_MOON_2000 + _SYNODIC_MONTH * k + 0.00015437 * t**2
           - 0.000000150 * t**3 + 0.00000000073 * t**4)
    e = 1 - 0.002516 * t - 0.0000074 * t**2
    m = 2.5534 + 29.10535670 * k - 0.0000014 * t**2 - 0.00000011 * t**3
    m1 = (201.5643 + 385.81693528 * k + 0.0107582 * t**2 + 0.00001238 * t**3
          - 0.000000058 * t**4)
    f = (160.7108 + 390.67050284 * k - 0.0016118 * t**2 - 0.00000227 * t**3
         + 0.000000011 * t**4)
    omega = 124.7746 - 1.56375588 * k + 0.0020672 * t**2 + 0.00000215 * t**3
    correction = sum(
        c * e**power * _sin(a * m + b * m1 + g * f + h * omega)
        for c, power, a, b, g, h in _NEW_MOON_TERMS
    )
    return jde + correction - _delta_t_days(2000 + k / 12.3685)


def _delta_t_days(year: float) -> float:
    """TT − UT in days (Espenak & Meeus, NASA five-millennium canon, fits by era)."""
    if year < 1920:
        t = year - 1900
        seconds = (-2.79 + 1.494119 * t - 0.0598939 * t**2 + 0.0061966 * t**3
                   - 0.000197 * t**4)
    elif year < 1941:
        t = year - 1920
        seconds = 21.20 + 0.84493 * t - 0.076100 * t**2 + 0.0020936 * t**3
    elif year < 1961:
        t = year - 1950
        seconds = 29.07 + 0.407 * t - t**2 / 233 + t**3 / 2547
    elif year < 1986:
        t = year - 1975
        seconds = 45.45 + 1.067 * t - t**2 / 260 - t**3 / 718
    elif year < 2005:
        t = year - 2000
        seconds = (63.86 + 0.3345 * t - 0.060374 * t**2 + 0.0017275 * t**3
                   + 0.000651814 * t**4 + 0.00002373599 * t**5)
    elif year < 2050:
        t = year - 2000
        seconds = 62.92 + 0.32217 * t + 0.005589 * t**2
    else:
        seconds = -20 + 32 * ((year - 1820) / 100) ** 2 - 0.5628 * (2150 - year)
    return seconds / 86400


def sun_longitude(jd: float) -> float:
    """The sun's apparent ecliptic longitude in degrees [0, 360) at Julian day ``jd``."""
    t = (jd - _J2000) / 36525
    mean_longitude = 280.46646 + 36000.76983 * t + 0.0003032 * t**2
    anomaly = 357.52911 + 35999.05029 * t - 0.0001537 * t**2
    centre = ((1.914602 - 0.004817 * t - 0.000014 * t**2) * _sin(anomaly)
              + (0.019993 - 0.000101 * t) * _sin(2 * anomaly) + 0.000289 * _sin(3 * anomaly))
    omega = 125.04 - 1934.136 * t
    return (mean_longitude + centre - 0.00569 - 0.00478 * _sin(omega)) % 360


def _local_day(jd: float) -> dt.date:
    """The date in Vietnam (UTC+7) at the instant ``jd`` (UT)."""
    return dt.date.fromordinal(math.floor(jd + _UTC_OFFSET_DAYS - _ORDINAL_TO_JD))


def _solar_term(day: dt.date) -> int:
    """Which 30° sector of longitude the sun is in at the start of ``day`` in Vietnam."""
    return int(sun_longitude(day.toordinal() + _ORDINAL_TO_JD - _UTC_OFFSET_DAYS) // 30)


def _new_moon_index(day: dt.date) -> int:
    """The ``k`` of the last new moon that starts a month on or before ``day``."""
    k = math.floor((day.toordinal() + _ORDINAL_TO_JD - _FIRST_NEW_MOON_2000) / _SYNODIC_MONTH)
    while _local_day(new_moon(k + 1)) <= day:
        k += 1
    while _local_day(new_moon(k)) > day:
        k -= 1
    return k


def _eleventh_month(year: int) -> int:
    """``k`` of the new moon that starts the 11th month, the one holding the winter
    solstice (longitude 270°) of Gregorian ``year``."""
    k = _new_moon_index(dt.date(year, 12, 31))
    # the month that starts after the solstice is the 12th: step back one
    if _solar_term(_local_day(new_moon(k))) >= 9:
        k -= 1
    return k


@functools.cache
def _months(lunar_year: int) -> tuple[tuple[int, bool, dt.date], ...]:
    """(number, leap?, first day) of every month from the 11th month before ``lunar_year``
    to the 11th month inside it: the 1st–3rd months of ``lunar_year`` are among them."""
    first, last = _eleventh_month(lunar_year - 1), _eleventh_month(lunar_year)
    starts = [_local_day(new_moon(k)) for k in range(first, last + 2)]
    leap_at = None
    if last - first == 13:
        for i in range(1, 13):
            if _solar_term(starts[i]) == _solar_term(starts[i + 1]):
                leap_at = i
                break
    months: list[tuple[int, bool, dt.date]] = []
    number = 11
    for i, start in enumerate(starts[:-1]):
        leap = i == leap_at
        if i > 0 and not leap:
            number = number % 12 + 1
        months.append((number, leap, start))
    return tuple(months)


def lunar_to_solar(lunar_year: int, month: int, day: int) -> dt.date:
    """The Gregorian date of ``day``/``month`` (not a leap month) of ``lunar_year``.

    ``lunar_year`` is named by the Gregorian year in which its first month starts, and
    ``month`` must be 1–10 (the months of that lunar year inside the computed span).
    """
    if not 1 <= month <= 10:
        raise ValueError(f"month must be 1–10, got {month}")
    months = _months(lunar_year)
    position = next(i for i, (number, leap, _) in enumerate(months)
                    if number == month and not leap and i > 1)
    # months 1–10 always have a successor in the span, which ends with the 11th month
    start, following = months[position][2], months[position + 1][2]
    if not 1 <= day <= (following - start).days:
        raise ValueError(f"month {month} of lunar year {lunar_year} has "
                         f"{(following - start).days} days, not {day}")
    return start + dt.timedelta(days=day - 1)


def last_month_length(year: int) -> int:
    """Days in the month that ends the lunar year before ``year``'s (29 or 30): the
    lunar day of the eve of Tết."""
    months = _months(year)
    first = next(i for i, (number, leap, _) in enumerate(months) if number == 1 and not leap)
    return (months[first][2] - months[first - 1][2]).days


def lunar_new_year(year: int) -> dt.date:
    """Mùng 1 Tết: the first day of the lunar year that starts in Gregorian ``year``."""
    return lunar_to_solar(year, 1, 1)


def hung_kings_day(year: int) -> dt.date:
    """Giỗ Tổ Hùng Vương: the 10th day of the 3rd lunar month of ``year``."""
    return lunar_to_solar(year, 3, 10)

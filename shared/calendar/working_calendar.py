"""Working-day arithmetic over one calendar version plus company overrides."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from hotro.shared.calendar.computation import CIVIL_CODE_RULE, DeadlineComputation, SkippedDay
from hotro.shared.calendar.days import CalendarDay
from hotro.shared.calendar.errors import OutsideCoverageError
from hotro.shared.calendar.overrides import CompanyOverrides
from hotro.shared.calendar.provisional import provisional_days_off
from hotro.shared.calendar.schedule import CalendarVersion, ProvisionalRules

NOT_COVERED = "not covered by an official schedule"
_ONE_DAY = dt.timedelta(days=1)
#: distinct (event date, n) kept per calendar: years of receipt days, a few rules each
_CACHED_COMPUTATIONS = 4096


@dataclass(frozen=True, slots=True)
class DayStatus:
    working: bool
    #: Why a non-working day is off ("Saturday", or a CalendarDay label); None when working.
    reason: str | None
    covered: bool


class WorkingCalendar:
    """The official schedule of one version, seen through one company's overrides.

    Outside ``covered_years`` a non-strict calendar uses a provisional schedule (the
    holidays of Điều 112 with their nghỉ bù, see ``shared.calendar.provisional``) and flags
    every result as not covered; a strict calendar raises ``OutsideCoverageError`` instead.
    """

    def __init__(
        self,
        *,
        version: CalendarVersion,
        days: Mapping[dt.date, CalendarDay],
        covered_years: frozenset[int],
        provisional: ProvisionalRules,
        timezone: dt.tzinfo,
        timezone_name: str,
        overrides: CompanyOverrides | None = None,
        strict: bool = False,
    ) -> None:
        self._version = version
        self._days = dict(days)
        self._covered_years = covered_years
        self._provisional_rules = provisional
        #: year -> its provisional days off, for years outside ``covered_years``
        self._provisional: dict[int, dict[dt.date, CalendarDay]] = {}
        self._tz = timezone
        self._tz_name = timezone_name
        self._overrides = overrides or CompanyOverrides()
        self._strict = strict
        #: (event date, n) -> its computation: pure, and asked again for every clock
        self._computed: dict[tuple[dt.date, int], DeadlineComputation] = {}
        #: day -> its status: pure too, and asked for every day of every clock's count
        #: each time sla plans when a clock turns "approaching"
        self._statuses: dict[dt.date, DayStatus] = {}

    @property
    def version(self) -> str:
        return self._version.id

    @property
    def effective_from(self) -> dt.date:
        return self._version.effective_from

    @property
    def timezone(self) -> dt.tzinfo:
        return self._tz

    @property
    def overrides(self) -> CompanyOverrides:
        return self._overrides

    def covers(self, day: dt.date) -> bool:
        return day.year in self._covered_years

    def local_date(self, moment: dt.date | dt.datetime) -> dt.date:
        """The local calendar date of an event; naive datetimes are refused as ambiguous."""
        if not isinstance(moment, dt.datetime):
            return moment
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(
                f"naive datetime {moment.isoformat()}: pass an aware datetime or a date"
            )
        return moment.astimezone(self._tz).date()

    def status(self, day: dt.date) -> DayStatus:
        known = self._statuses.get(day)
        if known is None:
            if len(self._statuses) >= _CACHED_COMPUTATIONS:
                self._statuses.clear()
            known = self._statuses[day] = self._status(day)
        return known

    def _status(self, day: dt.date) -> DayStatus:
        covered = self.covers(day)
        if not covered and self._strict:
            raise OutsideCoverageError(
                f"{day.isoformat()} is {NOT_COVERED} (calendar {self.version} covers "
                f"{', '.join(map(str, sorted(self._covered_years)))})"
            )
        extra = self._overrides.extra_day_off(day)
        if extra is not None:
            return DayStatus(False, f"company day off: {extra.reason}", covered)
        special = self._special_day(day, covered)
        if special is not None and special.kind in ("holiday", "compensatory"):
            return DayStatus(False, special.label(), covered)
        if special is not None and self._overrides.observe_swaps:
            working = special.kind == "working_weekend"
            return DayStatus(working, None if working else special.label(), covered)
        if day.weekday() in self._overrides.working_weekdays:
            return DayStatus(True, None, covered)
        return DayStatus(False, f"{day:%A} (weekly rest day)", covered)

    def is_working_day(self, day: dt.date) -> bool:
        return self.status(day).working

    def add_working_days(self, event: dt.date | dt.datetime, n: int) -> DeadlineComputation:
        """The deadline ``n`` working days after ``event``.

        Civil Code 2015 art. 147(1): the period starts on the day after the event (the event
        day itself is never counted, even if it is a working day). Art. 148(1),(3): the period
        ends at 24:00 (Asia/Ho_Chi_Minh) of its last day — here the n-th working day.
        """
        if n < 1:
            raise ValueError(f"n must be at least 1 working day, got {n}")
        event_date = self.local_date(event)
        key = (event_date, n)
        computed = self._computed.get(key)
        if computed is None:
            if len(self._computed) >= _CACHED_COMPUTATIONS:
                self._computed.clear()
            computed = self._computed[key] = self._count(event_date, n)
        return computed

    def _count(self, event_date: dt.date, n: int) -> DeadlineComputation:
        counted: list[dt.date] = []
        skipped: list[SkippedDay] = []
        uncovered: list[dt.date] = []
        for day in _days_after(event_date):
            status = self.status(day)
            if not status.covered:
                uncovered.append(day)
            if status.working:
                counted.append(day)
                if len(counted) == n:
                    break
            else:
                skipped.append(SkippedDay(date=day, reason=status.reason or "non-working day"))
        last_day = counted[-1]
        return DeadlineComputation(
            event_date=event_date,
            working_days=n,
            last_day=last_day,
            ends_at=dt.datetime.combine(last_day + _ONE_DAY, dt.time(0), tzinfo=self._tz),
            counted=counted,
            skipped=skipped,
            rule=f"{CIVIL_CODE_RULE} Working days per calendar {self.version}.",
            calendar_version=self.version,
            timezone=self._tz_name,
            overrides=self._overrides.describe(),
            covered=not uncovered,
            warnings=self._coverage_warnings(uncovered),
        )

    def working_days_between(self, start_exclusive: dt.date, end_inclusive: dt.date) -> int:
        """Working days in (start_exclusive, end_inclusive]; 0 when end is not after start."""
        if end_inclusive <= start_exclusive:
            return 0  # before stepping a day on: there is no day after date.max
        count = 0
        day = start_exclusive + _ONE_DAY
        while day <= end_inclusive:
            count += self.is_working_day(day)
            day += _ONE_DAY
        return count

    def special_days(self, year: int) -> list[CalendarDay]:
        """Every day of ``year`` that differs from the plain week, with its source, by date.

        Includes company extra days off; swap days are left out when swaps are not observed.
        """
        if year not in self._covered_years and self._strict:
            raise OutsideCoverageError(f"{year} is {NOT_COVERED}")
        found = [
            day
            for day in self._year_days(year)
            if self._overrides.observe_swaps or day.kind not in ("swapped_off", "working_weekend")
        ]
        found += [
            CalendarDay(
                date=extra.date,
                kind="company_day_off",
                name_vi=extra.reason,
                name_en=extra.reason,
                source="company overrides",
            )
            for extra in self._overrides.extra_days_off
            if extra.date.year == year
        ]
        return sorted(found, key=lambda day: (day.date, day.kind))

    def days_off(self, year: int) -> list[CalendarDay]:
        """Holidays, compensatory, swapped and company days off of ``year``, with sources."""
        return [day for day in self.special_days(year) if day.is_day_off]

    def working_weekends(self, year: int) -> list[CalendarDay]:
        return [day for day in self.special_days(year) if not day.is_day_off]

    def _special_day(self, day: dt.date, covered: bool) -> CalendarDay | None:
        if covered:
            return self._days.get(day)
        return self._provisional_year(day.year).get(day)

    def _year_days(self, year: int) -> list[CalendarDay]:
        if year in self._covered_years:
            return [day for date, day in self._days.items() if date.year == year]
        return list(self._provisional_year(year).values())

    def _provisional_year(self, year: int) -> dict[dt.date, CalendarDay]:
        days = self._provisional.get(year)
        if days is None:
            days = self._provisional[year] = provisional_days_off(year, self._provisional_rules)
        return days

    def _coverage_warnings(self, uncovered: list[dt.date]) -> list[str]:
        if not uncovered:
            return []
        if self._covered_years and uncovered[0].year < min(self._covered_years):
            return [
                f"{uncovered[0].isoformat()} … {uncovered[-1].isoformat()} {NOT_COVERED}: "
                f"a year before those calendar {self.version} covers, laid out by the "
                "provisional schedule (the holidays of Labour Code 2019 art. 112 with their "
                "nghỉ bù, Quốc khánh one day before 2021; Tết and Giỗ Tổ from the lunar "
                "calendar). That year's own notice (its Tết days, its swaps) is not in the "
                "data, and before 2013 the law itself differed (Tết 4 days; Giỗ Tổ a day off "
                "only from 2007)."
            ]
        return [
            f"{uncovered[0].isoformat()} … {uncovered[-1].isoformat()} {NOT_COVERED}: a "
            "provisional schedule was applied (the holidays of Labour Code art. 112 with "
            "their nghỉ bù; Tết and Giỗ Tổ from the lunar calendar; which days make Tết and "
            "which day joins 2/9 as the recent notices chose). The Government's notice may "
            "move Tết by a day and add swaps; recompute when it is published."
        ]


def _days_after(day: dt.date) -> Iterator[dt.date]:
    while day < dt.date.max:
        day += _ONE_DAY
        yield day
    raise OutsideCoverageError(f"{day.isoformat()} is the last date there is: no day after it")

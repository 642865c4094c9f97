"""Calendar versions: which official notices a calendar includes, and how to load one.

A version is the state of the official schedule after one Government notice. Version ``V``
contains every official entry introduced by ``V`` or an earlier official version (minus those
withdrawn by then). An "unconfirmed" version adds its own entries on top of the official ones
before it and is never chosen by default.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo

from hotro.shared.calendar.days import CalendarDay
from hotro.shared.calendar.errors import UnknownCalendarVersionError
from hotro.shared.calendar.overrides import CompanyOverrides
from hotro.shared.calendar.resources import packaged_schedule
from hotro.shared.calendar.schedule import CalendarVersion, DayEntry, ScheduleData
from hotro.shared.calendar.working_calendar import WorkingCalendar

# Vietnam has kept UTC+07:00 without DST since 1975; used only if the host has no tz database.
_ICT = dt.timezone(dt.timedelta(hours=7), "ICT")


def available_versions() -> list[CalendarVersion]:
    """All versions in the data file, oldest first (including unconfirmed ones)."""
    return list(packaged_schedule().versions)


def default_version() -> str:
    """The newest official version."""
    return _official_versions(packaged_schedule())[-1].id


def version_in_force(on: dt.date) -> str:
    """The newest official version whose notice was issued on or before ``on``.

    Use it to recompute a deadline exactly as it was known on a past date.
    """
    in_force = [v for v in _official_versions(packaged_schedule()) if v.effective_from <= on]
    if not in_force:
        raise UnknownCalendarVersionError(f"no official calendar version in force on {on}")
    return in_force[-1].id


def load_calendar(
    version: str | None = None,
    overrides: CompanyOverrides | None = None,
    *,
    strict: bool = False,
    schedule: ScheduleData | None = None,
) -> WorkingCalendar:
    """A working calendar for ``version`` (default: newest official) and company overrides.

    It covers the years whose notices ``version`` includes; ``strict=True`` raises
    ``OutsideCoverageError`` for other dates instead of using the provisional schedule
    (``shared.calendar.provisional``). ``schedule`` replaces the packaged data file.
    """
    data = schedule or packaged_schedule()
    chosen = _find_version(data, version or _official_versions(data)[-1].id)
    included = _included_version_ids(data, chosen.id)
    return WorkingCalendar(
        version=chosen,
        days=_days_of_version(chosen.id) if schedule is None else _days_of(data, included),
        covered_years=frozenset(data.years_covered_by(included)),
        provisional=data.provisional_rules_for(included),
        timezone=_timezone(data.timezone),
        timezone_name=data.timezone,
        overrides=overrides,
        strict=strict,
    )


@functools.cache
def _days_of_version(version_id: str) -> dict[dt.date, CalendarDay]:
    data = packaged_schedule()
    return _days_of(data, _included_version_ids(data, version_id))


def _days_of(data: ScheduleData, included: frozenset[str]) -> dict[dt.date, CalendarDay]:
    days: dict[dt.date, CalendarDay] = {}
    for entry in data.days:
        if entry.since in included and entry.withdrawn_in not in included:
            days[entry.date] = _calendar_day(data, entry)
    return days


def _included_version_ids(data: ScheduleData, version_id: str) -> frozenset[str]:
    ids = [v.id for v in data.versions]
    position = ids.index(version_id)
    official_before = {v.id for v in data.versions[: position + 1] if v.status == "official"}
    return frozenset(official_before | {version_id})


def _calendar_day(data: ScheduleData, entry: DayEntry) -> CalendarDay:
    return CalendarDay(
        date=entry.date,
        kind=entry.kind,
        name_vi=entry.name_vi,
        name_en=entry.name_en,
        source=entry.source,
        source_url=data.source(entry.source).url,
        note=entry.note,
    )


def _find_version(data: ScheduleData, version_id: str) -> CalendarVersion:
    for version in data.versions:
        if version.id == version_id:
            return version
    known = ", ".join(v.id for v in data.versions)
    raise UnknownCalendarVersionError(f"unknown calendar version {version_id!r} (known: {known})")


def _official_versions(data: ScheduleData) -> list[CalendarVersion]:
    return [v for v in data.versions if v.status == "official"]


@functools.cache
def _timezone(name: str) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except zoneinfo.ZoneInfoNotFoundError:
        if name == "Asia/Ho_Chi_Minh":
            return _ICT
        raise

"""Vietnamese working-day calendar and deadline rules (pure domain; data loaded lazily).

Typical use: ``n, rule = resolve_working_days("reply")`` then
``load_calendar().add_working_days(received_at, n)``.
"""

from hotro.shared.calendar.computation import DeadlineComputation, SkippedDay
from hotro.shared.calendar.days import CalendarDay
from hotro.shared.calendar.errors import (
    CalendarDataError,
    CalendarError,
    OutsideCoverageError,
    UnknownCalendarVersionError,
)
from hotro.shared.calendar.overrides import CompanyOverrides, ExtraDayOff, Weekday
from hotro.shared.calendar.registry import (
    available_versions,
    default_version,
    load_calendar,
    version_in_force,
)
from hotro.shared.calendar.rules import (
    DeadlineKind,
    DeadlinePolicy,
    load_policy,
    parse_policy,
    resolve_working_days,
)
from hotro.shared.calendar.working_calendar import WorkingCalendar

__all__ = [
    "CalendarDataError",
    "CalendarDay",
    "CalendarError",
    "CompanyOverrides",
    "DeadlineComputation",
    "DeadlineKind",
    "DeadlinePolicy",
    "ExtraDayOff",
    "OutsideCoverageError",
    "SkippedDay",
    "UnknownCalendarVersionError",
    "Weekday",
    "WorkingCalendar",
    "available_versions",
    "default_version",
    "load_calendar",
    "load_policy",
    "parse_policy",
    "resolve_working_days",
    "version_in_force",
]

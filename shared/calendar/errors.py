"""Exceptions raised by the working-day calendar."""

from __future__ import annotations


class CalendarError(Exception):
    """Base class of every calendar error."""


class CalendarDataError(CalendarError, ValueError):
    """A packaged or supplied data file (calendar or deadline policy) is invalid."""


class UnknownCalendarVersionError(CalendarError, LookupError):
    """No calendar version of that name (or none in force on that date)."""


class OutsideCoverageError(CalendarError):
    """A strict calendar was asked about a date no official schedule covers."""

"""Company-specific adjustments to the official calendar."""

from __future__ import annotations

import datetime as dt
from enum import IntEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Weekday(IntEnum):
    """Values match ``date.weekday()``."""

    MONDAY = 0
    TUESDAY = 1
    WEDNESDAY = 2
    THURSDAY = 3
    FRIDAY = 4
    SATURDAY = 5
    SUNDAY = 6


MONDAY_TO_FRIDAY = frozenset(Weekday(day) for day in range(5))


class ExtraDayOff(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    date: dt.date
    reason: str = Field(min_length=1)


class CompanyOverrides(BaseModel):
    """How one company departs from the official public-sector schedule.

    ``observe_swaps=False``: the company does not follow the Government's swaps, so the
    ``swapped_off`` weekdays are worked and the ``working_weekend`` days are rest days.
    Holidays and compensatory days off (Labour Code art. 111.3, 112) apply to every employer.
    ``working_weekdays`` accepts ints (0 = Monday) or names ("sat", "Saturday").
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    extra_days_off: tuple[ExtraDayOff, ...] = ()
    observe_swaps: bool = True
    working_weekdays: frozenset[Weekday] = Field(default=MONDAY_TO_FRIDAY, min_length=1)

    @field_validator("working_weekdays", mode="before")
    @classmethod
    def _accept_names(cls, value: Any) -> Any:
        if isinstance(value, str) or not hasattr(value, "__iter__"):
            return value
        return [_weekday_from_name(item) if isinstance(item, str) else item for item in value]

    def extra_day_off(self, day: dt.date) -> ExtraDayOff | None:
        return next((extra for extra in self.extra_days_off if extra.date == day), None)

    def describe(self) -> str:
        if self == CompanyOverrides():
            return "none"
        parts: list[str] = []
        if not self.observe_swaps:
            parts.append("official swaps not observed")
        if self.working_weekdays != MONDAY_TO_FRIDAY:
            names = ", ".join(day.name.title() for day in sorted(self.working_weekdays))
            parts.append(f"working weekdays: {names}")
        if self.extra_days_off:
            parts.append(f"{len(self.extra_days_off)} extra company day(s) off")
        return "; ".join(parts)


def _weekday_from_name(name: str) -> Weekday:
    wanted = name.strip().upper()
    for day in Weekday:
        if day.name == wanted or day.name[:3] == wanted:
            return day
    raise ValueError(f"unknown weekday name {name!r}")

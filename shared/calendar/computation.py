"""The result of a working-day deadline computation, with its human explanation."""

from __future__ import annotations

import datetime as dt

from pydantic import AwareDatetime, BaseModel, ConfigDict, PrivateAttr

CIVIL_CODE_RULE = (
    "Civil Code 2015 (Bộ luật Dân sự 91/2015/QH13) art. 147(1): a period counted in days starts "
    "on the day after the event; art. 148(1),(3): it ends at 24:00 of its last day. Only working "
    "days are counted, so the last day is always a working day."
)


class SkippedDay(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    date: dt.date
    reason: str


class DeadlineComputation(BaseModel):
    """How ``n`` working days after ``event_date`` were counted.

    ``ends_at`` is 00:00 local time of the day after ``last_day`` (= 24:00 of ``last_day``).
    ``covered`` is False when any counted or skipped day lies outside the official schedule.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_date: dt.date
    working_days: int
    last_day: dt.date
    ends_at: AwareDatetime
    counted: list[dt.date]
    skipped: list[SkippedDay]
    rule: str
    calendar_version: str
    timezone: str
    overrides: str
    covered: bool
    warnings: list[str] = []
    #: the explanation, written once (the computation is frozen and shared by a cache)
    _explained: str | None = PrivateAttr(default=None)

    def explain(self) -> str:
        if self._explained is None:
            self._explained = self._explanation()
        return self._explained

    def _explanation(self) -> str:
        lines = [
            f"Event on {_day(self.event_date)} (local date, {self.timezone}).",
            f"Counting {self.working_days} working day(s) from the next day, "
            f"{_day(self.event_date + dt.timedelta(days=1))} (Civil Code 2015 art. 147).",
        ]
        if self.skipped:
            lines.append(f"Skipped {len(self.skipped)} non-working day(s):")
            lines += [f"  - {_day(s.date)}: {s.reason}" for s in self.skipped]
        else:
            lines.append("No non-working day in between.")
        counted = ", ".join(f"{i}) {_short(d)}" for i, d in enumerate(self.counted, start=1))
        lines.append(f"Working days counted: {counted}.")
        lines.append(
            f"Last day: {_day(self.last_day)}. The period ends at 24:00 that day "
            f"({self.ends_at.isoformat()}), Civil Code 2015 art. 148."
        )
        lines.append(f"Calendar: {self.calendar_version}; company overrides: {self.overrides}.")
        lines += [f"WARNING: {warning}" for warning in self.warnings]
        return "\n".join(lines)


def _day(day: dt.date) -> str:
    return f"{day:%A} {day.isoformat()}"


def _short(day: dt.date) -> str:
    return f"{day:%a} {day.isoformat()}"

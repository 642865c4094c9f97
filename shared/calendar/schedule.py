"""Schema of the official-schedule data file (``data/vn_2024_2026.toml``).

Field meanings are documented at the top of the data file itself.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hotro.shared.calendar.overrides import Weekday

DayKind = Literal["holiday", "compensatory", "swapped_off", "working_weekend"]
VersionStatus = Literal["official", "unconfirmed"]

SATURDAY = 5


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SourceRef(_Frozen):
    ref: str = Field(min_length=1)
    issued: dt.date
    title: str
    url: str | None = None
    note: str | None = None


class CalendarVersion(_Frozen):
    id: str = Field(pattern=r"^[a-z]{2}-\d{4}\.\d+[a-z0-9-]*$")
    effective_from: dt.date
    status: VersionStatus = "official"
    sources: tuple[str, ...]
    description: str
    #: the years whose schedule this notice sets (none for a notice that amends one); a
    #: calendar version covers the years of every notice it includes, and no other
    covers: tuple[int, ...] = ()


class DayEntry(_Frozen):
    date: dt.date
    kind: DayKind
    name_vi: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    source: str
    since: str
    withdrawn_in: str | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _weekday_matches_kind(self) -> Self:
        on_weekend = self.date.weekday() >= SATURDAY
        if self.kind == "working_weekend" and not on_weekend:
            raise ValueError(f"{self.date} is a weekday, so it cannot be a working_weekend day")
        if self.kind in ("swapped_off", "compensatory") and on_weekend:
            raise ValueError(f"{self.date} is a Saturday/Sunday, so it cannot be {self.kind}")
        return self


class Difference(_Frozen):
    dates: tuple[dt.date, ...] = Field(min_length=1)
    package: str
    package_says: str
    official: str
    note: str | None = None


class ProvisionalRules(_Frozen):
    """How a year no notice covers is laid out: what Điều 112 leaves to each year's notice,
    filled in with the arrangement the recent notices chose."""

    source: str
    #: the version these rules start with (None: the first, from the oldest version on);
    #: a released version's provisional years never change (``fingerprints``): rules
    #: retuned later are a revision with the new version's id here
    since: str | None = None
    #: Tết: the last ``tet_days_before`` days of the old lunar year and the first
    #: ``tet_days_from`` of the new one (together the 5 days of Điều 112)
    tet_days_before: int = Field(ge=0, le=5)
    tet_days_from: int = Field(ge=1, le=5)
    tet_basis: str
    #: the second National-Day day: days from 2/9 (−1 or +1), by the weekday of 2/9
    national_day_adjacent: dict[str, Literal[-1, 1]]
    national_day_basis: str

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.tet_days_before + self.tet_days_from != 5:
            raise ValueError("tet_days_before + tet_days_from must be 5 (Điều 112: Tết 5 days)")
        if sorted(self.national_day_adjacent) != sorted(_weekday_name(d) for d in Weekday):
            raise ValueError("national_day_adjacent must name each of "
                             f"{', '.join(_weekday_name(d) for d in Weekday)}")
        return self

    def national_day_offset(self, national_day: dt.date) -> int:
        return self.national_day_adjacent[_weekday_name(Weekday(national_day.weekday()))]


def _weekday_name(day: Weekday) -> str:
    return day.name.capitalize()  # as the data file writes it: "Monday"


class ScheduleData(_Frozen):
    format_version: Literal[1]
    timezone: str
    legal_basis: str
    sources: tuple[SourceRef, ...]
    versions: tuple[CalendarVersion, ...] = Field(min_length=1)
    days: tuple[DayEntry, ...]
    differences: tuple[Difference, ...] = ()
    provisional: ProvisionalRules
    #: later provisional rules, each from the version its ``since`` names (oldest first)
    provisional_revisions: tuple[ProvisionalRules, ...] = ()

    @model_validator(mode="after")
    def _cross_references(self) -> Self:
        problems = [*self._version_problems(), *self._day_problems(),
                    *self._provisional_problems()]
        if not self.covered_years:
            problems.append("no official version covers a year (`covers`)")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _provisional_problems(self) -> list[str]:
        problems: list[str] = []
        refs = {source.ref for source in self.sources}
        order = [version.id for version in self.versions]
        if self.provisional.since is not None:
            problems.append("provisional: the first rules apply from the oldest version (no "
                            "`since`); later ones are [[provisional_revisions]]")
        previous = -1
        for index, rules in enumerate((self.provisional, *self.provisional_revisions)):
            where = "provisional" if index == 0 else f"provisional_revisions[{index - 1}]"
            if rules.source not in refs:
                problems.append(f"{where}: source {rules.source!r} is not listed in [[sources]]")
            if index == 0:
                continue
            if rules.since not in order:
                problems.append(f"{where}: since={rules.since!r} is not a listed version")
                continue
            position = order.index(rules.since)
            if position <= previous:
                problems.append(f"{where}: since={rules.since!r} does not come after the "
                                "previous revision's version (list oldest first)")
            previous = position
        return problems

    def provisional_rules_for(self, version_ids: frozenset[str]) -> ProvisionalRules:
        """The provisional rules of a calendar that includes ``version_ids``: the newest
        revision whose version it includes, else the first rules."""
        chosen = self.provisional
        for rules in self.provisional_revisions:
            if rules.since in version_ids:
                chosen = rules
        return chosen

    def _version_problems(self) -> list[str]:
        problems: list[str] = []
        refs = {source.ref for source in self.sources}
        seen: set[str] = set()
        previous: dt.date | None = None
        for index, version in enumerate(self.versions):
            where = f"versions[{index}] (id={version.id})"
            if version.id in seen:
                problems.append(f"{where}: duplicate version id")
            seen.add(version.id)
            if previous is not None and version.effective_from < previous:
                problems.append(f"{where}: effective_from goes backwards (list oldest first)")
            previous = version.effective_from
            unknown = [ref for ref in version.sources if ref not in refs]
            problems += [f"{where}: unknown source {ref!r}" for ref in unknown]
        return problems

    def _day_problems(self) -> list[str]:
        problems: list[str] = []
        refs = {source.ref for source in self.sources}
        version_ids = {version.id for version in self.versions}
        seen: dict[tuple[dt.date, str], int] = {}
        for index, day in enumerate(self.days):
            where = f"days[{index}] (date={day.date}, name_en={day.name_en})"
            if day.source not in refs:
                problems.append(f"{where}: source {day.source!r} is not listed in [[sources]]")
            for field, value in (("since", day.since), ("withdrawn_in", day.withdrawn_in)):
                if value is not None and value not in version_ids:
                    problems.append(f"{where}: {field}={value!r} is not a listed version")
            if day.date.year not in self.covered_years:
                problems.append(f"{where}: year {day.date.year} is covered by no official "
                                "version (`covers`)")
            key = (day.date, day.since)
            if key in seen:
                problems.append(f"{where}: same date already listed at days[{seen[key]}]")
            seen[key] = index
        return problems

    @property
    def covered_years(self) -> tuple[int, ...]:
        """The years some official notice sets, oldest first."""
        return self.years_covered_by(frozenset(v.id for v in self.versions
                                               if v.status == "official"))

    def years_covered_by(self, version_ids: frozenset[str]) -> tuple[int, ...]:
        return tuple(sorted({year for v in self.versions if v.id in version_ids
                             for year in v.covers}))

    def source(self, ref: str) -> SourceRef:
        return next(source for source in self.sources if source.ref == ref)

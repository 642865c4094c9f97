"""A calendar version means one schedule forever.

Deadlines are stored with the calendar version they were planned under, and an audit
re-plans them under that version to check them. If the data file changed what an existing
version decides — a day entry edited in place, a ``since`` moved, the provisional rules
retuned — the same label would then stand for two schedules, and clocks planned before the
edit would keep dates the version no longer gives (nothing re-plans them: only a *newer*
version does). A change must be entered as a new version.

Each version's schedule over ``YEARS`` (every day that is not a plain weekday or weekend:
its date, its kind, whether a notice set it) is fingerprinted, and the fingerprints of the
versions released so far are committed beside the data (``fingerprints.json``). A test
compares them; ``hotro calendar-versions --write`` records a new version's and refuses to
change a recorded one. Names and sources are not part of it: they explain a day, they do
not move a deadline."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from hotro.shared.calendar.registry import load_calendar
from hotro.shared.calendar.resources import packaged_schedule
from hotro.shared.calendar.schedule import ScheduleData
from hotro.shared.calendar.working_calendar import WorkingCalendar

#: the years compared: from the Labour Code 2019 taking effect to well past the newest
#: notice (provisional years included: they are what a version decides for them).
#: Changing the span changes every fingerprint: the file is then rewritten as a whole.
YEARS = range(2021, 2036)
FINGERPRINTS_FILE = Path(__file__).resolve().parent / "data" / "fingerprints.json"


def schedule_fingerprint(calendar: WorkingCalendar, years: range = YEARS) -> str:
    rows = [[day.date.isoformat(), day.kind, day.official]
            for year in years for day in calendar.special_days(year)]
    return hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()


def current_fingerprints(schedule: ScheduleData | None = None) -> dict[str, str]:
    """{version id: fingerprint} of every version in the data (``schedule``: instead of the
    packaged file)."""
    data = schedule or packaged_schedule()
    return {v.id: schedule_fingerprint(load_calendar(v.id, schedule=schedule))
            for v in data.versions}


def read_recorded(path: Path = FINGERPRINTS_FILE) -> dict[str, str]:
    if not path.exists():
        return {}
    recorded: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))["versions"]
    return recorded


@dataclass(frozen=True)
class Comparison:
    #: recorded versions whose schedule is no longer what was recorded
    changed: tuple[str, ...]
    #: versions in the data with no recorded fingerprint yet (new ones)
    unrecorded: tuple[str, ...]
    #: recorded versions the data no longer has
    removed: tuple[str, ...]

    @property
    def released_intact(self) -> bool:
        return not self.changed and not self.removed


def compare(recorded: dict[str, str], current: dict[str, str]) -> Comparison:
    return Comparison(
        changed=tuple(v for v in recorded if v in current and current[v] != recorded[v]),
        unrecorded=tuple(v for v in current if v not in recorded),
        removed=tuple(v for v in recorded if v not in current))


def write_recorded(recorded: dict[str, str], current: dict[str, str],
                   path: Path = FINGERPRINTS_FILE) -> Comparison:
    """Record the versions not recorded yet; never rewrite a recorded one (raises
    ``ValueError`` naming them when one changed or went missing)."""
    found = compare(recorded, current)
    if not found.released_intact:
        raise ValueError(describe(found))
    merged = {**recorded, **{v: current[v] for v in found.unrecorded}}
    path.write_text(json.dumps({"versions": merged}, indent=2) + "\n", encoding="utf-8")
    return found


def describe(found: Comparison) -> str:
    lines = [f"calendar version {v}: its schedule changed since it was released; enter the "
             "change as a new version (a [[versions]] entry and days with its `since`)"
             for v in found.changed]
    lines += [f"calendar version {v}: released, and no longer in the data" for v in found.removed]
    lines += [f"calendar version {v}: not recorded yet (hotro calendar-versions --write)"
              for v in found.unrecorded]
    return "\n".join(lines)

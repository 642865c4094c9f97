"""The calendar and the deadline policy sla plans with, read from the packaged calendar
registry and the policy file (``HOTRO_DEADLINE_POLICY_FILE``; the packaged one by default)."""

from __future__ import annotations

from datetime import time
from pathlib import Path

from hotro.services.sla.domain.planning import WORKING_HOURS, CalendarPlanner
from hotro.shared.calendar.registry import available_versions, load_calendar
from hotro.shared.calendar.rules import DeadlinePolicy, load_policy


def calendar_versions() -> list[str]:
    """Every calendar version id, oldest first: the order re-planning follows."""
    return [v.id for v in available_versions()]


def load_planner(calendar_version: str | None = None, *,
                 policy: DeadlinePolicy | None = None, policy_file: Path | str | None = None,
                 working_hours: tuple[time, time] = WORKING_HOURS) -> CalendarPlanner:
    """A planner on ``calendar_version`` (default: the newest official one) under ``policy``,
    else the policy in ``policy_file``, else the packaged policy."""
    return CalendarPlanner(load_calendar(calendar_version),
                           policy if policy is not None else load_policy(policy_file),
                           version_order=calendar_versions(), working_hours=working_hours)

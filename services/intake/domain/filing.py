"""Step 1's filing window: 7 working days from the incident, unless a product or category
has its own rule. The working-day arithmetic is shared.calendar's; this only applies it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from hotro.shared.calendar import DeadlinePolicy, WorkingCalendar

#: (product, category, incident_date, received_at) -> (last day to file, filed late?)
FilingCheck = Callable[[str | None, str | None, date, datetime], tuple[date, bool]]


def filing_window_check(calendar: WorkingCalendar, policy: DeadlinePolicy) -> FilingCheck:
    """The rule on a given calendar and policy. A complaint is in time up to 24:00
    (Vietnam time) of the last day."""

    def check(product: str | None, category: str | None, incident: date,
              received_at: datetime) -> tuple[date, bool]:
        days, _rule = policy.resolve_working_days("filing", product, category)
        deadline = calendar.add_working_days(incident, days)
        return deadline.last_day, received_at >= deadline.ends_at

    return check

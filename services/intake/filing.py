"""Step 1's filing window: 7 working days from the incident, unless a product or category
has its own rule. The working-day arithmetic is shared.calendar's; this only wires it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from hotro.shared.calendar import (
    DeadlinePolicy,
    WorkingCalendar,
    load_calendar,
    resolve_working_days,
)

#: (product, category, incident_date, received_at) -> (last day to file, filed late?)
FilingCheck = Callable[[str | None, str | None, date, datetime], tuple[date, bool]]


def calendar_filing_check(calendar: WorkingCalendar | None = None,
                          policy: DeadlinePolicy | None = None) -> FilingCheck:
    """The real rule. A complaint is in time up to 24:00 (Asia/Ho_Chi_Minh) of the last day."""
    cal = calendar or load_calendar()

    def check(product: str | None, category: str | None, incident: date,
              received_at: datetime) -> tuple[date, bool]:
        days, _rule = resolve_working_days("filing", product, category, policy=policy)
        deadline = cal.add_working_days(incident, days)
        return deadline.last_day, received_at >= deadline.ends_at

    return check


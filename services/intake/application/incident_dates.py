"""Where a new request's incident date comes from: the form's field, or — for an email
complaint, which has no such field — the customer's own words (``domain/incident_date``),
read against the day intake received the message (Vietnam time). When none was found, the
customer's later information is read the same way (``note_incident_date_given``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from hotro.services.intake.domain import FilingCheck, Request
from hotro.services.intake.domain.incident_date import find_incident_date
from hotro.shared.clock import VIETNAM_TZ


def incident_date_of(kind: str, channel: str, stated: date | None, description: str,
                     received_at: datetime) -> tuple[date | None, dict[str, Any] | None]:
    """The incident date to apply the filing window to, and the record of where it came
    from (stored in the request's details as ``incident_date_source``): ``form``;
    ``extracted_from_text`` with the phrase and rule; or, for an email complaint without a
    usable date, ``not_found`` with why (none, ambiguous, future, too_old) and the phrases
    seen. None for requests that take no incident date from text (advice, other channels
    without one)."""
    if stated is not None:
        return stated, {"source": "form"}
    if kind != "complaint" or channel != "email":
        return None, None
    found = find_incident_date(description, received_at.astimezone(VIETNAM_TZ).date())
    if found.outcome == "found" and found.day is not None:
        return found.day, {"source": "extracted_from_text", "phrase": found.phrase,
                           "rule": found.rule}
    return None, {"source": "not_found", "why": found.outcome,
                  "phrases": [c.phrase for c in found.candidates][:10]}


def note_incident_date_given(request: Request, content: str, now: datetime,
                             filing_check: FilingCheck, trace: dict[str, str | None]) -> None:
    """An email complaint that lacked its incident date: when the customer's information
    states one (read as an email's text is, relative to the day it arrived), record it with
    the filing window's verdict as of the complaint's receipt (``IncidentDateGiven``)."""
    if not request.awaits_incident_date:
        return
    found = find_incident_date(content, now.astimezone(VIETNAM_TZ).date())
    if found.outcome != "found" or found.day is None:
        return
    product, category = request.details.get("product"), request.details.get("category")
    deadline, late = filing_check(product, category, found.day,
                                  datetime.fromisoformat(request.received_at))
    request.record_incident_date(incident_date=found.day.isoformat(), phrase=found.phrase,
                                 rule=found.rule, filing_deadline=deadline.isoformat(),
                                 filed_late=late, trace=trace,
                                 reference=request.reference)

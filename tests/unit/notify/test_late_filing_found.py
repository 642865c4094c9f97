"""A late filing found after receipt (routing's LateFilingFound): the customer, already
acknowledged with a reply date, is told once that the case is under review; the next reply
DeadlineSet (sla's clock from the supervisor's acceptance) is told as the acceptance, with
its date, and only once."""

from __future__ import annotations

import uuid
from datetime import date

from hotro.services.notify.application import NotifyApplication
from hotro.services.notify.domain import Contact
from hotro.shared.contracts import events
from tests.unit.notify.wire import (
    REFERENCE,
    acknowledged,
    dispatches,
    envelope,
    memory_app,
    reply_deadline_set,
)

FOUND = events.LateFilingFound(reference=REFERENCE, incident_date=date(2026, 2, 9),
                               filing_deadline=date(2026, 2, 18))


def _purposes(app: NotifyApplication, complaint_id: uuid.UUID) -> list[str]:
    return [d.purpose for d in dispatches(app) if d.complaint_id == complaint_id]


def test_under_review_once_then_the_acceptance_with_its_date() -> None:
    app = memory_app()
    cid = uuid.uuid4()
    acknowledged(app, cid)
    app.handle(envelope("routing", FOUND, cid))
    app.handle(envelope("routing", FOUND, cid))  # announced twice: told once
    assert _purposes(app, cid) == ["acknowledgement", "filing_review"]
    [review] = [d for d in dispatches(app) if d.purpose == "filing_review"]
    assert review.context["incident_date"] == "2026-02-09"
    assert review.context["filing_deadline"] == "2026-02-18"
    contact: Contact = app.repository.get(Contact.create_id(cid))
    assert contact.incident_date == "2026-02-09"  # what a refusal would state

    app.handle(reply_deadline_set(cid, last_day=date(2026, 3, 27)))
    app.handle(reply_deadline_set(cid, last_day=date(2026, 3, 27)))
    assert _purposes(app, cid) == ["acknowledgement", "filing_review", "filing_accepted"]
    [accepted] = [d for d in dispatches(app) if d.purpose == "filing_accepted"]
    assert accepted.context["reply_deadline"] == "2026-03-27"

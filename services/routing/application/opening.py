"""A complaint or advice request received by intake opens its case (step 2 begins)."""

from __future__ import annotations

import uuid
from datetime import datetime

from hotro.services.routing.application.incident_date import ask_incident_date
from hotro.services.routing.domain.case import Case, TraceDict
from hotro.services.routing.domain.triage import TriageRules
from hotro.shared.contracts import events as wire


def open_case(complaint_id: uuid.UUID, received: wire.ComplaintReceived, triage: TriageRules,
              *, trace: TraceDict, now: datetime) -> Case:
    """The new case with its triage proposal, analysing — or, when it was filed after the
    filing deadline, awaiting a supervisor's review (never refused without one)."""
    p = received
    case = Case.open(complaint_id=complaint_id, reference=p.reference, kind=p.kind,
                     channel=p.channel, received_at=p.received_at, product=p.product,
                     category=p.category, incident_date=p.incident_date,
                     filed_late=p.filed_late, filing_deadline=p.filing_deadline,
                     language=p.language, trace=trace, now=now)
    case.apply_triage(ask_incident_date(
        triage.evaluate(p.kind, p.product, p.category, p.description), p),
        trace=trace, now=now)
    if p.filed_late:
        case.await_filing_review(trace=trace, now=now)
    else:
        case.start_analysis(trace=trace, now=now)
    return case

"""A complaint or advice request received by intake opens its case (step 2 begins)."""

from __future__ import annotations

import uuid
from datetime import datetime

from hotro.services.routing.domain.case import Case, TraceDict
from hotro.services.routing.domain.triage import TriageRules
from hotro.shared.contracts import events as wire


def open_case(complaint_id: uuid.UUID, received: wire.ComplaintReceived, triage: TriageRules,
              *, refuse_late: bool, trace: TraceDict, now: datetime) -> Case:
    """The new case with its triage proposal, analysing — or refused at once when it was
    filed after the filing deadline and ``refuse_late`` is on."""
    p = received
    case = Case.open(complaint_id=complaint_id, reference=p.reference, kind=p.kind,
                     channel=p.channel, received_at=p.received_at, product=p.product,
                     category=p.category, incident_date=p.incident_date,
                     filed_late=p.filed_late, filing_deadline=p.filing_deadline,
                     language=p.language, trace=trace, now=now)
    case.apply_triage(triage.evaluate(p.kind, p.product, p.category, p.description),
                      trace=trace, now=now)
    if p.filed_late and refuse_late:
        deadline = p.filing_deadline.strftime("%d/%m/%Y") if p.filing_deadline else "?"
        # The customer reads this under the refusal, in their language (never mixed).
        explanation = (f"Filed after the filing deadline ({deadline})." if p.language == "en"
                       else f"Gửi sau thời hạn khiếu nại (hạn cuối: {deadline}).")
        case.refuse(reason="late_filing", explanation=explanation,
                    trace=trace, now=now)
    else:
        case.start_analysis(trace=trace, now=now)
    return case

"""An email complaint has no incident-date field: when intake found no date in its text,
the first information request proposed to staff asks the customer for it (checklist item
``ngay-su-co``), so the filing window can be applied once it is known."""

from __future__ import annotations

from hotro.services.routing.domain.triage import TriageDecision
from hotro.shared.contracts import events as wire

INCIDENT_DATE_ITEM = "ngay-su-co"


def ask_incident_date(decision: TriageDecision, received: wire.ComplaintReceived
                      ) -> TriageDecision:
    """The triage proposal with ``ngay-su-co`` first on its checklist when an email
    complaint came without an incident date; otherwise unchanged. A proposal to answer
    at once becomes one to ask first (the answer needs the date)."""
    if received.kind != "complaint" or received.channel != "email" \
            or received.incident_date is not None \
            or INCIDENT_DATE_ITEM in decision.checklist:
        return decision
    outcome = "request_info" if decision.outcome == "support_can_resolve" else decision.outcome
    return decision.model_copy(update={
        "outcome": outcome,
        "checklist": (INCIDENT_DATE_ITEM, *decision.checklist),
        "explanation": f"{decision.explanation} — email không nêu ngày xảy ra sự việc: hỏi "
                       f"khách ({INCIDENT_DATE_ITEM}) để áp dụng thời hạn khiếu nại"})

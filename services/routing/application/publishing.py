"""What other services hear of routing's stored events: each published event becomes one
wire payload, built from the event alone."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

from hotro.services.routing.domain.case import Case
from hotro.shared.contracts import events as wire
from hotro.shared.eventstore.application import WireEvent

#: Stored events that other services hear about.
PUBLISHED = frozenset({"InfoRequested", "InfoProvided", "ReferredToDepartment",
                       "DepartmentResponded", "ReplyRequested", "ReplySent", "Refused",
                       "Closed", "Withdrawn", "Reopened", "LateFilingAccepted",
                       "FollowUpReceived", "LateFilingFound"})
#: ...of which these only when staff recorded them in routing (information handed in at
#: the counter, a reply given by phone): otherwise they came from intake or notify.
PUBLISHED_WHEN_STAFF = frozenset({"InfoProvided", "ReplySent"})

#: The case as it was at (case id, version): only for events stored before published
#: events named their case.
CaseAt = Callable[[uuid.UUID, int], Case]


def wire_event(e: Any, case_at: CaseAt) -> WireEvent | None:
    if not isinstance(e, Case.Event) or not hasattr(e, "trace"):
        return None
    name = type(e).__name__
    if name not in PUBLISHED:
        return None
    if name in PUBLISHED_WHEN_STAFF and e.trace.get("actor_kind") == "system":
        return None  # a reaction to another service's event: it already knows
    complaint_id = getattr(e, "complaint_id", None)
    reference = getattr(e, "reference", None)
    if complaint_id is None or reference is None:
        case = case_at(e.originator_id, e.originator_version)
        complaint_id, reference = case.complaint_id, case.reference
    return WireEvent(complaint_id, _payload(name, e, reference))


def _payload(name: str, e: Any, ref: str) -> wire.Payload:
    if name == "InfoRequested":
        return wire.InfoRequested(reference=ref, items=tuple(e.items),
                                  due_date=date.fromisoformat(e.due_date),
                                  message=e.message, round=e.round)
    if name == "InfoProvided":
        return wire.InfoProvided(reference=ref, channel=e.channel, content=e.note,
                                 items=tuple(e.items))
    if name == "ReferredToDepartment":
        return wire.ReferredToDepartment(
            reference=ref, department=e.department, question=e.question,
            internal_due=date.fromisoformat(e.internal_due) if e.internal_due else None)
    if name == "DepartmentResponded":
        return wire.DepartmentResponded(reference=ref, department=e.department,
                                        result=e.result, attachments=tuple(e.attachments))
    if name == "ReplyRequested":
        return wire.ReplyRequested(reference=ref, method=e.method, content=e.content,
                                   language=e.language)
    if name == "ReplySent":
        return wire.ReplySent(reference=ref, purpose="reply", method=e.method,
                              sent_at=e.sent_at, proof=e.proof,
                              recorded_by=e.trace.get("actor_id"))
    if name == "Refused":
        return wire.ComplaintRefused(
            reference=ref, reason=e.reason, explanation=e.explanation,
            filing_deadline=date.fromisoformat(e.filing_deadline)
            if e.filing_deadline else None)
    if name == "Closed":
        return wire.ComplaintClosed(reference=ref, reason=e.reason)
    if name == "Withdrawn":
        # No contract of its own: for sla and the audit trail the case is closed.
        return wire.ComplaintClosed(reference=ref, reason=f"withdrawn: {e.reason}".rstrip(": "))
    if name == "LateFilingAccepted":
        return wire.LateFilingAccepted(
            reference=ref, waiver_reason=e.waiver_reason, product=e.product,
            category=e.category,
            filing_deadline=date.fromisoformat(e.filing_deadline)
            if e.filing_deadline else None)
    if name == "LateFilingFound":
        return wire.LateFilingFound(reference=ref,
                                    incident_date=date.fromisoformat(e.incident_date),
                                    filing_deadline=date.fromisoformat(e.filing_deadline))
    if name == "FollowUpReceived":
        return wire.FollowUpReceived(reference=ref, channel=e.channel, excerpt=e.excerpt,
                                     case_state=e.case_state)
    return wire.ComplaintReopened(reference=ref, reason=e.reason)

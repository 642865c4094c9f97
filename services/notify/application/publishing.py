"""What notify publishes: a customer message's outcome — AcknowledgementSent, ReplySent,
NotificationFailed — built from the stored outcome event alone (it carries the dispatch's
reference, purpose, method…). Outcome events stored before they carried those facts are
published from the dispatch as it was at that event (one replay each)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hotro.services.notify.domain import Dispatch
from hotro.shared.contracts import events as wire
from hotro.shared.eventstore.application import WireEvent

CUSTOMER_PURPOSES = {"acknowledgement", "info_request", "reply", "refusal", "reminder"}

#: the dispatch at a version: (aggregate id, version) -> Dispatch
DispatchAt = Callable[[uuid.UUID, int], Dispatch]


@dataclass(frozen=True)
class _Facts:
    complaint_id: uuid.UUID
    reference: str
    purpose: str  # as reported to other services
    method: str
    internal: bool
    attempts: int


def wire_event(domain_event: Any, dispatch_at: DispatchAt) -> WireEvent | None:
    if not isinstance(domain_event, Dispatch.Sent | Dispatch.Failed):
        return None
    facts = _carried(domain_event) or _replayed(domain_event, dispatch_at)
    if facts.internal or facts.purpose not in CUSTOMER_PURPOSES:
        return None  # internal alerts stay in notify's own log
    payload: wire.Payload
    if isinstance(domain_event, Dispatch.Failed):
        payload = wire.NotificationFailed(
            reference=facts.reference, purpose=facts.purpose,
            method=_wire_method(facts.method), reason=domain_event.reason,
            attempts=max(1, facts.attempts))
    elif facts.purpose == "acknowledgement":
        payload = wire.AcknowledgementSent(
            reference=facts.reference,
            method=("receipt_slip" if facts.method == "receipt_slip"
                    else _wire_method(facts.method)),
            sent_at=domain_event.sent_at, proof=domain_event.proof)
    else:
        payload = wire.ReplySent(
            reference=facts.reference, purpose=facts.purpose,
            method=_wire_method(facts.method), sent_at=domain_event.sent_at,
            proof=domain_event.proof, recorded_by=domain_event.recorded_by)
    return WireEvent(facts.complaint_id, payload)


def _carried(event: Any) -> _Facts | None:
    """The facts on the event itself (every outcome stored since they are carried)."""
    if getattr(event, "reference", None) is None:
        return None
    return _Facts(complaint_id=event.complaint_id, reference=event.reference,
                  purpose=event.reported_purpose, method=event.method,
                  internal=bool(event.internal), attempts=getattr(event, "attempts", None) or 0)


def _replayed(event: Any, dispatch_at: DispatchAt) -> _Facts:
    dispatch = dispatch_at(event.originator_id, event.originator_version)
    return _Facts(complaint_id=dispatch.complaint_id, reference=dispatch.reference,
                  purpose=dispatch.reported_purpose, method=dispatch.method,
                  internal=dispatch.internal, attempts=dispatch.attempts)


def _wire_method(method: str) -> Any:
    return method if method in ("email", "letter", "phone", "in_person", "sms") else "letter"

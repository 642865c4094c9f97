"""Intake's read models, each kept by following intake's own log (``LogFollower``):
every query first reads only the events stored since the previous one (read-your-writes),
instead of paging through the log per request. In memory; rebuilt from the log on start.

* ``HotlineCalls``: the calls the call-centre software reported; its drafts are the calls
  linked to no request and not yet turned into one.
* ``MailLog``: the inbound mail that became no request (ignored, quarantined, refused).
* ``CustomerCases``: per request, what its customer may see (state in plain words, the
  information asked for and its due date, the reply's last day) and its customer links'
  generation (the capability look-up); and which new cases claimed to continue it with a
  sender that did not match (``sender_mismatch``), for staff.

Personal data stays sealed in the models; it is opened per query with the current keys,
so an erasure takes effect here too.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from hotro.services.intake.application import IntakeApplication
from hotro.services.intake.domain import HotlineCall, MailRecord, Request
from hotro.shared.clock import VIETNAM_TZ
from hotro.shared.eventstore.follower import LogFollower


@dataclass(frozen=True)
class CallRow:
    """A hotline call as its events tell it (``caller``, ``caller_raw``: sealed)."""

    call_id: str
    caller: Any
    caller_raw: Any
    started_at: str | None
    linked_request_id: str | None
    linked_reference: str | None
    ended_at: str | None = None
    recording_ref: str | None = None
    converted_request_id: str | None = None
    converted_reference: str | None = None

    @property
    def is_draft(self) -> bool:
        return self.linked_request_id is None and self.converted_request_id is None


class HotlineCalls:
    def __init__(self, app: IntakeApplication) -> None:
        self._lock = threading.Lock()
        self._calls: dict[uuid.UUID, CallRow] = {}  # in the order the calls started
        self._follower = LogFollower(app, self._apply)

    def drafts(self) -> list[CallRow]:
        """Calls linked to no request and not converted, in the order they started."""
        with self._lock:
            self._follower.catch_up()
            return [c for c in self._calls.values() if c.is_draft]

    def _apply(self, event: Any) -> None:
        if isinstance(event, HotlineCall.Started):
            self._calls[event.originator_id] = CallRow(
                call_id=event.call_id, caller=event.caller, caller_raw=event.caller_raw,
                started_at=event.started_at, linked_request_id=event.linked_request_id,
                linked_reference=event.linked_reference)
            return
        row = self._calls.get(event.originator_id)
        if row is None:
            return
        if isinstance(event, HotlineCall.Ended):
            self._calls[event.originator_id] = dataclasses.replace(
                row, ended_at=event.ended_at, recording_ref=event.recording_ref)
        elif isinstance(event, HotlineCall.Converted):
            self._calls[event.originator_id] = dataclasses.replace(
                row, converted_request_id=event.request_id,
                converted_reference=event.reference)


class MailLog:
    def __init__(self, app: IntakeApplication) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._records: list[dict[str, Any]] = []  # in the order they were recorded
        self._follower = LogFollower(app, self._apply)

    def records(self, outcome: str | None = None) -> list[dict[str, Any]]:
        """Every record (or those of one ``outcome``), senders opened with their keys."""
        with self._lock:
            self._follower.catch_up()
            rows = [r for r in self._records if outcome is None or r["outcome"] == outcome]
        # the key ring may wait on NATS: never while holding the lock
        return [{**r, "envelope_from": self.app.open_value(r["envelope_from"]),
                 "from_address": self.app.open_value(r["from_address"])} for r in rows]

    def _apply(self, event: Any) -> None:
        if not isinstance(event, MailRecord.Recorded):
            return
        self._records.append({
            "id": str(event.originator_id), "outcome": event.outcome,
            "reason_code": event.reason_code, "reason_text": event.reason_text,
            "raw_sha256": event.raw_sha256, "message_id": event.message_id,
            "envelope_from": event.envelope_from, "from_address": event.from_address,
            "subject": event.subject, "size": event.size, "received_at": event.received_at})


# ---- the customer's view of a case ------------------------------------------------------

CustomerState = Literal["received", "being_analysed", "awaiting_information", "referred",
                        "answered", "closed", "reopened"]


@dataclass
class CustomerCase:
    """One request as its customer may see it (nothing of staff's or departments' work
    beyond its state), and its customer links' generation."""

    request_id: uuid.UUID
    reference: str
    kind: str
    received_on: date
    state: CustomerState = "received"
    asked_items: list[str] = field(default_factory=list)
    info_due: date | None = None
    reply_due: date | None = None
    generation: int = 0

    def copy(self) -> CustomerCase:
        return dataclasses.replace(self, asked_items=list(self.asked_items))


class CustomerCases:
    """Follows intake's log; thread-safe. ``generation`` is what the Authenticator asks for
    every customer link (read-your-writes: a revocation applies to the next request)."""

    def __init__(self, app: IntakeApplication) -> None:
        self._lock = threading.Lock()
        self._cases: dict[uuid.UUID, CustomerCase] = {}
        self._claimed_by: dict[uuid.UUID, list[dict[str, str]]] = {}
        self._follower = LogFollower(app, self._apply)

    def generation(self, complaint_id: str) -> int | None:
        """The case's current link generation; None for a case intake does not hold."""
        case = self.case(complaint_id)
        return case.generation if case is not None else None

    def case(self, complaint_id: str | uuid.UUID) -> CustomerCase | None:
        try:
            key = complaint_id if isinstance(complaint_id, uuid.UUID) \
                else uuid.UUID(complaint_id)
        except ValueError:
            return None
        with self._lock:
            self._follower.catch_up()
            found = self._cases.get(key)
            return found.copy() if found is not None else None

    def claimed_by(self, request_id: uuid.UUID) -> list[dict[str, str]]:
        """New cases made from mail that claimed to continue this one from another
        sender (the claimed case itself is unchanged: staff see the link here)."""
        with self._lock:
            self._follower.catch_up()
            return [dict(c) for c in self._claimed_by.get(request_id, ())]

    def _apply(self, event: Any) -> None:
        if isinstance(event, Request.Received):
            self._cases[event.originator_id] = CustomerCase(
                request_id=event.originator_id, reference=event.reference, kind=event.kind,
                received_on=datetime.fromisoformat(event.received_at)
                .astimezone(VIETNAM_TZ).date())
            claimed = (event.details or {}).get("claimed")
            if claimed and claimed.get("request_id"):
                self._claimed_by.setdefault(uuid.UUID(claimed["request_id"]), []).append({
                    "request_id": str(event.originator_id), "reference": event.reference,
                    "reason": str(claimed.get("reason", "")),
                    "via": str(claimed.get("via", ""))})
            return
        case = self._cases.get(getattr(event, "originator_id", None))  # type: ignore[arg-type]
        if case is None:
            return
        if isinstance(event, Request.CapabilityRevoked):
            case.generation = event.generation
        elif isinstance(event, Request.Closed):
            case.state = "closed"
        elif isinstance(event, Request.Reopened):
            case.state = "reopened"
        elif case.state == "closed":
            return  # only a reopening changes a closed case's state
        elif isinstance(event, Request.InfoProvided):
            if case.state == "awaiting_information":
                case.state = "being_analysed"
        elif isinstance(event, Request.ProgressNoted):
            _progress(case, event)


def _progress(case: CustomerCase, event: Any) -> None:
    step = event.step
    if step == "reply_deadline":
        case.reply_due = date.fromisoformat(event.due_date) if event.due_date else None
        if case.state == "received":
            case.state = "being_analysed"
    elif step == "acknowledged":
        if case.state == "received":
            case.state = "being_analysed"
    elif step == "info_requested":
        case.state = "awaiting_information"
        case.asked_items = list(event.items)
        case.info_due = date.fromisoformat(event.due_date) if event.due_date else None
    elif step in ("info_received", "info_window_lapsed"):
        if case.state == "awaiting_information":
            case.state = "being_analysed"
    elif step == "referred":
        case.state = "referred"
    elif step == "department_responded":
        if case.state == "referred":
            case.state = "being_analysed"
    elif step == "answered":
        case.state = "answered"

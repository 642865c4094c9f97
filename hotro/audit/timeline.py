"""The whole history of one complaint, merged from the four services' stores.

Which aggregates belong to a complaint (no scan except notify's dispatches):

* intake  — the ``Request`` (its id *is* the complaint id);
* routing — the ``Case`` (``Case.create_id(complaint_id)``);
* sla     — the ``CaseClocks`` index and every ``Clock`` it lists;
* notify  — the ``Contact`` and every ``Dispatch`` whose ``Requested`` names the complaint
  (found by following notify's log, topic ``Dispatch.Requested``).

Causal order: an event comes after the event that caused it (its trace's
``causation_id`` is the deterministic id of the cause, ``event_id_for``) and after the
previous version of its own aggregate; among events free to go next, the earliest
timestamp first (then service, aggregate, version: deterministic). Services stamp events
with different clocks, so timestamps alone can put a reaction before its cause.
"""

from __future__ import annotations

import heapq
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from hotro.audit.keys import hidden
from hotro.audit.stores import Stores
from hotro.cli_text import clean, pad, truncate
from hotro.shared.contracts.envelope import event_id_for
from hotro.shared.eventstore.log import read_events
from hotro.shared.privacy.sealing import KeyRing, reveal

ICT = ZoneInfo("Asia/Ho_Chi_Minh")

_DISPATCH_REQUESTED = "hotro.notify:Dispatch.Requested"


class ComplaintNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Entry:
    service: str
    aggregate: str
    aggregate_id: uuid.UUID
    version: int
    event: str
    at: datetime
    actor_kind: str | None
    actor_id: str | None
    actor_role: str | None
    channel: str | None
    summary: str
    event_id: uuid.UUID
    correlation_id: str | None
    causation_id: str | None
    topic: str = field(default="", compare=False)

    def as_json(self) -> dict[str, Any]:
        return {
            "at_local": self.at.astimezone(ICT).isoformat(),
            "at_utc": self.at.astimezone(UTC).isoformat(),
            "service": self.service, "aggregate": self.aggregate,
            "aggregate_id": str(self.aggregate_id), "version": self.version,
            "event": self.event, "actor_kind": self.actor_kind, "actor_id": self.actor_id,
            "actor_role": self.actor_role, "channel": self.channel, "summary": self.summary,
            "event_id": str(self.event_id), "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
        }


@dataclass(frozen=True)
class Complaint:
    id: uuid.UUID
    reference: str


def resolve(stores: Stores, ref: str) -> Complaint:
    from hotro.services.intake.application import RequestNotFound

    try:
        request = stores["intake"].find(ref.strip())
    except RequestNotFound:
        raise ComplaintNotFound(f"no complaint {ref!r} in intake's store") from None
    return Complaint(request.id, request.reference)


# ---- which aggregates -------------------------------------------------------------------

def aggregate_ids(stores: Stores, complaint_id: uuid.UUID) -> dict[str, list[uuid.UUID]]:
    """{service: [aggregate id, ...]} of every aggregate about this complaint."""
    from hotro.services.notify.domain import Acknowledgement, Contact
    from hotro.services.routing.domain.case import Case
    from hotro.services.sla.domain.clock import CaseClocks, Clock

    ids: dict[str, list[uuid.UUID]] = {}
    if "intake" in stores.apps:
        ids["intake"] = [complaint_id]
    if "routing" in stores.apps:
        ids["routing"] = [Case.create_id(complaint_id)]
    if "sla" in stores.apps:
        index_id = CaseClocks.create_id(complaint_id)
        kinds: list[str] = []
        for e in stores["sla"].repository.event_store.get(index_id):
            if type(e).__name__ == "ClockAdded":
                kinds.append(e.kind)
        ids["sla"] = [index_id, *(Clock.create_id(complaint_id, k) for k in kinds)]
    if "notify" in stores.apps:
        # the acknowledgement record exists only for complaints received after it came in
        acknowledgement = Acknowledgement.create_id(complaint_id)
        has_acknowledgement = any(True for _ in stores["notify"].repository.event_store.get(
            acknowledgement, limit=1))
        ids["notify"] = [Contact.create_id(complaint_id),
                         *([acknowledgement] if has_acknowledgement else []),
                         *dispatch_ids(stores["notify"], complaint_id)]
    return ids


def dispatch_ids(notify: Any, complaint_id: uuid.UUID, page: int = 1000) -> list[uuid.UUID]:
    return [event.originator_id
            for event in read_events(notify, topics=[_DISPATCH_REQUESTED], page=page)
            if event.complaint_id == complaint_id]


# ---- the timeline -----------------------------------------------------------------------

def timeline(stores: Stores, complaint_id: uuid.UUID, *,
             keyring: KeyRing | None = None) -> list[Entry]:
    entries: list[Entry] = []
    for service, ids in aggregate_ids(stores, complaint_id).items():
        store = stores[service].repository.event_store
        for aggregate_id in ids:
            for event in store.get(aggregate_id):
                entries.append(entry_of(service, event, keyring))
    return causal_order(entries)


def entry_of(service: str, event: Any, keyring: KeyRing | None = None) -> Entry:
    qualname = type(event).__qualname__
    aggregate, _, name = qualname.rpartition(".")
    trace: dict[str, Any] = getattr(event, "trace", None) or {}
    channel, summary = describe(service, aggregate, name, event, keyring)
    return Entry(
        service=service, aggregate=aggregate or "?", aggregate_id=event.originator_id,
        version=event.originator_version, event=name, at=event.timestamp.astimezone(UTC),
        actor_kind=trace.get("actor_kind"), actor_id=trace.get("actor_id"),
        actor_role=trace.get("actor_role"), channel=channel, summary=summary,
        event_id=event_id_for(service, event.originator_id, event.originator_version),
        correlation_id=trace.get("correlation_id"), causation_id=trace.get("causation_id"),
        topic=getattr(type(event), "TOPIC", "") or "")


def causal_order(entries: Iterable[Entry]) -> list[Entry]:
    items = list(entries)
    by_event_id = {e.event_id: i for i, e in enumerate(items)}
    by_position = {(e.aggregate_id, e.version): i for i, e in enumerate(items)}
    waiting_on: dict[int, set[int]] = {i: set() for i in range(len(items))}
    for i, e in enumerate(items):
        if e.causation_id:
            try:
                cause = by_event_id.get(uuid.UUID(e.causation_id))
            except ValueError:
                cause = None
            if cause is not None and cause != i:
                waiting_on[i].add(cause)
        previous = by_position.get((e.aggregate_id, e.version - 1))
        if previous is not None:
            waiting_on[i].add(previous)
    unblocks: dict[int, list[int]] = {i: [] for i in waiting_on}
    for i, causes in waiting_on.items():
        for c in causes:
            unblocks[c].append(i)

    def key(i: int) -> tuple[datetime, str, str, int, int]:
        e = items[i]
        return (e.at, e.service, str(e.aggregate_id), e.version, i)

    ready = [key(i) for i, causes in waiting_on.items() if not causes]
    heapq.heapify(ready)
    ordered: list[Entry] = []
    done: set[int] = set()
    while ready:
        i = heapq.heappop(ready)[-1]
        done.add(i)
        ordered.append(items[i])
        for j in unblocks[i]:
            waiting_on[j].discard(i)
            if not waiting_on[j]:
                heapq.heappush(ready, key(j))
    if len(ordered) < len(items):  # a cycle can only come from tampering: keep them all
        ordered.extend(sorted((items[i] for i in range(len(items)) if i not in done),
                              key=lambda e: (e.at, e.service, str(e.aggregate_id), e.version)))
    return ordered


# ---- one line per event -----------------------------------------------------------------

#: (aggregate, event) -> attributes worth a summary. Personal data never appears here,
#: except the customer's name, revealed through the privacy layer.
_FIELDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("Request", "Received"): ("kind", "reference", "filed_late"),
    ("Request", "InfoProvided"): ("items", "content"),
    ("Request", "OutboundMessageLinked"): ("message_id",),
    ("Request", "DeliveryBounced"): ("message_id", "reason"),
    ("Request", "CallLinked"): ("call_id",),
    ("Request", "Closed"): ("reason",),
    ("Request", "Reopened"): ("reason",),
    ("Request", "Erased"): ("reason", "fields"),
    ("Request", "IncidentDateGiven"): ("incident_date", "filing_deadline", "filed_late"),
    ("Request", "PossibleDuplicatesFound"): ("window_days",),
    ("Request", "DuplicateMerged"): ("other_reference", "reason"),
    ("Request", "DuplicateAbsorbed"): ("other_reference", "reason"),
    ("Request", "DuplicateDismissed"): ("other_reference", "reason"),
    ("Case", "Opened"): ("reference", "kind", "product", "category"),
    ("Case", "TriageApplied"): ("rule_id", "outcome", "department"),
    ("Case", "InfoRequested"): ("items", "due_date", "round"),
    ("Case", "InfoProvided"): ("items",),
    ("Case", "InfoRequestLapsed"): ("due_date", "open_items"),
    ("Case", "ResolvedBySupport"): ("resolution",),
    ("Case", "ReferredToDepartment"): ("department", "question", "internal_due"),
    ("Case", "DepartmentResponded"): ("department", "result"),
    ("Case", "ReplyRequested"): ("method", "content"),
    ("Case", "ReplySent"): ("method", "proof"),
    ("Case", "Closed"): ("reason", "forced"),
    ("Case", "Refused"): ("reason", "explanation"),
    ("Case", "Withdrawn"): ("reason",),
    ("Case", "Reopened"): ("reason",),
    ("Case", "FilingReviewOpened"): ("filing_deadline",),
    ("Case", "LateFilingFound"): ("incident_date", "filing_deadline"),
    ("Case", "IncidentDateRecorded"): ("incident_date", "filing_deadline", "filed_late"),
    ("Case", "LateFilingAccepted"): ("waiver_reason", "filing_deadline"),
    ("Case", "FollowUpReceived"): ("channel", "case_state"),
    ("Case", "FollowUpDismissed"): ("reason",),
    ("Case", "DeadlineRecorded"): ("clock", "status", "last_day"),
    ("Case", "NoteAdded"): ("text",),
    ("CaseClocks", "ClockAdded"): ("kind",),
    ("Clock", "Set"): ("kind", "start", "last_day", "working_days", "rule"),
    ("Clock", "Approaching"): ("working_days_left",),
    ("Clock", "Breached"): ("at",),
    ("Clock", "Met"): ("at", "on_time"),
    ("Clock", "Stopped"): ("reason",),
    ("Clock", "Paused"): ("on", "reason"),
    ("Clock", "Resumed"): ("on", "last_day"),
    ("Clock", "Replanned"): ("previous_last_day", "last_day", "reason"),
    ("Contact", "InfoRequestNoted"): ("items", "due_date"),
    ("Contact", "ThreadAdvanced"): ("message_id",),
    ("Dispatch", "Requested"): ("purpose", "method", "message_id"),
    ("Dispatch", "AttemptFailed"): ("reason",),
    ("Dispatch", "Sent"): ("proof", "recorded_by", "summary"),
    ("Dispatch", "LetterPrinted"): ("file",),
    ("Dispatch", "Failed"): ("reason",),
    ("Dispatch", "Bounced"): ("reason",),
}


def describe(service: str, aggregate: str, name: str, event: Any,
             keyring: KeyRing | None) -> tuple[str | None, str]:
    channel = getattr(event, "channel", None) or getattr(event, "method", None)
    parts = []
    if aggregate in ("Request", "Contact") and name in ("Received", "Recorded"):
        sealed = getattr(event, "customer", None)
        customer = reveal(sealed, keyring)
        shown = _short(customer.get("name")) if customer else hidden(sealed, keyring)
        parts.append(f"customer={shown}")
    for attr in _FIELDS.get((aggregate, name), ()):
        value = getattr(event, attr, None)
        if value is None or value == [] or value == "":
            continue
        parts.append(f"{attr}={_short(value)}")
    return (str(channel) if channel else None), ", ".join(parts)


def _short(value: Any, limit: int = 80) -> str:
    """One value of a summary on one line, at most ``limit`` columns: NFC, cut between
    letters (never inside one: Vietnamese marks stay on their letter), ``…`` when cut."""
    if isinstance(value, list | tuple):
        text = "[" + ", ".join(str(v) for v in value) + "]"
    elif isinstance(value, datetime | date):
        text = value.isoformat()
    else:
        text = str(value)
    return truncate(" ".join(text.split()), limit)


#: columns of the text timeline (display columns, not bytes nor code points)
COLUMNS = {"service": 7, "event": 34, "actor": 28, "channel": 10}


def render_text(complaint: Complaint, entries: list[Entry]) -> Iterator[str]:
    yield f"{complaint.reference}  ({complaint.id})  {len(entries)} events"
    for e in entries:
        local = e.at.astimezone(ICT).strftime("%Y-%m-%d %H:%M:%S%z")
        utc = e.at.astimezone(UTC).strftime("%H:%M:%SZ")
        actor = f"{e.actor_kind}:{e.actor_id}" if e.actor_id else "-"
        yield (f"{local} ({utc})  {pad(e.service, COLUMNS['service'])} "
               f"{pad(f'{e.aggregate}.{e.event}', COLUMNS['event'])} "
               f"{pad(actor, COLUMNS['actor'])} {pad(e.channel or '-', COLUMNS['channel'])} "
               f"{clean(e.summary)}").rstrip()


# ---- time travel ------------------------------------------------------------------------

def _version_at(store: Any, aggregate_id: uuid.UUID, instant: datetime) -> int | None:
    last: int | None = None
    for e in store.get(aggregate_id):
        if e.timestamp > instant:
            break
        last = e.originator_version
    return last


def _as_of(app: Any, aggregate_id: uuid.UUID, instant: datetime) -> Any | None:
    version = _version_at(app.repository.event_store, aggregate_id, instant)
    if version is None:
        return None
    return app.repository.get(aggregate_id, version=version)


def case_view(case: Any) -> dict[str, Any]:
    """The case as staff see it (the fields of routing's case view that are history)."""
    return {
        "reference": case.reference, "state": case.state.value, "department": case.department,
        "triage": case.triage, "checklist": dict(case.checklist),
        "info_rounds": case.info_rounds, "info_due_date": case.info_due_date,
        "referrals": case.referrals, "resolution": case.resolution,
        "reply_request": case.reply_request, "reply_sent": case.reply_sent,
        "outcome": case.outcome, "deadlines": case.deadlines,
        "sla_status": None if case.is_ended else case.sla_status,
        "version": case.version,
    }


def state_as_of(stores: Stores, complaint_id: uuid.UUID, instant: datetime) -> dict[str, Any]:
    """The request, the case and its clocks as they were at ``instant``."""
    from hotro.services.routing.domain.case import Case
    from hotro.services.sla.domain.clock import CaseClocks, Clock

    if instant.tzinfo is None:
        raise ValueError("--as-of needs a time zone (e.g. +07:00)")
    out: dict[str, Any] = {"as_of": instant.isoformat(), "complaint_id": str(complaint_id)}
    request = _as_of(stores["intake"], complaint_id, instant) if "intake" in stores.apps \
        else None
    out["request"] = None if request is None else {
        "reference": request.reference, "kind": request.kind, "channel": request.channel,
        "closed": request.closed, "info_provided": len(request.info),
        "version": request.version}
    case = _as_of(stores["routing"], Case.create_id(complaint_id), instant) \
        if "routing" in stores.apps else None
    out["case"] = None if case is None else case_view(case)
    clocks: dict[str, Any] = {}
    if "sla" in stores.apps:
        index = _as_of(stores["sla"], CaseClocks.create_id(complaint_id), instant)
        for kind in (index.kinds if index is not None else []):
            clock = _as_of(stores["sla"], Clock.create_id(complaint_id, kind), instant)
            if clock is not None:
                clocks[kind] = {**clock.snapshot(), "version": clock.version}
    out["clocks"] = clocks
    return out


def parse_instant(text: str) -> datetime:
    """``2026-03-02T14:05`` (Asia/Ho_Chi_Minh) or with an explicit offset."""
    when = datetime.fromisoformat(text)
    return when.replace(tzinfo=ICT) if when.tzinfo is None else when

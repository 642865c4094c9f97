"""Read model: one summary row per case, kept by following routing's own log.

Everything here comes from routing's stored events — including the SLA statuses, which
routing records as ``DeadlineRecorded`` when sla reports them — so the model can be
rebuilt at any time by reading the log from the start."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime
from typing import Any

from hotro.services.routing.domain.case import Case, settle_deadlines, sla_status
from hotro.shared.eventstore.application import ServiceApplication
from hotro.shared.eventstore.follower import LogFollower

#: Sort order of the queues: overdue first, then approaching, then the rest; ended last.
_URGENCY = {"breached": 0, "approaching": 1, "on_track": 2, None: 3}

_STATE_AFTER = {
    "AnalysisStarted": "analysing", "InfoRequested": "awaiting_customer_info",
    "InfoProvided": "analysing", "InfoRequestLapsed": "analysing",
    "ResolvedBySupport": "resolved_by_support",
    "ReferredToDepartment": "referred_to_department",
    "DepartmentResponded": "department_responded", "ReplyRequested": "reply_due",
    "ReplySent": "replied", "Closed": "closed", "Refused": "refused",
    "Withdrawn": "withdrawn", "Reopened": "analysing",
    "FilingReviewOpened": "awaiting_filing_review", "LateFilingAccepted": "analysing",
    "LateFilingFound": "awaiting_filing_review",
}
_ENDED = frozenset({"closed", "refused", "withdrawn"})
#: queue rows (an alias: inside CaseQueues, ``list`` names its method)
Rows = list[dict[str, Any]]
Attributes = list[list[str | None]]


class CaseQueues:
    """Kept up to date by ``refresh`` (the service's worker calls it periodically; every
    ``list`` calls it too, so a reader never sees less than what was stored before)."""

    def __init__(self, app: ServiceApplication) -> None:
        self.app = app
        self._rows: dict[uuid.UUID, dict[str, Any]] = {}
        self._deadlines: dict[uuid.UUID, dict[str, dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self.follower = LogFollower(app, self._apply)
        #: staff who acted on each case (the console's "my cases"), and the queue order
        #: cached until the next change (a page of 100k rows must not sort them all)
        self._actors: dict[uuid.UUID, set[str]] = {}
        self._changes = 0
        self._order: tuple[int, Rows] = (-1, [])

    def refresh(self) -> None:
        with self._lock:
            self.follower.catch_up()

    def _apply(self, stored: object) -> None:
        if not isinstance(stored, Case.Event):
            return
        event: Any = stored
        self._changes += 1
        actor = (getattr(event, "trace", None) or {}).get("actor_id")
        if actor and (getattr(event, "trace", None) or {}).get("actor_kind") in (
                "staff", "department"):
            self._actors.setdefault(event.originator_id, set()).add(actor)
        name = type(event).__name__
        key = event.originator_id
        if name == "Opened":
            self._rows[key] = {
                "complaint_id": str(event.complaint_id), "reference": event.reference,
                "kind": event.kind, "channel": event.channel, "product": event.product,
                "category": event.category, "received_at": event.received_at.isoformat(),
                "state": "new", "department": None, "departments": [],
                "triage_rule": None, "sla_status": "on_track", "deadlines": {},
                "follow_up": False,
                "updated_at": event.timestamp.isoformat()}
            self._deadlines[key] = {}
            return
        row = self._rows.get(key)
        if row is None:
            return
        deadlines = self._deadlines[key]
        row["updated_at"] = event.timestamp.isoformat()
        row["state"] = _STATE_AFTER.get(name, row["state"])
        if name == "ReferredToDepartment":
            row["department"] = event.department
            if event.department not in row["departments"]:
                row["departments"].append(event.department)
        elif name in ("FollowUpReceived", "Reopened", "FollowUpDismissed"):
            row["follow_up"] = name == "FollowUpReceived"
        elif name == "TriageApplied":
            row["triage_rule"] = event.rule_id
        elif name == "DeadlineRecorded":
            deadlines[event.clock] = {"status": event.status, "last_day": event.last_day,
                                      "due_at": event.due_at}
        settle_deadlines(deadlines, name)
        row["deadlines"] = {clock: dict(d) for clock, d in deadlines.items()}
        row["sla_status"] = None if row["state"] in _ENDED else sla_status(deadlines)

    def list(self, *, state: str | None = None, channel: str | None = None,
             department: str | None = None, sla: str | None = None,
             referred_to: str | None = None) -> list[dict[str, Any]]:
        """Rows matching every filter given, overdue first, then oldest first.
        ``department``: currently referred to it; ``referred_to``: ever referred to it."""
        self.refresh()
        with self._lock:
            rows = [_copy(r) for r in self._rows.values()]
        if state is not None:
            rows = [r for r in rows if r["state"] == state]
        if channel is not None:
            rows = [r for r in rows if r["channel"] == channel]
        if department is not None:
            rows = [r for r in rows if r["department"] == department]
        if referred_to is not None:
            rows = [r for r in rows if referred_to in r["departments"]]
        if sla is not None:
            rows = [r for r in rows if r["sla_status"] == sla]
        return sorted(rows, key=lambda r: (_URGENCY[r["sla_status"]], r["received_at"]))


    def page(self, *, offset: int, limit: int, state: str | None = None,
             channel: str | None = None, product: str | None = None,
             department: str | None = None, sla: str | None = None,
             referred_to: str | None = None, actor: str | None = None,
             complaint_ids: frozenset[str] | None = None,
             follow_up: bool | None = None) -> tuple[int, Rows]:
        """(how many rows match, the rows ``offset``..``offset+limit``) in queue order
        (overdue first, then approaching, then oldest first)."""
        self.refresh()
        with self._lock:
            if self._order[0] != self._changes:
                ordered = sorted(self._rows.values(),
                                 key=lambda r: (_URGENCY[r["sla_status"]], r["received_at"]))
                self._order = (self._changes, ordered)
            ordered = self._order[1]
            actors = self._actors
            total = 0
            found: Rows = []
            for row in ordered:
                if (state is not None and row["state"] != state) or \
                        (channel is not None and row["channel"] != channel) or \
                        (product is not None and row["product"] != product) or \
                        (department is not None and row["department"] != department) or \
                        (sla is not None and row["sla_status"] != sla) or \
                        (referred_to is not None and referred_to not in row["departments"]) \
                        or (complaint_ids is not None
                            and row["complaint_id"] not in complaint_ids) \
                        or (follow_up is not None and row.get("follow_up", False) != follow_up):
                    continue
                if actor is not None and actor not in actors.get(
                        uuid.UUID(row["complaint_id"]), ()):
                    continue
                if offset <= total < offset + limit:
                    found.append(_copy(row))
                total += 1
        return total, found

    def attributes(self) -> Attributes:
        """[complaint id, kind, channel, product, department] of every case, compactly:
        the department is the last one it was referred to, else ``support`` (as in
        ``hotro report compliance``)."""
        self.refresh()
        with self._lock:
            return [[r["complaint_id"], r["kind"], r["channel"], r["product"],
                     r["departments"][-1] if r["departments"] else "support"]
                    for r in self._rows.values()]

    def stats(self, now: datetime) -> dict[str, Any]:
        """Open cases by state, channel and age (calendar days since receipt)."""
        self.refresh()
        with self._lock:
            rows = [(r["state"], r["channel"], r["received_at"]) for r in self._rows.values()]
        by_state: dict[str, int] = {}
        by_channel: dict[str, int] = {}
        backlog = {"0-2": 0, "3-5": 0, "6-10": 0, ">10": 0}
        for state, channel, received_at in rows:
            by_state[state] = by_state.get(state, 0) + 1
            if state in _ENDED:
                continue
            by_channel[channel] = by_channel.get(channel, 0) + 1
            days = (now - datetime.fromisoformat(received_at)).days
            bucket = "0-2" if days <= 2 else "3-5" if days <= 5 else "6-10" if days <= 10 \
                else ">10"
            backlog[bucket] += 1
        return {"by_state": by_state, "open_by_channel": by_channel, "backlog": backlog}


def _copy(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["departments"] = list(row["departments"])
    out["deadlines"] = {k: dict(v) for k, v in row["deadlines"].items()}
    return out

"""Read model: one summary row per case, kept by following routing's own log.

Everything here comes from routing's stored events — including the SLA statuses, which
routing records as ``DeadlineRecorded`` when sla reports them — so the model can be
rebuilt at any time by reading the log from the start."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import uuid
from typing import Any

from hotro.services.routing.domain.case import Case, settle_deadlines, sla_status
from hotro.shared.eventstore.application import ServiceApplication
from hotro.shared.eventstore.follower import LogFollower

log = logging.getLogger(__name__)

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
}
_ENDED = frozenset({"closed", "refused", "withdrawn"})


class CaseQueues:
    def __init__(self, app: ServiceApplication, period_s: float = 0.2) -> None:
        self.app = app
        self.period_s = period_s
        self._rows: dict[uuid.UUID, dict[str, Any]] = {}
        self._deadlines: dict[uuid.UUID, dict[str, dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self.follower = LogFollower(app, self._apply)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.refresh)
            except Exception:
                log.warning("case queues could not follow the log", exc_info=True)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.period_s)

    def refresh(self) -> None:
        with self._lock:
            self.follower.catch_up()

    def _apply(self, stored: object) -> None:
        if not isinstance(stored, Case.Event):
            return
        event: Any = stored
        name = type(event).__name__
        key = event.originator_id
        if name == "Opened":
            self._rows[key] = {
                "complaint_id": str(event.complaint_id), "reference": event.reference,
                "kind": event.kind, "channel": event.channel, "product": event.product,
                "category": event.category, "received_at": event.received_at.isoformat(),
                "state": "new", "department": None, "departments": [],
                "triage_rule": None, "sla_status": "on_track", "deadlines": {},
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


def _copy(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["departments"] = list(row["departments"])
    out["deadlines"] = {k: dict(v) for k, v in row["deadlines"].items()}
    return out

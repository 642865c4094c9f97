"""Read model: one summary row per case, kept by following routing's own log.
Rebuildable at any time from the log (which is what `hotro replay routing` does)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from typing import Any

from services.routing.domain.case import Case
from shared.eventstore.application import ServiceApplication
from shared.eventstore.follower import LogFollower


class CaseQueues:
    def __init__(self, app: ServiceApplication, period_s: float = 0.2) -> None:
        self.app = app
        self.period_s = period_s
        self.rows: dict[uuid.UUID, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.follower = LogFollower(app, self._apply)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.refresh)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.period_s)

    def refresh(self) -> None:
        with self._lock:
            self.follower.catch_up()

    def _apply(self, event: Any) -> None:
        if not isinstance(event, Case.Event):
            return
        name = type(event).__name__
        row = self.rows.get(event.originator_id)
        if name == "Opened":
            row = {"complaint_id": str(event.complaint_id), "reference": event.reference,
                   "kind": event.kind, "channel": event.channel, "product": event.product,
                   "category": event.category, "received_at": str(event.received_at),
                   "state": "new", "department": None, "updated_at": str(event.timestamp)}
            self.rows[event.originator_id] = row
            return
        if row is None:
            return
        row["updated_at"] = str(event.timestamp)
        row["state"] = _STATE_AFTER.get(name, row["state"])
        if name == "ReferredToDepartment":
            row["department"] = event.department

    def list(self, **filters: str | None) -> list[dict[str, Any]]:
        self.refresh()
        with self._lock:
            rows = [dict(r) for r in self.rows.values()]
        for key, value in filters.items():
            if value is not None:
                rows = [r for r in rows if r.get(key) == value]
        return sorted(rows, key=lambda r: r["received_at"])


_STATE_AFTER = {
    "AnalysisStarted": "analysing", "InfoRequested": "awaiting_customer_info",
    "InfoProvided": "analysing", "ResolvedBySupport": "resolved_by_support",
    "ReferredToDepartment": "referred_to_department",
    "DepartmentResponded": "department_responded", "ReplyRequested": "reply_due",
    "ReplySent": "replied", "Closed": "closed", "Refused": "refused",
    "Withdrawn": "withdrawn", "Reopened": "analysing",
}

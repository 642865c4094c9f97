"""SLA HTTP API: each case's clocks with working days remaining, the overdue list,
and the calendar with its sources."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from typing import Any

from fastapi import APIRouter, HTTPException

from services.sla.application import SlaApplication
from services.sla.calendar_planner import CalendarPlanner


def build_router(app: SlaApplication, planner: CalendarPlanner) -> APIRouter:
    router = APIRouter(tags=["sla"])

    def _clocks(complaint_id: uuid.UUID) -> list[dict[str, Any]]:
        now = app.clock()
        out = []
        for clock in app.clocks_of(complaint_id):
            view = clock.snapshot()
            view["working_days_left"] = (
                planner.working_days_left(now, date.fromisoformat(clock.last_day))
                if clock.is_open else None)
            view["overdue"] = clock.status == "breached" or (
                clock.status == "running" and now >= clock.due())
            out.append(view)
        return out

    @router.get("/api/clocks/{complaint_id}")
    async def clocks(complaint_id: uuid.UUID) -> dict[str, Any]:
        found = await asyncio.to_thread(_clocks, complaint_id)
        if not found:
            raise HTTPException(404, f"no clocks for complaint {complaint_id}")
        return {"complaint_id": str(complaint_id), "now": app.clock().isoformat(),
                "clocks": found}

    @router.get("/api/calendar/{year}")
    async def calendar(year: int) -> dict[str, Any]:
        cal = planner.calendar
        return {
            "version": cal.version,
            "days_off": [d.model_dump(mode="json") for d in cal.days_off(year)],
            "working_weekends": [d.model_dump(mode="json") for d in cal.working_weekends(year)],
        }

    @router.get("/api/calendar/deadline/{start}/{working_days}")
    async def deadline(start: date, working_days: int) -> dict[str, Any]:
        computed = planner.calendar.add_working_days(start, working_days)
        return {"last_day": computed.last_day.isoformat(),
                "ends_at": computed.ends_at.isoformat(), "explanation": computed.explain()}

    return router

"""SLA HTTP API: every case's clocks with working days remaining, the overdue list, and the
calendar with its sources. "Now" is the service's injected clock."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query

from hotro.services.sla.application import ClockNotFound, SlaApplication
from hotro.services.sla.domain.clock import Clock
from hotro.services.sla.views import ClockBoard, ClockRow
from hotro.shared.calendar.errors import CalendarError
from hotro.shared.staff.http import staff
from hotro.shared.staff.roles import Role

MAX_WORKING_DAYS = 365


def build_router(app: SlaApplication, board: ClockBoard) -> APIRouter:
    router = APIRouter(tags=["sla"])
    planner = app.planner  # the calendar the clocks are planned on is the one shown

    def _left(status: str, last_day: str | date, now: datetime) -> int | None:
        if status != "running":
            return None  # paused: frozen; met/stopped/breached: nothing left to count
        day = last_day if isinstance(last_day, date) else date.fromisoformat(last_day)
        return planner.working_days_left(now, day)

    def _clock_view(clock: Clock, now: datetime) -> dict[str, Any]:
        view = clock.snapshot()
        view["working_days_left"] = _left(clock.status, clock.last_day, now)
        view["overdue"] = clock.status == "breached" or (
            clock.status == "running" and now >= clock.due())
        return view

    def _row_view(row: ClockRow, now: datetime) -> dict[str, Any]:
        return {"complaint_id": str(row.complaint_id), "reference": row.reference,
                "kind": row.kind, "status": row.status, "last_day": row.last_day.isoformat(),
                "due_at": row.due_at.isoformat(), "approached": row.approached,
                "calendar_version": row.calendar_version,
                "working_days_left": _left(row.status, row.last_day, now),
                "overdue": row.is_overdue(now)}

    def _open(now: datetime) -> list[dict[str, Any]]:
        board.refresh()
        cases: dict[uuid.UUID, dict[str, Any]] = {}
        for row in board.open_clocks():
            case = cases.setdefault(row.complaint_id, {
                "complaint_id": str(row.complaint_id), "reference": row.reference,
                "clocks": []})
            case["clocks"].append(_row_view(row, now))
        return list(cases.values())

    def _overdue(now: datetime) -> list[dict[str, Any]]:
        board.refresh()
        return [_row_view(row, now) for row in board.overdue(now)]

    def _of_case(complaint_id: uuid.UUID, now: datetime) -> list[dict[str, Any]]:
        return [_clock_view(c, now) for c in app.clocks_of(complaint_id)]

    # Static paths first: "/api/clocks/overdue" must not be read as a complaint id.
    @router.get("/api/clocks")
    async def open_clocks() -> dict[str, Any]:
        """Open clocks (running, paused, breached) of every case, by case."""
        now = app.clock()
        return {"now": now.isoformat(), "cases": await asyncio.to_thread(_open, now)}

    @router.get("/api/clocks/overdue")
    async def overdue() -> dict[str, Any]:
        now = app.clock()
        found = await asyncio.to_thread(_overdue, now)
        return {"now": now.isoformat(), "count": len(found), "clocks": found}

    @router.get("/api/clocks/{complaint_id}")
    async def clocks(complaint_id: uuid.UUID) -> dict[str, Any]:
        """Every clock of one case, closed ones included, with its explanation."""
        now = app.clock()
        found = await asyncio.to_thread(_of_case, complaint_id, now)
        if not found:
            raise HTTPException(404, f"no clocks for complaint {complaint_id}")
        return {"complaint_id": str(complaint_id), "now": now.isoformat(), "clocks": found}

    @router.get("/api/calendar/{year}")
    async def calendar(year: int) -> dict[str, Any]:
        cal = planner.calendar
        try:
            days_off = cal.days_off(year)
            weekends = cal.working_weekends(year)
        except CalendarError as exc:
            raise HTTPException(404, str(exc)) from None
        return {"version": cal.version, "covered": cal.covers(date(year, 1, 1)),
                "days_off": [d.model_dump(mode="json") for d in days_off],
                "working_weekends": [d.model_dump(mode="json") for d in weekends]}

    @router.get("/api/calendar/deadline/{start}/{working_days}")
    async def deadline(start: date, working_days: int) -> dict[str, Any]:
        if not 1 <= working_days <= MAX_WORKING_DAYS:
            raise HTTPException(422, f"working_days must be 1..{MAX_WORKING_DAYS}")
        try:
            computed = planner.calendar.add_working_days(start, working_days)
        except CalendarError as exc:
            raise HTTPException(422, str(exc)) from None
        return {"last_day": computed.last_day.isoformat(),
                "ends_at": computed.ends_at.isoformat(),
                "calendar_version": computed.calendar_version,
                "explanation": computed.explain()}

    # Two path segments: never read as a complaint id by "/api/clocks/{complaint_id}".
    @router.get("/api/clocks/batch/{kind}",
                dependencies=[Depends(staff(Role.AGENT, Role.SUPPORT, Role.SUPERVISOR,
                                            Role.AUDITOR))])
    async def clocks_batch(kind: Literal["reply", "first_contact", "customer_info",
                                         "department"],
                           ids: str = Query(max_length=40_000,
                                            description="comma-separated complaint ids "
                                                        "(at most 200)")
                           ) -> dict[str, Any]:
        """One clock kind of many cases at once (a queue page's countdowns), with its
        working days left and its explanation; cases without such a clock are absent."""
        try:
            wanted = [uuid.UUID(i.strip()) for i in ids.split(",") if i.strip()][:200]
        except ValueError:
            raise HTTPException(422, "ids: comma-separated complaint ids") from None
        now = app.clock()

        def found() -> dict[str, Any]:
            views = {}
            for complaint_id in wanted:
                try:
                    clock = app.get_clock(Clock.create_id(complaint_id, kind))
                except ClockNotFound:
                    continue
                views[str(complaint_id)] = _clock_view(clock, now)
            return views

        return {"now": now.isoformat(), "kind": kind,
                "clocks": await asyncio.to_thread(found)}

    return router

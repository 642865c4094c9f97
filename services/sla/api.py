"""SLA HTTP API: every case's clocks with working days remaining, the overdue list, and the
calendar with its sources. "Now" is the service's injected clock.

Who may call what (shared/staff/http.py): the clocks name cases (reference, id, deadlines),
so every ``/api/clocks…`` route is for staff of a case role — a department member sees
only the cases ever referred to their department (403 for another case's clocks, absent
from the lists). The calendar is public (``/api/calendar/…``), its arguments bounded:
years 1900–2100 (a year no official schedule covers is answered from the provisional
schedule, flagged ``covered: false`` and each day ``official: false``), at most 365 working
days."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query

from hotro.services.sla.application import ClockNotFound, SlaApplication
from hotro.services.sla.domain.clock import Clock, department_of
from hotro.services.sla.views import ClockBoard, ClockRow, ReplyCompliance
from hotro.shared.calendar.errors import CalendarError
from hotro.shared.runtime.openapi import Refused, error_responses, invalid
from hotro.shared.staff.http import ANY_CASE_ROLE, Principal, public, staff
from hotro.shared.staff.roles import Role

MAX_WORKING_DAYS = 365
#: the years the calendar endpoints answer for (beyond them: 422, never a 500)
FIRST_YEAR, LAST_YEAR = 1900, 2100
#: at most this many complaint ids in one batch request
MAX_BATCH = 200
_UUID = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
#: comma-separated complaint ids (spaces and an empty item tolerated)
IDS_PATTERN = rf"^\s*({_UUID}\s*)?(,\s*({_UUID}\s*)?)*$"
#: a date (YYYY-MM-DD) in FIRST_YEAR–LAST_YEAR
BOUNDED_DATE = r"^(19\d\d|20\d\d|2100)-\d\d-\d\d$"

ClockKind = Literal["reply", "first_contact", "customer_info", "department"]
CaseReader = Annotated[Principal, Depends(staff(*ANY_CASE_ROLE))]
CALENDAR_IS_PUBLIC = public("the official working-day calendar and its arithmetic: public "
                            "information, no case data")


def build_router(app: SlaApplication, board: ClockBoard) -> APIRouter:
    router = APIRouter(tags=["sla"])
    planner = app.planner  # the calendar the clocks are planned on is the one shown

    def _department(user: Principal) -> str | None:
        """The department whose cases alone this caller may see (None: every case)."""
        if user.role is Role.DEPARTMENT:
            return user.department or ""
        return None

    def _visible(complaint_id: uuid.UUID, department: str | None) -> bool:
        return department is None or board.referred_to(complaint_id, department)

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

    def _open(now: datetime, department: str | None) -> list[dict[str, Any]]:
        board.refresh()
        cases: dict[uuid.UUID, dict[str, Any]] = {}
        for row in board.open_clocks():
            if not _visible(row.complaint_id, department):
                continue
            case = cases.setdefault(row.complaint_id, {
                "complaint_id": str(row.complaint_id), "reference": row.reference,
                "clocks": []})
            case["clocks"].append(_row_view(row, now))
        return list(cases.values())

    def _overdue(now: datetime, department: str | None) -> list[dict[str, Any]]:
        board.refresh()
        return [_row_view(row, now) for row in board.overdue(now)
                if _visible(row.complaint_id, department)]

    def _of_case(complaint_id: uuid.UUID, now: datetime) -> list[dict[str, Any]]:
        return [_clock_view(c, now) for c in app.clocks_of(complaint_id)]

    # Static paths first: "/api/clocks/overdue" must not be read as a complaint id.
    @router.get("/api/clocks")
    async def open_clocks(user: CaseReader) -> dict[str, Any]:
        """Open clocks (running, paused, breached) of every case, by case (a department
        member: the cases referred to their department)."""
        now = app.clock()
        return {"now": now.isoformat(),
                "cases": await asyncio.to_thread(_open, now, _department(user))}

    @router.get("/api/clocks/overdue")
    async def overdue(user: CaseReader) -> dict[str, Any]:
        now = app.clock()
        found = await asyncio.to_thread(_overdue, now, _department(user))
        return {"now": now.isoformat(), "count": len(found), "clocks": found}

    @router.get("/api/clocks/{complaint_id}",
                responses=error_responses(404, _404="no clocks for this complaint"))
    async def clocks(complaint_id: uuid.UUID, user: CaseReader) -> dict[str, Any]:
        """Every clock of one case, closed ones included, with its explanation."""
        now = app.clock()
        found = await asyncio.to_thread(_of_case, complaint_id, now)
        if not found:
            raise HTTPException(404, f"no clocks for complaint {complaint_id}")
        department = _department(user)
        if department is not None and department not in {
                department_of(c["kind"]) for c in found}:
            raise Refused(403, f"this case was never referred to department '{department}'",
                          "never_referred_here", {"department": department})
        return {"complaint_id": str(complaint_id), "now": now.isoformat(), "clocks": found}

    @router.get("/api/calendar/{year}", dependencies=[Depends(CALENDAR_IS_PUBLIC)])
    async def calendar(year: Annotated[int, Path(ge=FIRST_YEAR, le=LAST_YEAR)]
                       ) -> dict[str, Any]:
        """The year's days off and working weekends with their sources; a year no official
        schedule covers: the provisional schedule (``covered: false``)."""
        cal = planner.calendar
        try:
            days_off = cal.days_off(year)
            weekends = cal.working_weekends(year)
        except CalendarError as exc:
            raise invalid(("path", "year"), str(exc), year) from None
        return {"version": cal.version, "covered": cal.covers(date(year, 1, 1)),
                "days_off": [d.model_dump(mode="json") for d in days_off],
                "working_weekends": [d.model_dump(mode="json") for d in weekends]}

    @router.get("/api/calendar/deadline/{start}/{working_days}",
                dependencies=[Depends(CALENDAR_IS_PUBLIC)])
    async def deadline(start: Annotated[str, Path(pattern=BOUNDED_DATE, json_schema_extra={
                           "format": "date"}, description="YYYY-MM-DD, 1900–2100")],
                       working_days: Annotated[int, Path(ge=1, le=MAX_WORKING_DAYS)]
                       ) -> dict[str, Any]:
        """The last day ``working_days`` working days after ``start``, and why;
        ``covered: false`` when a day counted lies in a year no official schedule covers."""
        try:
            day = date.fromisoformat(start)
        except ValueError:
            raise invalid(("path", "start"), "not a date (YYYY-MM-DD)", start) from None
        try:
            computed = planner.calendar.add_working_days(day, working_days)
        except CalendarError as exc:
            raise invalid(("path", "start"), str(exc), start) from None
        return {"last_day": computed.last_day.isoformat(),
                "ends_at": computed.ends_at.isoformat(),
                "calendar_version": computed.calendar_version,
                "covered": computed.covered, "warnings": computed.warnings,
                "explanation": computed.explain()}

    # Two path segments: never read as a complaint id by "/api/clocks/{complaint_id}".
    @router.get("/api/clocks/batch/{kind}")
    async def clocks_batch(kind: ClockKind, user: CaseReader,
                           ids: str = Query(max_length=40_000, pattern=IDS_PATTERN,
                                            description="comma-separated complaint ids "
                                                        f"(at most {MAX_BATCH})")
                           ) -> dict[str, Any]:
        """One clock kind of many cases at once (a queue page's countdowns), with its
        working days left and its explanation; cases without such a clock (or, for a
        department member, not referred to their department) are absent."""
        try:
            wanted = [uuid.UUID(i.strip()) for i in ids.split(",") if i.strip()][:MAX_BATCH]
        except ValueError:
            raise invalid(("query", "ids"), "comma-separated complaint ids") from None
        now = app.clock()
        department = _department(user)
        if department is not None:
            await asyncio.to_thread(board.refresh)
            wanted = [i for i in wanted if board.referred_to(i, department)]

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

    compliance = ReplyCompliance(app)

    @router.get("/api/reports/compliance",
                dependencies=[Depends(staff(Role.SUPERVISOR, Role.AUDITOR))])
    async def reply_compliance() -> dict[str, Any]:
        """Replies on time by month of receipt: on time, late (met late or breached), open;
        with the rate among the decided ones."""
        return {"month": await asyncio.to_thread(compliance.by_month)}

    @router.get("/api/reports/compliance/outcomes",
                dependencies=[Depends(staff(Role.SUPERVISOR, Role.AUDITOR))])
    async def reply_outcomes() -> dict[str, Any]:
        """Each case's first reply clock (complaint id → on_time, late or open; stopped
        clocks left out): the console groups them by routing's case attributes."""
        return {"outcomes": await asyncio.to_thread(compliance.outcomes)}

    return router

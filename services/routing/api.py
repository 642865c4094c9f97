"""Routing HTTP API for staff, departments, supervisors and auditors.

Every request carries ``Authorization: Bearer <token>``; the user's id and role go into
the trace of every event. Errors: 401 unknown token, 403 not allowed (with the reason),
404 unknown case, 409 illegal in this state (with the reason), 422 bad arguments."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from services.routing.application import CaseNotFound, RoutingApplication
from services.routing.domain.case import Case
from services.routing.domain.catalogue import ConfigError
from services.routing.domain.permissions import Forbidden, authorize_read, permitted_actions
from services.routing.domain.workflow import (
    Action,
    IllegalTransition,
    InvalidCommand,
    ReopenPeriodExpired,
)
from services.routing.queues import CaseQueues
from services.routing.users import Directory, StaffUser
from shared.eventstore.trace import Trace


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InfoRequest(_Body):
    items: list[str] = Field(min_length=1)
    due_date: date
    message: str = ""


class InfoProvided(_Body):
    items: list[str] = []
    channel: Literal["counter", "hotline", "email", "web"]
    note: str = ""


class Resolution(_Body):
    resolution: str = Field(min_length=1)


class Referral(_Body):
    department: str
    question: str = Field(min_length=1)
    internal_due: date | None = None


class DepartmentResponse(_Body):
    department: str
    result: str = Field(min_length=1)


class ReplyRequest(_Body):
    method: Literal["email", "letter", "phone", "in_person", "sms"]
    content: str = Field(min_length=1)
    language: Literal["vi", "en"] | None = None


class ReplyRecorded(_Body):
    method: Literal["phone", "in_person", "email", "letter", "sms"]
    proof: str = Field(min_length=1)
    summary: str = ""


class Reason(_Body):
    reason: str = Field(min_length=1)


class Refusal(_Body):
    reason: Literal["late_filing", "not_eligible", "wrong_channel"]
    explanation: str = Field(min_length=1)


class Note(_Body):
    text: str = Field(min_length=1, max_length=10_000)


BODIES: dict[Action, type[_Body] | None] = {
    Action.START_ANALYSIS: None, Action.REQUEST_INFO: InfoRequest,
    Action.RECORD_INFO_PROVIDED: InfoProvided, Action.RESOLVE: Resolution,
    Action.REFER: Referral, Action.RECORD_DEPARTMENT_RESPONSE: DepartmentResponse,
    Action.REQUEST_REPLY: ReplyRequest, Action.RECORD_REPLY_SENT: ReplyRecorded,
    Action.CLOSE: Reason, Action.FORCE_CLOSE: Reason, Action.REFUSE: Refusal,
    Action.WITHDRAW: Reason, Action.REOPEN: Reason, Action.ADD_NOTE: Note,
}


def build_router(app: RoutingApplication, queues: CaseQueues, directory: Directory
                 ) -> APIRouter:
    router = APIRouter(tags=["routing"])

    def current_user(authorization: Annotated[str | None, Header()] = None) -> StaffUser:
        if not authorization or not authorization.lower().startswith("bearer "):
            raise HTTPException(401, "missing bearer token", {"WWW-Authenticate": "Bearer"})
        user = directory.authenticate(authorization.split(" ", 1)[1].strip())
        if user is None:
            raise HTTPException(401, "unknown token", {"WWW-Authenticate": "Bearer"})
        return user

    User = Annotated[StaffUser, Depends(current_user)]

    @router.get("/api/cases")
    async def queue(user: User, state: str | None = None, channel: str | None = None,
                    department: str | None = None) -> list[dict[str, Any]]:
        if user.role == "department":
            department = user.department
        return await asyncio.to_thread(queues.list, state=state, channel=channel,
                                       department=department)

    @router.get("/api/cases/{complaint_id}")
    async def detail(complaint_id: uuid.UUID, user: User) -> dict[str, Any]:
        case = await _case(complaint_id)
        try:
            authorize_read(user.role, case, user.department)
        except Forbidden as exc:
            raise HTTPException(403, exc.reason) from None
        return _view(case, user)

    @router.post("/api/cases/{complaint_id}/actions/{action}")
    async def act(complaint_id: uuid.UUID, action: Action, user: User,
                  body: dict[str, Any] | None = None) -> dict[str, Any]:
        if action not in BODIES:
            raise HTTPException(404, f"{action.value} is not a staff action")
        model = BODIES[action]
        try:
            arguments = model.model_validate(body or {}).model_dump() if model else {}
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        if action is Action.RECORD_REPLY_SENT:
            arguments["sent_at"] = app.clock()
        trace = Trace(actor_kind="department" if user.role == "department" else "staff",
                      actor_id=user.id, actor_role=user.role.value,
                      correlation_id=str(uuid.uuid4())).as_dict()
        try:
            case = await asyncio.to_thread(app.act, complaint_id, action, role=user.role,
                                           department=user.department, trace=trace,
                                           **arguments)
        except CaseNotFound:
            raise HTTPException(404, f"no case for complaint {complaint_id}") from None
        except Forbidden as exc:
            raise HTTPException(403, exc.reason) from None
        except (IllegalTransition, ReopenPeriodExpired) as exc:
            raise HTTPException(409, str(exc)) from None
        except (InvalidCommand, ConfigError, KeyError) as exc:
            raise HTTPException(422, str(exc)) from None
        return _view(case, user)

    async def _case(complaint_id: uuid.UUID) -> Case:
        try:
            return await asyncio.to_thread(app.get_case, complaint_id)
        except CaseNotFound:
            raise HTTPException(404, f"no case for complaint {complaint_id}") from None

    def _view(case: Case, user: StaffUser) -> dict[str, Any]:
        return {
            "complaint_id": str(case.complaint_id), "reference": case.reference,
            "state": case.state.value, "kind": case.kind, "channel": case.channel,
            "product": case.product, "category": case.category,
            "department": case.department, "triage": case.triage,
            "checklist": case.checklist, "info_rounds": case.info_rounds,
            "referrals": case.referrals, "resolution": case.resolution,
            "reply_request": case.reply_request, "reply_sent": case.reply_sent,
            "outcome": case.outcome, "notes": case.notes, "timeline": case.timeline,
            "allowed_actions": [a.value for a in permitted_actions(user.role, case,
                                                                    user.department)],
        }

    return router

"""Routing HTTP API for staff, departments, supervisors and auditors, and routing's one
ops endpoint (triage reload) for operators.

Every route declares who may call it (shared/staff/http.py): the case routes admit the
roles that may take the action at all (``permissions.ACTIONS_BY_ROLE``; the domain then
decides for the case: a department member only on its own referrals), the reads every case
role (department members see only cases referred to their department), and
``POST /ops/triage/reload`` the operator on routing's own listener (recorded as an
OperatorAction). Callers present ``Authorization: Bearer <token>`` (an API token or the
console's staff assertion); the user's id and role go into the trace of every event.
Errors are ``{"detail": "<reason>"}`` (422: FastAPI's validation errors): 401 unknown
token, 403 not allowed for this person, 404 unknown case or department, 409 illegal in the
case's current state (or changed concurrently), 422 bad arguments. A refusal of the
domain also carries its ``code`` and ``params`` (409/403: beside ``detail``; 422: in the
problem's ``ctx``), so a client says it in its own words (the console, in Vietnamese or
English). A refused action stores no event.

No ``from __future__ import annotations`` here: FastAPI reads the endpoints' annotations,
which name objects local to ``build_router``."""

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, HTTPException, Query, Response, UploadFile
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from hotro.services.routing.adapters.attachments import DepartmentFiles, Upload, UploadRefused
from hotro.services.routing.adapters.config_files import load_triage_rules
from hotro.services.routing.application import CaseNotFound, ConcurrentChange, RoutingApplication
from hotro.services.routing.domain.case import Case
from hotro.services.routing.domain.catalogue import ConfigError
from hotro.services.routing.domain.permissions import (
    ACTIONS_BY_ROLE,
    Forbidden,
    authorize_read,
    permitted_actions,
)
from hotro.services.routing.domain.workflow import (
    Action,
    IllegalTransition,
    InvalidCommand,
    ReopenPeriodExpired,
    State,
)
from hotro.services.routing.views import CaseQueues
from hotro.shared.attachments import upload_name
from hotro.shared.clock import VIETNAM_TZ
from hotro.shared.contracts.events import AttachmentRef
from hotro.shared.eventstore.trace import Trace
from hotro.shared.runtime.host import OWN_LISTENER, Operator
from hotro.shared.runtime.openapi import Refused, error_responses, invalid
from hotro.shared.runtime.operator_actions import record_operator_action
from hotro.shared.staff.http import ANY_CASE_ROLE, Principal, staff
from hotro.shared.staff.roles import Role

log = logging.getLogger(__name__)

Channel = Literal["counter", "hotline", "email", "web"]
ReplyMethod = Literal["email", "letter", "phone", "in_person", "sms"]
SlaStatus = Literal["breached", "approaching", "on_track"]
#: a due date (information, department) at most this far ahead: the calendar and the
#: clocks planned on it cover the coming year, not the next century
MAX_DUE_AHEAD = timedelta(days=366)
#: the earliest instant a staff member may say a reply was given
EARLIEST_REPLY = datetime(2000, 1, 1, tzinfo=UTC)

# ---- request bodies ------------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InfoRequest(_Body):
    items: list[str] = Field(min_length=1, description="checklist item codes (catalogue)",
                             examples=[["hoa-don", "anh-san-pham"]])
    due_date: date = Field(description="last day for the customer to answer")
    message: str = Field("", max_length=5000, description="shown to the customer")


class InfoProvided(_Body):
    items: list[str] = Field(default_factory=list,
                             description="checklist items this information covers")
    channel: Channel
    note: str = Field("", max_length=10_000)


class Resolution(_Body):
    resolution: str = Field(min_length=1, max_length=10_000)


class Referral(_Body):
    department: str = Field(description="department code (catalogue)",
                            examples=["ky-thuat-bao-hanh"])
    question: str = Field(min_length=1, max_length=10_000)
    internal_due: date | None = None


class DepartmentResponse(_Body):
    department: str | None = Field(None, description="default: the responder's department")
    result: str = Field(min_length=1, max_length=20_000)
    attachments: list[AttachmentRef] = Field(
        default_factory=list, description="files uploaded first (POST /api/cases/{id}/"
                                          "attachments); a sha256 routing holds no file "
                                          "for is refused (422)")


class ReplyRequest(_Body):
    method: ReplyMethod
    content: str = Field(min_length=1, max_length=20_000)
    language: Literal["vi", "en"] | None = Field(None, description="default: the request's")


class ReplyRecorded(_Body):
    """A reply the staff member gave themselves (phone call, meeting at the counter…)."""

    method: ReplyMethod
    summary: str = Field(min_length=1, max_length=10_000, description="what was said")
    at: AwareDatetime | None = Field(None, description="when; default: now")
    proof: str | None = Field(None, max_length=200,
                              description="call log id, letter number…; default: the staff id")


class Reason(_Body):
    reason: str = Field(min_length=1, max_length=5000)


class Refusal(_Body):
    reason: Literal["late_filing", "not_eligible", "wrong_channel"]
    explanation: str = Field(min_length=1, max_length=5000)


class Waiver(_Body):
    waiver_reason: str = Field(min_length=1, max_length=5000,
                               description="why the late filing is accepted")


class LateRefusal(_Body):
    note: str = Field("", max_length=5000,
                      description="added under the rule and the deadline the customer reads")


class Note(_Body):
    text: str = Field(min_length=1, max_length=10_000)


# ---- responses -----------------------------------------------------------------------------


class CaseSummary(BaseModel):
    complaint_id: uuid.UUID
    reference: str
    kind: str
    channel: str
    product: str | None
    category: str | None
    received_at: str
    state: State
    department: str | None = Field(description="the department it is (or was last) referred to")
    departments: list[str] = Field(description="every department it was referred to")
    triage_rule: str | None
    sla_status: SlaStatus | None = Field(description="None once the case has ended")
    deadlines: dict[str, dict[str, Any]]
    updated_at: str
    follow_up: bool = Field(False, description="the customer wrote after the case ended; "
                                               "a supervisor may reopen it")
    reply_undelivered: bool = Field(False, description="the last reply did not reach the "
                                                       "customer; none requested since")


class CaseDetail(BaseModel):
    complaint_id: uuid.UUID
    reference: str
    state: State
    kind: str
    channel: str
    product: str | None
    category: str | None
    received_at: datetime
    filed_late: bool
    filing_deadline: str | None
    department: str | None
    triage: dict[str, Any] | None
    checklist: dict[str, bool]
    info_rounds: int
    info_due_date: str | None
    info_received: list[dict[str, Any]]
    referrals: list[dict[str, Any]]
    resolution: str | None
    reply_request: dict[str, Any] | None
    reply_sent: dict[str, Any] | None
    reply_undelivered: dict[str, Any] | None = Field(
        None, description="the last reply that did not reach the customer (method, reason, "
                          "proof, at), until another is requested or recorded")
    outcome: dict[str, Any] | None
    sla_status: SlaStatus | None
    deadlines: dict[str, dict[str, Any]]
    notes: list[dict[str, Any]]
    timeline: list[dict[str, Any]]
    filing_review: dict[str, Any] | None = Field(
        None, description="a supervisor's decision on a late filing")
    follow_ups: list[dict[str, Any]] = Field(default_factory=list)
    follow_up_pending: bool = False
    allowed_actions: list[Action] = Field(description="what the caller may do now")


class CasePage(BaseModel):
    total: int = Field(description="cases matching the filters")
    offset: int
    limit: int
    rows: list[CaseSummary]


class TriageInfo(BaseModel):
    file: str
    rules: list[dict[str, Any]]
    default: dict[str, Any]


ERRORS = error_responses(404, 409, _404="no such case",
                         _409="not possible in the case's current state")


def roles_for(action: Action) -> tuple[Role, ...]:
    """The roles that may take ``action`` on some case (the route's policy)."""
    return tuple(role for role, actions in ACTIONS_BY_ROLE.items() if action in actions)


#: the policy of each action's route: the staff who may take it on some case (one
#: dependency per action, so a route declares it once and its endpoint gets the Principal)
ACTOR = {action: staff(*roles_for(action)) for action in Action if roles_for(action)}


#: who may upload a department's files: whoever may record its answer
UPLOADER = staff(*dict.fromkeys(
    roles_for(Action.RECORD_DEPARTMENT_RESPONSE)
    + roles_for(Action.RECORD_DEPARTMENT_RESPONSE_ON_BEHALF)))


def build_router(app: RoutingApplication, queues: CaseQueues, *, files: DepartmentFiles,
                 triage_file: Path | None = None) -> APIRouter:
    """The staff routes and routing's ops route. Who is calling: the Authenticator the
    service installed (``install_authenticator``)."""
    router = APIRouter()

    User = Annotated[Principal, Depends(staff(*ANY_CASE_ROLE))]

    # ---- queues and detail -------------------------------------------------------------

    @router.get("/api/cases", tags=["cases"], response_model=list[CaseSummary])
    async def queue(user: User, state: State | None = None, channel: Channel | None = None,
                    department: Annotated[str | None, Query(max_length=64)] = None,
                    sla: SlaStatus | None = None) -> list[dict[str, Any]]:
        """Cases matching every filter, overdue first (then approaching), oldest first.
        A department member sees only cases ever referred to its department."""
        referred_to = user.department if user.role is Role.DEPARTMENT else None
        return await asyncio.to_thread(queues.list, state=state, channel=channel,
                                       department=department, sla=sla,
                                       referred_to=referred_to)

    @router.get("/api/departments/{code}/queue", tags=["departments"],
                response_model=list[CaseSummary],
                responses=error_responses(404, _404="no such department"))
    async def department_queue(code: Annotated[str, PathParam(max_length=64)], user: User,
                               everything: bool = False) -> list[dict[str, Any]]:
        """Referrals waiting for the department's answer (``everything=true``: every case
        ever referred to it), overdue first."""
        if code not in app.catalogue.department_codes:
            raise HTTPException(404, f"no department {code!r}")
        if user.role is Role.DEPARTMENT and user.department != code:
            raise Refused(403, f"you belong to department '{user.department}', not '{code}'",
                          "not_your_department", {"department": code})
        if everything:
            return await asyncio.to_thread(queues.list, referred_to=code)
        return await asyncio.to_thread(queues.list, state=State.REFERRED_TO_DEPARTMENT,
                                       department=code)

    @router.get("/api/cases/{complaint_id}", tags=["cases"], response_model=CaseDetail,
                responses=error_responses(404, _404="no such case"))
    async def detail(complaint_id: uuid.UUID, user: User) -> dict[str, Any]:
        """A case with its checklist, referrals, reply, deadlines and full timeline."""
        case = await _case(complaint_id)
        try:
            authorize_read(user.role, case, user.department)
        except Forbidden as exc:
            raise Refused(403, exc.reason, exc.code, exc.params) from None
        return _view(case, user)

    # ---- actions -----------------------------------------------------------------------

    async def _act(complaint_id: uuid.UUID, action: Action, user: Principal,
                   **arguments: Any) -> dict[str, Any]:
        trace = Trace(actor_kind="department" if user.role is Role.DEPARTMENT else "staff",
                      actor_id=user.id, actor_role=user.role.value,
                      correlation_id=str(uuid.uuid4())).as_dict()
        try:
            case = await asyncio.to_thread(app.act, complaint_id, action, role=user.role,
                                           actor_department=user.department,
                                           trace=trace, **arguments)
        except CaseNotFound:
            raise HTTPException(404, f"no case for complaint {complaint_id}") from None
        except Forbidden as exc:
            raise Refused(403, exc.reason, exc.code, exc.params) from None
        except (IllegalTransition, ReopenPeriodExpired, ConcurrentChange) as exc:
            raise Refused(409, str(exc), exc.code, exc.params) from None
        except InvalidCommand as exc:
            field = exc.params.get("field")
            raise invalid(("body", field) if field else ("body",), str(exc),
                          code=exc.code, params=exc.params) from None
        log.info("case %s: %s by %s (%s)", case.reference, action.value, user.id,
                 user.role.value)
        return _view(case, user)

    def post(action: Action, summary: str) -> Callable[[Any], Any]:
        return router.post(f"/api/cases/{{complaint_id}}/actions/{action.value}",
                           tags=["actions"], response_model=CaseDetail, summary=summary,
                           responses={**ERRORS, 422: {"description": "invalid arguments"}},
                           name=action.value,
                           dependencies=[Depends(ACTOR[action])])

    def _not_too_far(day: date | None, field: str) -> None:
        today = app.clock().astimezone(VIETNAM_TZ).date()
        if day is not None and day > today + MAX_DUE_AHEAD:
            raise invalid(("body", field), f"at most {MAX_DUE_AHEAD.days} days ahead "
                                           f"(after {today.isoformat()})", day.isoformat())

    @post(Action.START_ANALYSIS, "Start analysing a new case")
    async def start_analysis(complaint_id: uuid.UUID,
                             user: Annotated[Principal, Depends(ACTOR[Action.START_ANALYSIS])]
                             ) -> dict[str, Any]:
        return await _act(complaint_id, Action.START_ANALYSIS, user)

    @post(Action.REQUEST_INFO, "Ask the customer for documents by a due date")
    async def request_info(complaint_id: uuid.UUID, body: InfoRequest,
                           user: Annotated[Principal, Depends(ACTOR[Action.REQUEST_INFO])]
                           ) -> dict[str, Any]:
        _not_too_far(body.due_date, "due_date")
        return await _act(complaint_id, Action.REQUEST_INFO, user, **body.model_dump())

    @post(Action.RECORD_INFO_PROVIDED, "Record information the customer gave (ticks items)")
    async def record_info_provided(complaint_id: uuid.UUID, body: InfoProvided,
                                   user: Annotated[Principal, Depends(
                                       ACTOR[Action.RECORD_INFO_PROVIDED])]
                                   ) -> dict[str, Any]:
        return await _act(complaint_id, Action.RECORD_INFO_PROVIDED, user,
                          **body.model_dump())

    @post(Action.RESOLVE, "Support resolves the request itself")
    async def resolve(complaint_id: uuid.UUID, body: Resolution,
                      user: Annotated[Principal, Depends(ACTOR[Action.RESOLVE])]
                      ) -> dict[str, Any]:
        return await _act(complaint_id, Action.RESOLVE, user, **body.model_dump())

    @post(Action.REFER, "Refer the case to the department in charge")
    async def refer(complaint_id: uuid.UUID, body: Referral,
                    user: Annotated[Principal, Depends(ACTOR[Action.REFER])]
                    ) -> dict[str, Any]:
        _not_too_far(body.internal_due, "internal_due")
        return await _act(complaint_id, Action.REFER, user, **body.model_dump())

    @post(Action.RECORD_DEPARTMENT_RESPONSE, "The department's result, back to support")
    async def record_department_response(complaint_id: uuid.UUID, body: DepartmentResponse,
                                         user: Annotated[Principal, Depends(
                                             ACTOR[Action.RECORD_DEPARTMENT_RESPONSE])]
                                         ) -> dict[str, Any]:
        return await _act(complaint_id, Action.RECORD_DEPARTMENT_RESPONSE, user,
                          department=body.department, result=body.result,
                          attachments=await _held(body.attachments))

    @post(Action.RECORD_DEPARTMENT_RESPONSE_ON_BEHALF,
          "Supervisor: record the department's answer on its behalf (it may add its own)")
    async def record_department_response_on_behalf(
            complaint_id: uuid.UUID, body: DepartmentResponse,
            user: Annotated[Principal, Depends(
                ACTOR[Action.RECORD_DEPARTMENT_RESPONSE_ON_BEHALF])]) -> dict[str, Any]:
        return await _act(complaint_id, Action.RECORD_DEPARTMENT_RESPONSE_ON_BEHALF, user,
                          department=body.department, result=body.result,
                          attachments=await _held(body.attachments))

    # ---- a department's files ----------------------------------------------------------

    async def _held(refs: list[AttachmentRef]) -> list[dict[str, Any]]:
        """The refs of files routing holds, as uploaded; a made-up one is refused."""
        def check() -> list[dict[str, Any]]:
            errors: list[dict[str, Any]] = []
            for i, ref in enumerate(refs):
                if not files.holds(ref.sha256):
                    errors.append({"type": "value_error", "input": ref.sha256,
                                   "loc": ("body", "attachments", i, "sha256"),
                                   "msg": "routing holds no file with this sha256: upload "
                                          "it first (POST /api/cases/{id}/attachments)"})
                elif files.size(ref.sha256) != ref.size:
                    errors.append({"type": "value_error", "input": ref.size,
                                   "loc": ("body", "attachments", i, "size"),
                                   "msg": f"the file is {files.size(ref.sha256)} bytes"})
            if errors:
                raise RequestValidationError(errors)
            return [ref.model_dump() for ref in refs]

        return await asyncio.to_thread(check)

    @router.post("/api/cases/{complaint_id}/attachments", tags=["departments"],
                 status_code=201, response_model=list[AttachmentRef],
                 responses=error_responses(
                     404, 413, _404="no such case",
                     _413="too many files, or too large (each file's reason)"))
    async def upload_attachments(complaint_id: uuid.UUID,
                                 user: Annotated[Principal, Depends(UPLOADER)],
                                 upload: Annotated[list[UploadFile], File(alias="files")]
                                 ) -> list[dict[str, Any]]:
        """Files for a department's answer (multipart, field ``files``), judged as intake
        judges customers' files (count, size each and together, type from the content)
        and stored by sha256; the answer then names the refs returned. A department
        member uploads only to cases referred to its department. Refused: 413 (size,
        count) or 422 (type), with each file's reason; nothing is stored then."""
        case = await _case(complaint_id)
        try:
            authorize_read(user.role, case, user.department)
        except Forbidden as exc:
            raise Refused(403, exc.reason, exc.code, exc.params) from None
        limit = files.limits.max_attachment_bytes
        uploads = []
        for i, item in enumerate(upload[:files.limits.max_attachments + 1]):
            data = await item.read(limit + 1)
            uploads.append(Upload(upload_name(item.filename, i),
                                  (item.content_type or "application/octet-stream")
                                  .split(";")[0].strip().lower(),
                                  data[:limit], too_large=len(data) > limit))
        if len(upload) > len(uploads):
            uploads.append(uploads[-1])  # the count alone refuses it; the rest is unread
        try:
            refs = await asyncio.to_thread(files.accept, uploads)
        except UploadRefused as refused:
            if refused.status == 422:
                raise RequestValidationError([
                    {"type": r.reason, "loc": ("body", "files", r.index),
                     "msg": f"{r.filename}: {r.message}", "input": r.filename,
                     "ctx": {"code": r.reason, **r.params}} for r in refused.refused]
                ) from None
            first = refused.refused[0]
            raise Refused(refused.status, str(refused), first.reason, first.params) from None
        log.info("case %s: %d department file(s) stored by %s", case.reference, len(refs),
                 user.id)
        return refs

    @router.get("/api/cases/{complaint_id}/attachments/{sha256}", tags=["departments"],
                response_class=Response,
                responses=error_responses(404, _404="no such case, or no such file in "
                                                    "its departments' answers"))
    async def download_attachment(complaint_id: uuid.UUID,
                                  sha256: Annotated[str, PathParam(pattern="^[0-9a-f]{64}$")],
                                  user: User) -> Response:
        """A file of a department's answer on this case, as uploaded (who may read the
        case may read its departments' files)."""
        case = await _case(complaint_id)
        try:
            authorize_read(user.role, case, user.department)
        except Forbidden as exc:
            raise Refused(403, exc.reason, exc.code, exc.params) from None
        ref = _attachment_of(case, sha256)
        if ref is None or not files.holds(sha256):
            raise HTTPException(404, f"case {case.reference} has no department file {sha256}")
        data = await asyncio.to_thread(files.read, sha256)
        name = quote(str(ref.get("filename") or sha256))
        return Response(data, media_type=str(ref.get("content_type") or
                                             "application/octet-stream"),
                        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{name}",
                                 "X-Content-Type-Options": "nosniff"})

    @post(Action.REQUEST_REPLY, "Have notify deliver the reply (method and content)")
    async def request_reply(complaint_id: uuid.UUID, body: ReplyRequest,
                            user: Annotated[Principal, Depends(ACTOR[Action.REQUEST_REPLY])]
                            ) -> dict[str, Any]:
        return await _act(complaint_id, Action.REQUEST_REPLY, user, **body.model_dump())

    @post(Action.RECORD_REPLY_SENT, "Record a reply given by phone or in person")
    async def record_reply_sent(complaint_id: uuid.UUID, body: ReplyRecorded,
                                user: Annotated[Principal, Depends(ACTOR[Action.RECORD_REPLY_SENT])]
                                ) -> dict[str, Any]:
        now = app.clock()
        at = body.at or now
        if at > now + timedelta(minutes=5):
            raise invalid(("body", "at"), f"'at' {at.isoformat()} is in the future",
                          at.isoformat())
        if at < EARLIEST_REPLY:
            raise invalid(("body", "at"), f"'at' is before {EARLIEST_REPLY.date()}",
                          at.isoformat())
        return await _act(complaint_id, Action.RECORD_REPLY_SENT, user, method=body.method,
                          proof=body.proof or f"recorded by {user.id}", sent_at=at,
                          summary=body.summary)

    @post(Action.CLOSE, "Close the case after the reply (step 4)")
    async def close(complaint_id: uuid.UUID, body: Reason,
                    user: Annotated[Principal, Depends(ACTOR[Action.CLOSE])]
                    ) -> dict[str, Any]:
        return await _act(complaint_id, Action.CLOSE, user, **body.model_dump())

    @post(Action.FORCE_CLOSE, "Supervisor: close an open case without a reply")
    async def force_close(complaint_id: uuid.UUID, body: Reason,
                          user: Annotated[Principal, Depends(ACTOR[Action.FORCE_CLOSE])]
                          ) -> dict[str, Any]:
        return await _act(complaint_id, Action.FORCE_CLOSE, user, **body.model_dump())

    @post(Action.REFUSE, "Refuse: late filing, not eligible, wrong channel")
    async def refuse(complaint_id: uuid.UUID, body: Refusal,
                     user: Annotated[Principal, Depends(ACTOR[Action.REFUSE])]
                     ) -> dict[str, Any]:
        return await _act(complaint_id, Action.REFUSE, user, **body.model_dump())

    @post(Action.ACCEPT_LATE_FILING, "Supervisor: accept a late filing (waive the deadline)")
    async def accept_late_filing(
            complaint_id: uuid.UUID, body: Waiver,
            user: Annotated[Principal, Depends(ACTOR[Action.ACCEPT_LATE_FILING])]
    ) -> dict[str, Any]:
        return await _act(complaint_id, Action.ACCEPT_LATE_FILING, user, **body.model_dump())

    @post(Action.REFUSE_LATE_FILING,
          "Supervisor: refuse a late filing (the customer reads the rule and its last day)")
    async def refuse_late_filing(
            complaint_id: uuid.UUID, body: LateRefusal,
            user: Annotated[Principal, Depends(ACTOR[Action.REFUSE_LATE_FILING])]
    ) -> dict[str, Any]:
        return await _act(complaint_id, Action.REFUSE_LATE_FILING, user, **body.model_dump())

    @post(Action.WITHDRAW, "The customer withdrew the request")
    async def withdraw(complaint_id: uuid.UUID, body: Reason,
                       user: Annotated[Principal, Depends(ACTOR[Action.WITHDRAW])]
                       ) -> dict[str, Any]:
        return await _act(complaint_id, Action.WITHDRAW, user, **body.model_dump())

    @post(Action.REOPEN, "Supervisor: reopen a closed or refused case within the period")
    async def reopen(complaint_id: uuid.UUID, body: Reason,
                     user: Annotated[Principal, Depends(ACTOR[Action.REOPEN])]
                     ) -> dict[str, Any]:
        return await _act(complaint_id, Action.REOPEN, user, **body.model_dump())

    @post(Action.DISMISS_FOLLOW_UP,
          "Supervisor: a follow-up to an ended case needs no reopen (with the reason)")
    async def dismiss_follow_up(
            complaint_id: uuid.UUID, body: Reason,
            user: Annotated[Principal, Depends(ACTOR[Action.DISMISS_FOLLOW_UP])]
    ) -> dict[str, Any]:
        return await _act(complaint_id, Action.DISMISS_FOLLOW_UP, user, **body.model_dump())

    @post(Action.ADD_NOTE, "Add an internal note (never shown to the customer)")
    async def add_note(complaint_id: uuid.UUID, body: Note,
                       user: Annotated[Principal, Depends(ACTOR[Action.ADD_NOTE])]
                       ) -> dict[str, Any]:
        return await _act(complaint_id, Action.ADD_NOTE, user, **body.model_dump())

    # ---- triage rules ------------------------------------------------------------------

    @router.get("/api/triage", tags=["triage"], response_model=TriageInfo)
    async def triage(
            _: Annotated[Principal, Depends(staff(*ANY_CASE_ROLE, Role.OPERATOR))]
    ) -> dict[str, Any]:
        """The triage rules in force, in the order they are tried."""
        return _triage_view()

    @router.post("/ops/triage/reload", tags=["ops"], response_model=TriageInfo,
                 dependencies=OWN_LISTENER,
                 responses=error_responses(409, _409="the triage file cannot be loaded "
                                                     "(the rules in force stay)"))
    async def reload_triage(who: Operator) -> dict[str, Any]:
        """Operator, on routing's own listener: read the triage file again. A file with a
        bad entry is refused (409 naming the entry) and the rules in force stay. Recorded
        as an OperatorAction either way."""
        arguments = {"file": str(triage_file) if triage_file else None}
        if triage_file is None:
            raise Refused(409, "this service was started without a triage file",
                          "no_triage_file")
        try:
            rules = await asyncio.to_thread(load_triage_rules, triage_file, app.catalogue)
        except ConfigError as exc:
            await asyncio.to_thread(record_operator_action, app, who, "triage.reload",
                                    arguments, f"refused: {exc}")
            raise Refused(409, f"triage rules not reloaded: {exc}", "triage_invalid",
                          {"why": str(exc)}) from None
        await asyncio.to_thread(record_operator_action, app, who, "triage.reload",
                                {**arguments, "rules": len(rules.rules)})
        app.reload_triage(rules)
        return _triage_view()

    def _triage_view() -> dict[str, Any]:
        rules = app.triage
        return {"file": str(triage_file),
                "rules": [r.model_dump(mode="json") for r in rules.rules],
                "default": rules.default.model_dump(mode="json")}

    def _attachment_of(case: Case, sha256: str) -> dict[str, Any] | None:
        for referral in case.referrals:
            response = referral.get("response") or {}
            while response:
                for ref in response.get("attachments", ()):
                    if ref.get("sha256") == sha256:
                        return dict(ref)
                response = response.get("recorded_on_behalf") or {}
        return None

    async def _case(complaint_id: uuid.UUID) -> Case:
        try:
            return await asyncio.to_thread(app.get_case, complaint_id)
        except CaseNotFound:
            raise HTTPException(404, f"no case for complaint {complaint_id}") from None

    # ---- the console's queue page (paged, for 100k cases) and dashboard counts --------

    @router.get("/api/case-queue", tags=["cases"], response_model=CasePage)
    async def case_queue(
            user: Annotated[Principal, Depends(staff(*ANY_CASE_ROLE))],
            state: State | None = None, channel: Channel | None = None,
            product: str | None = Query(None, max_length=64),
            department: str | None = Query(None, max_length=64),
            sla: SlaStatus | None = None,
            actor: str | None = Query(None, max_length=128,
                                      description="cases this staff member acted on"),
            ids: str | None = Query(None, max_length=40_000,
                                    description="comma-separated complaint ids"),
            follow_up: bool | None = Query(None, description="only cases the customer "
                                                             "wrote to after they ended"),
            reply_undelivered: bool | None = Query(
                None, description="only cases whose last reply did not reach the customer"),
            offset: int = Query(0, ge=0, le=10_000_000),
            limit: int = Query(25, ge=1, le=200)) -> dict[str, Any]:
        """One page of the queue, overdue first (then approaching), oldest first, with the
        number of matching cases. A department member sees only cases ever referred to
        its department."""
        wanted = frozenset(i.strip() for i in ids.split(",") if i.strip()) \
            if ids is not None else None
        referred_to = user.department if user.role is Role.DEPARTMENT else None
        total, rows = await asyncio.to_thread(
            queues.page, offset=offset, limit=limit, state=state, channel=channel,
            product=product, department=department, sla=sla, referred_to=referred_to,
            actor=actor, complaint_ids=wanted, follow_up=follow_up,
            reply_undelivered=reply_undelivered)
        return {"total": total, "offset": offset, "limit": limit, "rows": rows}

    @router.get("/api/case-stats", tags=["cases"])
    async def case_stats(_: Annotated[Principal, Depends(staff(Role.SUPERVISOR, Role.AUDITOR))]
                         ) -> dict[str, Any]:
        """Cases by state; open cases by channel and by age (days since receipt)."""
        return await asyncio.to_thread(queues.stats, app.clock())

    @router.get("/api/case-stats/attributes", tags=["cases"])
    async def case_attributes(_: Annotated[Principal, Depends(staff(Role.SUPERVISOR,
                                                                   Role.AUDITOR))]
                              ) -> dict[str, Any]:
        """Every case's [id, kind, channel, product, department] (the last department it
        was referred to, else ``support``): the dashboard's compliance groups."""
        return {"columns": ["complaint_id", "kind", "channel", "product", "department"],
                "cases": await asyncio.to_thread(queues.attributes)}

    def _view(case: Case, user: Principal) -> dict[str, Any]:
        return {
            "complaint_id": case.complaint_id, "reference": case.reference,
            "state": case.state, "kind": case.kind, "channel": case.channel,
            "product": case.product, "category": case.category,
            "received_at": case.received_at, "filed_late": case.filed_late,
            "filing_deadline": case.filing_deadline,
            "department": case.department, "triage": case.triage,
            "checklist": case.checklist, "info_rounds": case.info_rounds,
            "info_due_date": case.info_due_date, "info_received": case.info_received,
            "referrals": case.referrals, "resolution": case.resolution,
            "reply_request": case.reply_request, "reply_sent": case.reply_sent,
            "reply_undelivered": case.reply_undelivered, "outcome": case.outcome,
            "sla_status": None if case.is_ended else case.sla_status,
            "deadlines": case.deadlines, "notes": case.notes, "timeline": case.timeline,
            "filing_review": case.filing_review, "follow_ups": case.follow_ups,
            "follow_up_pending": case.follow_up_pending,
            "allowed_actions": permitted_actions(user.role, case, user.department),
        }

    return router

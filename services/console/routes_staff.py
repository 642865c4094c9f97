"""Staff pages: intake and hotline drafts, the queues, the case page with its actions and
live updates, the department queue, the supervisor's dashboard and the auditor's view.
Every page reads the services with the signed-in person's rights; every action posts to
the service that owns it."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, StreamingResponse
from starlette.responses import Response

from hotro.services.console.compliance import compliance_report
from hotro.services.console.forms import ComplaintForm, filing_preview
from hotro.services.console.problems import refusal_text
from hotro.services.console.routes_public import submit_complaint
from hotro.services.console.security import Viewer, staff_action, staff_page
from hotro.services.console.upstream import UpstreamError
from hotro.services.console.web import (
    CASE_ROLES,
    INTAKE_ROLES,
    PII_ROLES,
    QUEUE_ROLES,
    render,
    state_of,
)
from hotro.shared.clock import VIETNAM_TZ
from hotro.shared.staff.roles import Role

REFERENCE = re.compile(r"^[A-Za-z]{2}-\d{4}-\d{6,}$")
PAGE_SIZE = 25
STATES = ("new", "awaiting_filing_review", "analysing", "awaiting_customer_info",
          "resolved_by_support",
          "referred_to_department", "department_responded", "reply_due", "replied", "closed",
          "refused", "withdrawn")
DEPARTMENT_ANSWERS = ("record_department_response", "record_department_response_on_behalf")
ACTION_ORDER = ("accept_late_filing", "refuse_late_filing", "start_analysis", "request_info",
                "record_info_provided", "resolve", "refer",
                "record_department_response", "record_department_response_on_behalf",
                "request_reply", "record_reply_sent",
                "close", "refuse", "withdraw", "reopen", "dismiss_follow_up", "force_close",
                "add_note")

IntakeStaff = Annotated[Viewer, Depends(staff_page(*INTAKE_ROLES))]
IntakeActor = Annotated[Viewer, Depends(staff_action(*INTAKE_ROLES))]
QueueReader = Annotated[Viewer, Depends(staff_page(*QUEUE_ROLES))]
CaseReader = Annotated[Viewer, Depends(staff_page(*CASE_ROLES))]
CaseActor = Annotated[Viewer, Depends(staff_action(*CASE_ROLES))]
DepartmentReader = Annotated[Viewer, Depends(staff_page(Role.DEPARTMENT, Role.SUPPORT,
                                                        Role.SUPERVISOR))]
Supervisor = Annotated[Viewer, Depends(staff_page(Role.SUPERVISOR))]
DuplicateDecider = Annotated[Viewer, Depends(staff_action(Role.SUPPORT, Role.SUPERVISOR))]
Auditor = Annotated[Viewer, Depends(staff_page(Role.AUDITOR, Role.SUPERVISOR))]


def _text(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def action_body(action: str, form: Any) -> dict[str, Any]:
    """The routing API's body for an action, from the action's form."""
    items = [i for i in form.getlist("items") if isinstance(i, str) and i]
    if action == "request_info":
        return {"items": items, "due_date": _text(form, "due_date"),
                "message": _text(form, "message")}
    if action == "record_info_provided":
        return {"items": items, "channel": _text(form, "channel") or "counter",
                "note": _text(form, "note")}
    if action == "resolve":
        return {"resolution": _text(form, "resolution")}
    if action == "refer":
        body: dict[str, Any] = {"department": _text(form, "department"),
                                "question": _text(form, "question")}
        if _text(form, "internal_due"):
            body["internal_due"] = _text(form, "internal_due")
        return body
    if action in ("record_department_response", "record_department_response_on_behalf"):
        body = {"result": _text(form, "result")}
        if _text(form, "department"):
            body["department"] = _text(form, "department")
        return body
    if action == "request_reply":
        body = {"method": _text(form, "method"), "content": _text(form, "content")}
        if _text(form, "language"):
            body["language"] = _text(form, "language")
        return body
    if action == "record_reply_sent":
        body = {"method": _text(form, "method"), "summary": _text(form, "summary")}
        if _text(form, "proof"):
            body["proof"] = _text(form, "proof")
        return body
    if action in ("close", "force_close", "withdraw", "reopen", "dismiss_follow_up"):
        return {"reason": _text(form, "reason")}
    if action == "refuse":
        return {"reason": _text(form, "reason"), "explanation": _text(form, "explanation")}
    if action == "add_note":
        return {"text": _text(form, "text")}
    if action == "accept_late_filing":
        return {"waiver_reason": _text(form, "waiver_reason")}
    if action == "refuse_late_filing":
        return {"note": _text(form, "note")}
    return {}


def reply_clock(clocks: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    for clock in clocks or ():
        if clock.get("kind") == "reply":
            return clock
    return None


async def enrich_rows(request: Request, viewer: Viewer, rows: list[dict[str, Any]],
                      *, names: bool) -> list[dict[str, Any]]:
    """Each queue row with the customer's name (roles that may read it) and the reply
    clock: sla's batch answer and intake's batch of names."""
    state = state_of(request)
    ids = [r["complaint_id"] for r in rows]
    if not ids:
        return rows
    caller = viewer.caller

    async def clocks() -> dict[str, Any]:
        found = await state.upstreams.maybe("sla", "/api/clocks/batch/reply", caller,
                                            default={}, params={"ids": ",".join(ids)})
        return dict(found.get("clocks", {})) if isinstance(found, dict) else {}

    async def customers() -> dict[str, Any]:
        if not names:
            return {}
        found = await state.upstreams.maybe("intake", "/api/intake/customers", caller,
                                            default={}, params={"ids": ",".join(ids)})
        return dict(found.get("customers", {})) if isinstance(found, dict) else {}

    clock_map, name_map = await asyncio.gather(clocks(), customers())
    for row in rows:
        row["reply_clock"] = clock_map.get(row["complaint_id"])
        row["customer_name"] = (name_map.get(row["complaint_id"]) or {}).get("name")
    return rows


def _download(upstream: httpx.Response) -> Response:
    """A service's file, handed to the browser as a download in a sandbox: never rendered
    as a page of ours."""
    return Response(upstream.content,
                    media_type=upstream.headers.get("content-type", "application/octet-stream"),
                    headers={"Content-Disposition": upstream.headers.get(
                        "content-disposition", "attachment"),
                        "Content-Security-Policy": "sandbox; default-src 'none'"})

def build_staff_router() -> APIRouter:
    router = APIRouter()

    # ---- intake ------------------------------------------------------------------------

    @router.get("/intake")
    async def intake_page(request: Request, viewer: IntakeStaff, call_id: str = "",
                          phone: str = "") -> Response:
        form = ComplaintForm.blank(channel="hotline" if call_id else "counter",
                                   call_id=call_id, phone=phone)
        return render(request, viewer, "intake_form.html", public=False, form=form,
                      errors={}, action="/intake", check_action="/intake/check",
                      active="intake")

    @router.post("/intake/check")
    async def intake_check(request: Request, viewer: IntakeActor) -> Response:
        state = state_of(request)
        form = ComplaintForm.from_form(await request.form())
        preview = filing_preview(state.reference, form, form.values.get("channel") or
                                 "counter", state.clock(), viewer.t)
        return render(request, viewer, "_filing.html", filing=preview)

    @router.post("/intake")
    async def intake_submit(request: Request, viewer: IntakeActor) -> Response:
        form = ComplaintForm.from_form(await request.form())
        channel = form.values.get("channel")
        return await submit_complaint(request, viewer, form, public=False,
                                      channel=channel if channel in ("counter", "hotline")
                                      else "counter")

    @router.get("/intake/drafts")
    async def drafts(request: Request, viewer: IntakeStaff) -> Response:
        state = state_of(request)
        calls = await state.upstreams.get_json("intake", "/api/intake/hotline/drafts",
                                               viewer.caller)
        return render(request, viewer, "drafts.html", calls=calls, active="drafts")

    # ---- queues ------------------------------------------------------------------------

    @router.get("/queue")
    async def queue(request: Request, viewer: QueueReader, state_: str = "",
                    channel: str = "", product: str = "", department: str = "",
                    sla: str = "", q: str = "", page: int = 1, mine: int = 0) -> Response:
        state = state_of(request)
        query = request.query_params
        filters = {"state": query.get("state", ""), "channel": channel, "product": product,
                   "department": department, "sla": sla}
        q = q.strip()[:200]
        not_found = None
        actor = viewer.user.id if mine and viewer.user else None
        ids: list[str] | None = None
        if q:
            if REFERENCE.match(q):
                found = await state.upstreams.maybe("intake", f"/api/complaints/{q.upper()}",
                                                    viewer.caller)
                if found:
                    return RedirectResponse(f"/cases/{found['id']}", 303)
                ids = []
            else:
                found = await state.upstreams.maybe("intake", "/api/intake/search",
                                                    viewer.caller, default={},
                                                    params={"q": q})
                ids = [m["id"] for m in (found or {}).get("matches", [])]
            if not ids:
                not_found = q
        page = max(1, page)
        params: dict[str, Any] = {k: v for k, v in filters.items() if v}
        params.update(offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
        if actor:
            params["actor"] = actor
        if ids is not None:
            params["ids"] = ",".join(ids)
        result: dict[str, Any] = {"total": 0, "rows": []}
        if ids is None or ids:
            result = await state.upstreams.get_json("routing", "/api/case-queue",
                                                    viewer.caller, params=params)
        rows = await enrich_rows(request, viewer, result["rows"],
                                 names=viewer.has(*PII_ROLES))
        total = int(result["total"])
        pages = max(1, -(-total // PAGE_SIZE))
        base = {k: v for k, v in {**filters, "q": q, "mine": "1" if mine else ""}.items()
                if v}
        return render(request, viewer, "queue.html", rows=rows, total=total, page=page,
                      pages=pages, filters=filters, q=q, mine=bool(mine), base=base,
                      not_found=not_found, states=STATES,
                      active="mine" if mine else "queue")

    @router.get("/department")
    async def department_queue(request: Request, viewer: DepartmentReader, code: str = "",
                               everything: int = 0) -> Response:
        state = state_of(request)
        assert viewer.user is not None
        departments = [d.code for d in state.reference.departments]
        chosen = viewer.user.department if viewer.user.role is Role.DEPARTMENT else \
            (code if code in departments else departments[0])
        rows = await state.upstreams.get_json(
            "routing", f"/api/departments/{chosen}/queue", viewer.caller,
            params={"everything": "true" if everything else None})
        rows = await enrich_rows(request, viewer, rows[:200], names=False)
        return render(request, viewer, "department.html", rows=rows, chosen=chosen,
                      everything=bool(everything), active="department")

    # ---- the case page -----------------------------------------------------------------

    async def case_data(request: Request, viewer: Viewer, complaint_id: uuid.UUID
                        ) -> dict[str, Any]:
        state = state_of(request)
        caller = viewer.caller
        cid = str(complaint_id)
        pii = viewer.has(*PII_ROLES)
        case, request_, clocks, deliveries = await asyncio.gather(
            state.upstreams.get_json("routing", f"/api/cases/{cid}", caller),
            state.upstreams.maybe("intake", f"/api/complaints/{cid}", caller)
            if pii else _none(),
            state.upstreams.maybe("sla", f"/api/clocks/{cid}", caller, default={}),
            state.upstreams.maybe("notify", "/api/deliveries", caller, default=[],
                                  params={"complaint_id": cid}) if pii else _none())
        return {"case": case, "request_": request_,
                "clocks": (clocks or {}).get("clocks", []), "deliveries": deliveries or [],
                "version": case_version(case, deliveries or [])}

    async def show_case(request: Request, viewer: Viewer, complaint_id: uuid.UUID, *,
                        status: int = 200, action_error: dict[str, str] | None = None,
                        done: str | None = None) -> Response:
        data = await case_data(request, viewer, complaint_id)
        actions = [a for a in ACTION_ORDER if a in data["case"]["allowed_actions"]]
        today = state_of(request).clock().astimezone(VIETNAM_TZ).date()
        return render(request, viewer, "case.html", status=status, **data,
                      actions=actions, action_error=action_error or {}, done=done,
                      default_due=(today + timedelta(days=7)).isoformat(),
                      active="queue")

    @router.get("/cases/{complaint_id}")
    async def case_page(request: Request, complaint_id: uuid.UUID, viewer: CaseReader,
                        done: str = "") -> Response:
        return await show_case(request, viewer, complaint_id, done=done or None)

    @router.post("/cases/{complaint_id}/act/{action}")
    async def act(request: Request, complaint_id: uuid.UUID, action: str,
                  viewer: CaseActor) -> Response:
        state = state_of(request)
        if action not in ACTION_ORDER:
            return await show_case(request, viewer, complaint_id, status=404)
        form = await request.form()
        body = action_body(action, form)
        try:
            if action in DEPARTMENT_ANSWERS:
                body["attachments"] = await _department_files(request, viewer, complaint_id,
                                                              form)
            await state.upstreams.post_json(
                "routing", f"/api/cases/{complaint_id}/actions/{action}", viewer.caller,
                body)
        except UpstreamError as exc:
            if exc.status not in (403, 404, 409, 413, 422):
                raise
            return await show_case(request, viewer, complaint_id, status=exc.status,
                                   action_error={action: refusal_text(exc, viewer.language)})
        return RedirectResponse(f"/cases/{complaint_id}?done={action}", 303)

    async def _department_files(request: Request, viewer: Viewer, complaint_id: uuid.UUID,
                                form: Any) -> list[dict[str, Any]]:
        """The form's files, uploaded to routing first (it judges and stores them); the
        refs its answer then names."""
        mb = state_of(request).settings.max_upload_mb
        files = []
        for upload in form.getlist("files"):
            if isinstance(upload, str) or not upload.filename:
                continue
            data = await upload.read(mb * 1024 * 1024 + 1)
            if len(data) > mb * 1024 * 1024:  # never forwarded cut short
                raise UpstreamError("console", 413,
                                    f"{upload.filename}: {viewer.t('customer.files', mb=mb)}")
            files.append(("files", (upload.filename, data,
                                    upload.content_type or "application/octet-stream")))
        if not files:
            return []
        response = await state_of(request).upstreams.request(
            "routing", "POST", f"/api/cases/{complaint_id}/attachments", viewer.caller,
            files=files)
        return list(response.json())

    @router.post("/cases/{complaint_id}/deliveries/{dispatch_id}/{what}")
    async def delivery(request: Request, complaint_id: uuid.UUID, dispatch_id: uuid.UUID,
                       what: str, viewer: CaseActor) -> Response:
        state = state_of(request)
        form = await request.form()
        if what == "outcome":
            body = {"summary": _text(form, "summary"), "proof": _text(form, "proof")}
        elif what == "tracking":
            body = {"tracking_number": _text(form, "tracking_number")}
            if _text(form, "carrier"):
                body["carrier"] = _text(form, "carrier")
        else:
            return await show_case(request, viewer, complaint_id, status=404)
        try:
            await state.upstreams.post_json(
                "notify", f"/api/deliveries/{dispatch_id}/{what}", viewer.caller, body)
        except UpstreamError as exc:
            if exc.status not in (403, 404, 409, 422):
                raise
            why = refusal_text(exc, viewer.language)
            return await show_case(request, viewer, complaint_id, status=exc.status,
                                   action_error={f"delivery-{dispatch_id}": why})
        return RedirectResponse(f"/cases/{complaint_id}?done={what}", 303)

    @router.post("/cases/{complaint_id}/duplicates/{other_id}/{what}")
    async def duplicate(request: Request, complaint_id: uuid.UUID, other_id: uuid.UUID,
                        what: str, viewer: DuplicateDecider) -> Response:
        """Support or a supervisor decides a possible duplicate (intake owns the link)."""
        if what not in ("confirm", "dismiss"):
            return await show_case(request, viewer, complaint_id, status=404)
        reason = _text(await request.form(), "reason")
        try:
            await state_of(request).upstreams.post_json(
                "intake", f"/api/complaints/{complaint_id}/duplicates/{other_id}/{what}",
                viewer.caller, {"reason": reason} if reason else {})
        except UpstreamError as exc:
            if exc.status not in (403, 404, 409, 422):
                raise
            why = refusal_text(exc, viewer.language)
            return await show_case(request, viewer, complaint_id, status=exc.status,
                                   action_error={f"duplicate-{other_id}": why})
        return RedirectResponse(f"/cases/{complaint_id}?done=duplicate_{what}", 303)

    @router.get("/cases/{complaint_id}/letters/{dispatch_id}.pdf")
    async def letter(request: Request, complaint_id: uuid.UUID, dispatch_id: uuid.UUID,
                     viewer: Annotated[Viewer, Depends(staff_page(*PII_ROLES))],
                     download: int = 0) -> Response:
        state = state_of(request)
        upstream = await state.upstreams.request("notify", "GET",
                                                 f"/api/letters/{dispatch_id}.pdf",
                                                 viewer.caller)
        how = "attachment" if download else "inline"  # view in the browser, or save
        return Response(upstream.content, media_type="application/pdf",
                        headers={"Content-Disposition":
                                 f'{how}; filename="{dispatch_id}.pdf"'})

    @router.get("/cases/{complaint_id}/attachments/{sha256}")
    async def attachment(request: Request, complaint_id: uuid.UUID, sha256: str,
                         viewer: Annotated[Viewer, Depends(staff_page(*PII_ROLES))]
                         ) -> Response:
        """A document of the request (intake holds it), downloaded, never rendered here."""
        state = state_of(request)
        upstream = await state.upstreams.request(
            "intake", "GET", f"/api/intake/attachments/{complaint_id}/{sha256}",
            viewer.caller)
        return _download(upstream)

    @router.get("/cases/{complaint_id}/department-files/{sha256}")
    async def department_file(request: Request, complaint_id: uuid.UUID, sha256: str,
                              viewer: CaseReader) -> Response:
        """A file of a department's answer (routing holds it and decides who may read
        it), downloaded, never rendered here."""
        upstream = await state_of(request).upstreams.request(
            "routing", "GET", f"/api/cases/{complaint_id}/attachments/{sha256}",
            viewer.caller)
        return _download(upstream)

    @router.get("/cases/{complaint_id}/live")
    async def live(request: Request, complaint_id: uuid.UUID, viewer: CaseReader,
                   since: str = "") -> StreamingResponse:
        """Server-sent events: ``changed`` when the case moved on since ``since`` (its
        version when the page was rendered). The services are asked every few seconds
        with this person's rights; the stream ends after a while and the browser
        reconnects (EventSource)."""
        state = state_of(request)
        period = state.settings.live_poll_s

        async def events() -> AsyncIterator[bytes]:
            yield b"retry: 3000\n\n"
            seen = since
            deadline = asyncio.get_running_loop().time() + 300
            while asyncio.get_running_loop().time() < deadline:
                if await request.is_disconnected():
                    return
                try:
                    data = await case_data(request, viewer, complaint_id)
                except UpstreamError:
                    return
                if data["version"] != seen:
                    seen = data["version"]
                    yield f"event: changed\ndata: {seen}\n\n".encode()
                else:
                    yield b": idle\n\n"
                await asyncio.sleep(period)

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store",
                                          "X-Accel-Buffering": "no"})

    # ---- supervisor --------------------------------------------------------------------

    @router.get("/supervisor")
    async def supervisor(request: Request, viewer: Supervisor) -> Response:
        state = state_of(request)
        caller = viewer.caller

        async def page(**params: Any) -> dict[str, Any]:
            result: dict[str, Any] = await state.upstreams.get_json(
                "routing", "/api/case-queue", caller, params={**params, "limit": 50})
            return result

        # Decisions waiting for the supervisor: late filings to review, ended cases the
        # customer wrote to again (a reopen is offered on the case page), and replies
        # that did not reach the customer (to be sent another way).
        reviews, follow_ups, undelivered = await asyncio.gather(
            page(state="awaiting_filing_review"), page(follow_up="true"),
            page(reply_undelivered="true", state="reply_due"))
        for group in (reviews, follow_ups, undelivered):
            group["rows"] = await enrich_rows(request, viewer, group["rows"], names=True)
        breached, approaching, refused, stats, failed = await asyncio.gather(
            page(sla="breached"), page(sla="approaching"), page(state="refused"),
            state.upstreams.maybe("routing", "/api/case-stats", caller, default={}),
            state.upstreams.maybe("notify", "/api/deliveries", caller, default=[],
                                  params={"status": "failed", "limit": 50}))
        for group in (breached, approaching, refused):
            group["rows"] = await enrich_rows(request, viewer, group["rows"], names=True)
        compliance = await compliance_report(request, viewer)
        return render(request, viewer, "supervisor.html", breached=breached,
                      approaching=approaching, refused=refused, stats=stats or {},
                      failed=failed or [], compliance=compliance, active="supervisor",
                      reviews=reviews, follow_ups=follow_ups, undelivered=undelivered)

    # ---- auditor -----------------------------------------------------------------------

    @router.get("/audit")
    async def audit(request: Request, viewer: Auditor, reference: str = "",
                    as_of: str = "", fmt: str = "") -> Response:
        state = state_of(request)
        reference = reference.strip().upper()[:40]
        if not reference:
            return render(request, viewer, "audit.html", timeline=None, reference="",
                          as_of=as_of, active="audit")
        found = await state.upstreams.maybe("intake", f"/api/complaints/{reference}",
                                            viewer.caller)
        if not found:
            return render(request, viewer, "audit.html", timeline=None, status=404,
                          reference=reference, as_of=as_of, not_found=True, active="audit")
        instant = parse_instant(as_of)
        data = await case_data(request, viewer, uuid.UUID(found["id"]))
        timeline = merged_timeline(found, data)
        if instant is not None:
            timeline = [e for e in timeline if e["at_dt"] <= instant]
        state_then = next((e["state"] for e in reversed(timeline) if e.get("state")), None)
        if fmt == "json":
            body = json.dumps({"reference": reference, "as_of": as_of or None,
                               "state": state_then,
                               "timeline": [{k: v for k, v in e.items() if k != "at_dt"}
                                            for e in timeline]},
                              ensure_ascii=False, indent=2, default=str)
            return Response(body, media_type="application/json", headers={
                "Content-Disposition": f'attachment; filename="{reference}.json"'})
        return render(request, viewer, "audit.html", timeline=timeline, reference=reference,
                      as_of=as_of, state_then=state_then, request_=found, active="audit")

    return router


async def _none() -> None:
    return None


def case_version(case: dict[str, Any], deliveries: list[dict[str, Any]]) -> str:
    """Changes whenever anything shown on the case page changes."""
    material = json.dumps([case.get("state"), len(case.get("timeline", [])),
                           case.get("sla_status"), case.get("deadlines"),
                           [(d.get("id"), d.get("status")) for d in deliveries]],
                          sort_keys=True, default=str)
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def parse_instant(text: str) -> datetime | None:
    if not text:
        return None
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        return None
    return instant.replace(tzinfo=VIETNAM_TZ) if instant.tzinfo is None else instant


def _at(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    instant = datetime.fromisoformat(str(value))
    return instant if instant.tzinfo else instant.replace(tzinfo=VIETNAM_TZ)


def merged_timeline(request_: dict[str, Any], data: dict[str, Any]) -> list[dict[str, Any]]:
    """Every service's record of the case in one order: intake's receipt and information,
    routing's events (with the state after each), sla's clocks, notify's deliveries."""
    entries: list[dict[str, Any]] = [{"service": "intake", "event": "Received",
                                      "at": request_["received_at"], "actor": None,
                                      "detail": request_.get("channel")}]
    for info in request_.get("info_provided", []):
        if info.get("at"):
            entries.append({"service": "intake", "event": "InfoProvided", "at": info["at"],
                            "actor": info.get("channel"), "detail": info.get("content")})
    for event in data["case"].get("timeline", []):
        entries.append({"service": "routing", "event": event["event"], "at": event["at"],
                        "actor": event.get("actor_id"), "state": event.get("state")})
    for clock in data["clocks"]:
        if "T" in str(clock.get("start") or ""):  # a day alone has no instant to show
            entries.append({"service": "sla", "event": "DeadlineSet", "at": clock["start"],
                            "actor": None,
                            "detail": f"{clock['kind']} → {clock.get('last_day')}"})
        for key, name in (("met_at", "DeadlineMet"), ("breached_at", "DeadlineBreached")):
            if clock.get(key):
                entries.append({"service": "sla", "event": name, "at": clock[key],
                                "actor": None, "detail": clock["kind"]})
    for delivery in data["deliveries"]:
        for key, name in (("requested_at", "DispatchRequested"), ("sent_at", "DispatchSent")):
            if delivery.get(key):
                entries.append({"service": "notify", "event": name, "at": delivery[key],
                                "actor": delivery.get("recorded_by"),
                                "detail": f"{delivery.get('purpose')} · "
                                          f"{delivery.get('method')}"})
    for entry in entries:
        entry["at_dt"] = _at(entry["at"])
    entries.sort(key=lambda e: e["at_dt"])
    return entries


def backlog_buckets(rows: list[dict[str, Any]], now: datetime) -> Counter[str]:
    counts: Counter[str] = Counter()
    for row in rows:
        days = (now - _at(row["received_at"])).days
        counts["0-2" if days <= 2 else "3-5" if days <= 5 else "6-10" if days <= 10
               else ">10"] += 1
    return counts

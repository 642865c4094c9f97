"""The records behind a case, for the people allowed to read them: an email as it was sent
(notify reads it back from where it went), a letter to view or download, and the
auditor's integrity check, evidence pack (PDF) and timeline exports (JSON, CSV)."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from hotro.services.console.evidence import evidence_pdf
from hotro.services.console.routes_staff import merged_timeline, parse_instant
from hotro.services.console.security import Viewer, staff_page
from hotro.services.console.upstream import SERVICES, UpstreamError
from hotro.services.console.web import PII_ROLES, render, state_of
from hotro.shared.staff.roles import Role

PiiReader = Annotated[Viewer, Depends(staff_page(*PII_ROLES))]
Auditor = Annotated[Viewer, Depends(staff_page(Role.AUDITOR, Role.SUPERVISOR))]
CSV_COLUMNS = ("at", "service", "event", "actor", "state", "detail")


async def case_records(request: Request, viewer: Viewer, complaint_id: str
                       ) -> dict[str, Any]:
    """What the auditor's views are made of: routing's case, sla's clocks, notify's
    deliveries (as on the case page)."""
    state = state_of(request)
    caller = viewer.caller
    case, clocks, deliveries = await asyncio.gather(
        state.upstreams.get_json("routing", f"/api/cases/{complaint_id}", caller),
        state.upstreams.maybe("sla", f"/api/clocks/{complaint_id}", caller, default={}),
        state.upstreams.maybe("notify", "/api/deliveries", caller, default=[],
                              params={"complaint_id": complaint_id}))
    return {"case": case, "clocks": (clocks or {}).get("clocks", []),
            "deliveries": deliveries or []}


async def integrity(request: Request, viewer: Viewer, complaint_id: str
                    ) -> list[dict[str, Any]]:
    """Each service's check of its own log against its newest seal, for this case
    (``shared/runtime/integrity.py``); a service that cannot answer says so."""
    state = state_of(request)

    async def one(service: str) -> dict[str, Any]:
        try:
            found: dict[str, Any] = await state.upstreams.get_json(
                service, f"/api/integrity/cases/{complaint_id}", viewer.caller)
            return found
        except UpstreamError as exc:
            return {"service": service, "ok": None, "error": exc.message()}

    return list(await asyncio.gather(*(one(s) for s in SERVICES)))


async def _found(request: Request, viewer: Viewer, reference: str) -> dict[str, Any] | None:
    reference = reference.strip().upper()[:40]
    if not reference:
        return None
    found: dict[str, Any] | None = await state_of(request).upstreams.maybe(
        "intake", f"/api/complaints/{reference}", viewer.caller)
    return found


def _timeline_rows(timeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.items() if k != "at_dt"} for e in timeline]


def build_records_router() -> APIRouter:
    router = APIRouter()

    @router.get("/cases/{complaint_id}/messages/{dispatch_id}")
    async def sent_message(request: Request, complaint_id: uuid.UUID, dispatch_id: uuid.UUID,
                           viewer: PiiReader) -> Response:
        """An email as it was sent: headers and text, as notify kept it."""
        state = state_of(request)
        message = await state.upstreams.maybe(
            "notify", f"/api/deliveries/{dispatch_id}/message", viewer.caller)
        return render(request, viewer, "message.html", status=200 if message else 404,
                      message=message, complaint_id=str(complaint_id), active="queue")

    @router.get("/audit/integrity")
    async def audit_integrity(request: Request, viewer: Auditor, reference: str = ""
                              ) -> Response:
        found = await _found(request, viewer, reference)
        if found is None:
            return render(request, viewer, "error.html", status=404,
                          message=viewer.t("queue.not_found", q=reference))
        checks = await integrity(request, viewer, found["id"])
        fragment = request.headers.get("HX-Request") == "true"
        return render(request, viewer, "_integrity.html" if fragment else "integrity.html",
                      checks=checks, reference=found["reference"], active="audit")

    @router.get("/audit/export.csv")
    async def export_csv(request: Request, viewer: Auditor, reference: str = "",
                         as_of: str = "") -> Response:
        """The merged timeline (as of an instant) as CSV, UTF-8 with BOM for Excel."""
        found = await _found(request, viewer, reference)
        if found is None:
            return Response("not found", status_code=404, media_type="text/plain")
        timeline = merged_timeline(found, await case_records(request, viewer, found["id"]))
        instant = parse_instant(as_of)
        if instant is not None:
            timeline = [e for e in timeline if e["at_dt"] <= instant]
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for entry in _timeline_rows(timeline):
            writer.writerow({k: "" if entry.get(k) is None else entry[k]
                             for k in CSV_COLUMNS})
        name = found["reference"]
        return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})

    @router.get("/audit/evidence.pdf")
    async def evidence(request: Request, viewer: Auditor, reference: str = "") -> Response:
        """The evidence pack: the case, its customer, the merged timeline, the messages
        and letters, the attachments, and each service's integrity check."""
        found = await _found(request, viewer, reference)
        if found is None:
            return Response("not found", status_code=404, media_type="text/plain")
        records, checks = await asyncio.gather(
            case_records(request, viewer, found["id"]),
            integrity(request, viewer, found["id"]))
        timeline = _timeline_rows(merged_timeline(found, records))
        generated = state_of(request).clock()
        pdf = await asyncio.to_thread(evidence_pdf, found, timeline, records["deliveries"],
                                      checks, generated, case=records["case"])
        name = found["reference"]
        return Response(pdf, media_type="application/pdf", headers={
            "Content-Disposition": f'attachment; filename="evidence-{name}.pdf"'})

    return router

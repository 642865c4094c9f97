"""Notify HTTP API: the delivery log, staff-recorded phone/in-person replies, letters."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Header, HTTPException
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from services.notify.application import DispatchNotFound, NotifyApplication
from services.notify.domain import Dispatch, DispatchError
from services.notify.settings import NotifySettings
from shared.eventstore.trace import Trace


class StaffOutcome(BaseModel):
    summary: str = Field(min_length=1, max_length=5000)
    proof: str = Field(min_length=1, max_length=200, description="call log id or recording ref")


def build_router(app: NotifyApplication, settings: NotifySettings) -> APIRouter:
    router = APIRouter(tags=["notify"])
    letters_dir = Path(settings.letters_dir or Path(settings.data_dir) / "letters")

    def _log(complaint_id: uuid.UUID | None) -> list[dict[str, Any]]:
        out = []
        position = 0
        while True:
            notes = app.recorder.select_notifications(start=position, limit=1000,
                                                      inclusive_of_start=False)
            if not notes:
                break
            for n in notes:
                position = n.id
                event = app.mapper.to_domain_event(n)
                if isinstance(event, Dispatch.Requested) and (
                        complaint_id is None or event.complaint_id == complaint_id):
                    out.append(app.get_dispatch(event.originator_id).log_entry())
        return out

    @router.get("/api/deliveries")
    async def deliveries(complaint_id: uuid.UUID | None = None) -> list[dict[str, Any]]:
        return await asyncio.to_thread(_log, complaint_id)

    @router.post("/api/deliveries/{dispatch_id}/outcome")
    async def record_outcome(dispatch_id: uuid.UUID, body: StaffOutcome,
                             x_staff_id: str = Header(min_length=1)) -> dict[str, Any]:
        trace = Trace(actor_kind="staff", actor_id=x_staff_id, actor_role="support",
                      correlation_id=str(uuid.uuid4())).as_dict()
        try:
            dispatch = await asyncio.to_thread(app.record_staff_outcome, dispatch_id,
                                               staff_id=x_staff_id, summary=body.summary,
                                               proof=body.proof, trace=trace)
        except DispatchNotFound:
            raise HTTPException(404, f"no delivery {dispatch_id}") from None
        except DispatchError as exc:
            raise HTTPException(409, str(exc)) from None
        return dispatch.log_entry()

    @router.get("/api/letters/{dispatch_id}.pdf")
    async def letter(dispatch_id: uuid.UUID) -> FileResponse:
        path = letters_dir / f"{dispatch_id}.pdf"
        if not path.exists():
            raise HTTPException(404, f"no letter for delivery {dispatch_id}")
        return FileResponse(path, media_type="application/pdf")

    return router

"""Notify HTTP API: the dispatch log (``/api/deliveries``), staff-recorded phone/in-person
replies, posted letters (tracking number) and letter downloads. Thin: the work is in the
application.

Every route is for staff (``Authorization: Bearer <token>``: an API token of the users
file or the console's staff assertion) and declares which (shared/staff/http.py): the log
and the letters hold customers' personal data, so reading them is for
``PERSONAL_DATA_READERS`` (not departments); recording an outcome is for
``CUSTOMER_CONTACT_STAFF``. The staff member recording an outcome is the authenticated
user, never a name the client claims."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import FileResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from hotro.services.notify.adapters.sent_mail import SentMail
from hotro.services.notify.application import DispatchNotFound, NotifyApplication
from hotro.services.notify.domain import DispatchError
from hotro.services.notify.settings import NotifySettings
from hotro.services.notify.views import DispatchLog
from hotro.shared.eventstore.trace import Trace
from hotro.shared.runtime.openapi import Refused, error_responses, invalid
from hotro.shared.staff.http import (
    CUSTOMER_CONTACT_STAFF,
    PERSONAL_DATA_READERS,
    Principal,
    staff,
)

Status = Literal["pending", "task_open", "awaiting_post", "sent", "failed", "bounced",
                 "cancelled"]
#: the earliest instant a staff member may say a call or meeting took place
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)


class StaffOutcome(BaseModel):
    model_config = ConfigDict(extra="forbid")

    summary: str = Field(min_length=1, max_length=5000, description="what was said or agreed")
    proof: str = Field(min_length=1, max_length=200,
                       description="call log id, recording reference or signed receipt number")
    at: AwareDatetime | None = Field(None, description="when the call or meeting took place; "
                                                       "default: now")


class Posting(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tracking_number: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9 ._/-]+$")
    carrier: str | None = Field(None, max_length=64, pattern=r"^[^\r\n:]+$",
                                description="e.g. VNPost, Viettel Post")


def _staff_trace(user: Principal) -> dict[str, str | None]:
    return Trace(actor_kind="staff", actor_id=user.id, actor_role=user.role.value,
                 correlation_id=str(uuid.uuid4())).as_dict()


def build_router(app: NotifyApplication, settings: NotifySettings,
                 dispatch_log: DispatchLog) -> APIRouter:
    """Who is calling: the Authenticator the service installed (``install_authenticator``)."""
    router = APIRouter(tags=["notify"])
    Reader = Annotated[Principal, Depends(staff(*PERSONAL_DATA_READERS))]
    ContactStaff = Annotated[Principal, Depends(staff(*CUSTOMER_CONTACT_STAFF))]
    letters_dir = settings.letters_path()
    no_delivery = error_responses(404, _404="no such delivery")

    @router.get("/api/deliveries")
    async def deliveries(_: Reader, complaint_id: uuid.UUID | None = None,
                         status: Status | None = None,
                         purpose: str | None = Query(None, max_length=64),
                         offset: int = Query(0, ge=0, le=10_000_000),
                         limit: int = Query(100, ge=1, le=1000)) -> list[dict[str, Any]]:
        """What went to whom, when, by which method, with which proof (log order)."""
        def rows() -> list[dict[str, Any]]:
            return [app.open_row(r) for r in dispatch_log.entries(
                complaint_id=complaint_id, status=status, purpose=purpose, offset=offset,
                limit=limit)]

        return await asyncio.to_thread(rows)

    @router.get("/api/deliveries/{dispatch_id}", responses=no_delivery)
    async def delivery(dispatch_id: uuid.UUID, _: Reader) -> dict[str, Any]:
        entry = await asyncio.to_thread(dispatch_log.get, dispatch_id)
        if entry is None:
            raise HTTPException(404, f"no delivery {dispatch_id}")
        return await asyncio.to_thread(app.open_row, entry)

    # the local run's Maildir holds every email as sent; a relay keeps its own archive
    sent_mail = None if settings.smtp_host else SentMail(settings.maildir_path())

    @router.get("/api/deliveries/{dispatch_id}/message",
                responses=error_responses(404, _404="no such email, or not kept here"))
    async def sent_message(dispatch_id: uuid.UUID, _: Reader) -> dict[str, Any]:
        """An email dispatch as it was sent (headers and text), read back from the local
        Maildir; 404 when it went through an SMTP relay, is not sent yet, or was erased."""
        entry = await asyncio.to_thread(dispatch_log.get, dispatch_id)
        if entry is None or entry["method"] != "email" or not entry.get("message_id"):
            raise HTTPException(404, f"no email delivery {dispatch_id}")
        found = None if sent_mail is None else \
            await asyncio.to_thread(sent_mail.find, str(entry["message_id"]))
        if found is None:
            raise HTTPException(404, f"the email of delivery {dispatch_id} is not kept here")
        return {"dispatch_id": str(dispatch_id), **found}

    async def _command(dispatch_id: uuid.UUID, call: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            await asyncio.to_thread(call, dispatch_id, **kwargs)
        except DispatchNotFound:
            raise HTTPException(404, f"no delivery {dispatch_id}") from None
        except DispatchError as exc:
            raise Refused(409, str(exc), exc.code, exc.params) from None
        entry = await asyncio.to_thread(dispatch_log.get, dispatch_id)
        if entry is None:  # the log is read after the write: cannot happen
            raise HTTPException(500, f"delivery {dispatch_id} recorded but not in the log")
        return await asyncio.to_thread(app.open_row, entry)

    @router.post("/api/deliveries/{dispatch_id}/outcome",
                 responses=error_responses(404, 409, _404="no such delivery",
                                           _409="the delivery is not an open task"))
    async def record_outcome(dispatch_id: uuid.UUID, body: StaffOutcome, user: ContactStaff
                             ) -> dict[str, Any]:
        """A phone or in-person reply was given: who, when, what, and the call reference."""
        at: datetime | None = body.at
        if at is not None and not EARLIEST <= at <= app.clock() + timedelta(minutes=5):
            raise invalid(("body", "at"), f"'at' must be after {EARLIEST.date()} and not in "
                                          "the future", at.isoformat())
        return await _command(dispatch_id, app.record_staff_outcome, staff_id=user.id,
                              summary=body.summary, proof=body.proof,
                              trace=_staff_trace(user), at=at)

    @router.post("/api/deliveries/{dispatch_id}/tracking",
                 responses=error_responses(404, 409, _404="no such delivery",
                                           _409="the delivery is not a printed letter "
                                                "awaiting post"))
    async def record_tracking(dispatch_id: uuid.UUID, body: Posting, user: ContactStaff
                              ) -> dict[str, Any]:
        """The printed letter was posted: its tracking number is the proof of delivery."""
        return await _command(dispatch_id, app.record_posting,
                              tracking_number=body.tracking_number, carrier=body.carrier,
                              staff_id=user.id, trace=_staff_trace(user))

    @router.get("/api/letters/{dispatch_id}.pdf", response_class=FileResponse,
                responses={**no_delivery, 200: {"content": {"application/pdf": {}},
                                                "description": "the letter (PDF)"}})
    async def letter(dispatch_id: uuid.UUID, _: Reader) -> FileResponse:
        path = letters_dir / f"{dispatch_id}.pdf"
        if not path.exists():
            raise HTTPException(404, f"no letter for delivery {dispatch_id}")
        return FileResponse(path, media_type="application/pdf",
                            filename=f"{dispatch_id}.pdf")

    return router

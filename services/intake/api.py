"""Intake's HTTP API: counter and hotline staff, and the public web form."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from typing import Annotated, Literal

import phonenumbers
from fastapi import APIRouter, Header, HTTPException, Response
from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from services.intake.application import IntakeApplication, NewRequest, RequestNotFound
from shared.eventstore.trace import Trace


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    phone: str | None = Field(None, description="Vietnamese numbers are normalised to E.164")
    email: EmailStr | None = None
    address: str | None = Field(None, max_length=500)

    @field_validator("phone")
    @classmethod
    def _e164(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        try:
            number = phonenumbers.parse(v, "VN")
        except phonenumbers.NumberParseException:
            raise ValueError("số điện thoại không hợp lệ / invalid phone number") from None
        if not phonenumbers.is_valid_number(number):
            raise ValueError("số điện thoại không hợp lệ / invalid phone number")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class ComplaintIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["complaint", "advice"] = "complaint"
    channel: Literal["counter", "hotline", "web", "email"] = "web"
    customer: CustomerIn
    product: str | None = Field(None, max_length=64)
    category: str | None = Field(None, max_length=64)
    incident_date: date | None = None
    description: str = Field(min_length=1, max_length=20_000)
    order_ref: str | None = Field(None, max_length=64)
    taken_by: str | None = Field(None, max_length=64)
    language: Literal["vi", "en"] = "vi"


class InfoIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Literal["counter", "hotline", "web", "email"]
    content: str = Field(min_length=1, max_length=20_000)
    items: list[str] = Field(default_factory=list, description="checklist items it covers")


class ComplaintCreated(BaseModel):
    id: uuid.UUID
    reference: str
    filed_late: bool
    filing_deadline: date | None


class ComplaintView(BaseModel):
    id: uuid.UUID
    reference: str
    kind: str
    channel: str
    received_at: str
    filed_late: bool
    filing_deadline: str | None
    details: dict[str, object]
    info_provided: list[dict[str, object]]


def build_router(app: IntakeApplication) -> APIRouter:
    router = APIRouter(prefix="/api/complaints", tags=["intake"])

    @router.post("", status_code=201, response_model=ComplaintCreated)
    async def submit(body: ComplaintIn, response: Response,
                     idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
                     x_staff_id: Annotated[str | None, Header()] = None,
                     x_correlation_id: Annotated[str | None, Header()] = None,
                     ) -> ComplaintCreated:
        trace = _trace(body, x_staff_id, x_correlation_id)
        new = NewRequest(
            kind=body.kind, channel=body.channel,
            customer=body.customer.model_dump(mode="json"),
            description=body.description, product=body.product, category=body.category,
            incident_date=body.incident_date, order_ref=body.order_ref,
            taken_by=body.taken_by or x_staff_id, language=body.language,
        )
        accepted = await asyncio.to_thread(app.receive, new, trace, idempotency_key)
        if not accepted.created:
            response.status_code = 200
        return ComplaintCreated(id=accepted.request_id, reference=accepted.reference,
                                filed_late=accepted.filed_late,
                                filing_deadline=accepted.filing_deadline)

    @router.get("/{id_or_reference}", response_model=ComplaintView)
    async def get(id_or_reference: str) -> ComplaintView:
        try:
            request = await asyncio.to_thread(app.find, id_or_reference)
        except RequestNotFound:
            raise HTTPException(404, f"no request {id_or_reference}") from None
        return ComplaintView(id=request.id, reference=request.reference, kind=request.kind,
                             channel=request.channel, received_at=request.received_at,
                             filed_late=request.filed_late,
                             filing_deadline=request.filing_deadline, details=request.details,
                             info_provided=request.info)

    @router.post("/{id_or_reference}/info", status_code=202)
    async def provide_info(id_or_reference: str, body: InfoIn,
                           x_staff_id: Annotated[str | None, Header()] = None) -> dict[str, str]:
        """Information the customer brought to the counter, phoned in or sent (step 2)."""
        try:
            request = await asyncio.to_thread(app.find, id_or_reference)
        except RequestNotFound:
            raise HTTPException(404, f"no request {id_or_reference}") from None
        trace = Trace(actor_kind="staff" if x_staff_id else "customer",
                      actor_id=x_staff_id or "web", correlation_id=str(uuid.uuid4())).as_dict()
        await asyncio.to_thread(app.provide_info, request.id, channel=body.channel,
                                content=body.content, items=body.items, trace=trace)
        return {"id": str(request.id), "reference": request.reference}

    return router


def _trace(body: ComplaintIn, staff_id: str | None, correlation: str | None
           ) -> dict[str, str | None]:
    try:
        correlation_id = str(uuid.UUID(correlation)) if correlation else str(uuid.uuid4())
    except ValueError:
        correlation_id = str(uuid.uuid4())
    if staff_id:
        return Trace(actor_kind="staff", actor_id=staff_id, actor_role="agent",
                     correlation_id=correlation_id).as_dict()
    return Trace(actor_kind="customer", actor_id=body.customer.email or body.customer.name,
                 correlation_id=correlation_id).as_dict()

"""Intake's HTTP API: counter and hotline staff, and the public web form."""

import asyncio
import uuid
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

import phonenumbers
from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    ValidationError,
    field_validator,
)

from hotro.services.intake import hotline
from hotro.services.intake.application import (
    CallNotDraft,
    IntakeApplication,
    NewRequest,
    RequestNotFound,
    UnknownCall,
)
from hotro.services.intake.errors import FieldErrors
from hotro.services.intake.reference_data import Catalogue
from hotro.shared.calendar import load_calendar
from hotro.shared.eventstore.trace import Trace
from hotro.shared.staff.http import (
    AUTH_ERRORS,
    PERSONAL_DATA_READERS,
    bearer_user,
    optional_bearer_user,
    require_role,
)
from hotro.shared.staff.users import Directory, StaffUser


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
    call_id: str | None = Field(None, max_length=128,
                                description="hotline draft this request comes from")


class InfoIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Literal["counter", "hotline", "web", "email"]
    content: str = Field(min_length=1, max_length=20_000)
    items: list[str] = Field(default_factory=list, description="checklist items it covers")


class Notice(BaseModel):
    code: Literal["filed_late", "wrong_channel"]
    message_vi: str
    message_en: str
    required_channel: str | None = None


class ComplaintCreated(BaseModel):
    id: uuid.UUID
    reference: str
    filed_late: bool
    filing_deadline: date | None
    required_channel: str | None = Field(
        None, description="set when this type of request must come through another channel")
    notices: list[Notice] = Field(default_factory=list)


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
    bounces: list[dict[str, str]] = Field(default_factory=list)
    calls: list[dict[str, Any]] = Field(default_factory=list)
    customer: dict[str, Any] | None = Field(
        None, description="the customer's contact, opened with the complaint's data key; "
                          "null once erased")
    erased: bool = False


def _staff_dependencies(directory: Directory) -> tuple[Any, Any]:
    """(an optional staff user: None for a customer; a staff user allowed to read
    customers' personal data)."""
    current_user = bearer_user(directory)

    def reader(user: Annotated[StaffUser, Depends(current_user)]) -> StaffUser:
        require_role(user, PERSONAL_DATA_READERS, "read customers' requests")
        return user

    return (Annotated[StaffUser | None, Depends(optional_bearer_user(directory))],
            Annotated[StaffUser, Depends(reader)])


def build_router(app: IntakeApplication, catalogue: Catalogue | None = None, *,
                 directory: Directory) -> APIRouter:
    """Submitting is open (the web form; staff add their token); reading a request and its
    customer's contact is for staff only."""
    router = APIRouter(prefix="/api/complaints", tags=["intake"], responses=AUTH_ERRORS)
    MaybeStaff, Reader = _staff_dependencies(directory)
    products = catalogue.product_codes() if catalogue else None
    categories = catalogue.category_codes() if catalogue else None

    @router.post("", status_code=201, response_model=ComplaintCreated)
    async def submit(body: ComplaintIn, response: Response,
                     staff: MaybeStaff,
                     idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
                     x_correlation_id: Annotated[str | None, Header()] = None,
                     ) -> ComplaintCreated:
        _check_fields(body, products, categories, app.clock())
        trace = _trace(body, staff, x_correlation_id)
        new = NewRequest(
            kind=body.kind, channel=body.channel,
            customer=body.customer.model_dump(mode="json"),
            description=body.description, product=body.product, category=body.category,
            incident_date=body.incident_date, order_ref=body.order_ref,
            taken_by=staff.id if staff else body.taken_by, language=body.language,
            hotline_call_id=body.call_id,
        )
        try:
            accepted = await asyncio.to_thread(app.receive, new, trace, idempotency_key)
        except UnknownCall:
            raise FieldErrors([("call_id", "unknown_call", "Không có cuộc gọi này",
                                "No such call")]) from None
        except CallNotDraft as exc:
            raise HTTPException(409, str(exc)) from None
        if not accepted.created:
            response.status_code = 200
        notices: list[Notice] = []
        if accepted.filed_late and accepted.filing_deadline:
            d = accepted.filing_deadline
            notices.append(Notice(
                code="filed_late",
                message_vi=f"Khiếu nại đã quá thời hạn (hạn cuối {d:%d/%m/%Y}); yêu cầu vẫn "
                           "được ghi nhận.",
                message_en=f"The complaint is past the filing deadline ({d.isoformat()}); "
                           "it is recorded nonetheless."))
        rule = accepted.channel_rule
        if rule:
            notices.append(Notice(code="wrong_channel", message_vi=rule["requirement_vi"],
                                  message_en=rule["requirement_en"],
                                  required_channel=rule["required_channel"]))
        return ComplaintCreated(id=accepted.request_id, reference=accepted.reference,
                                filed_late=accepted.filed_late,
                                filing_deadline=accepted.filing_deadline,
                                required_channel=rule["required_channel"] if rule else None,
                                notices=notices)

    @router.get("/{id_or_reference}", response_model=ComplaintView)
    async def get(id_or_reference: str, _: Reader) -> ComplaintView:
        try:
            request = await asyncio.to_thread(app.find, id_or_reference)
        except RequestNotFound:
            raise HTTPException(404, f"no request {id_or_reference}") from None
        def opened() -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
            # the key ring is synchronous (NATS behind it): a worker thread, never the loop
            return (app.customer_of(request),
                    [{**c, "caller": app.open_value(c.get("caller"))} for c in request.calls])

        customer, calls = await asyncio.to_thread(opened)
        return ComplaintView(id=request.id, reference=request.reference, kind=request.kind,
                             channel=request.channel, received_at=request.received_at,
                             filed_late=request.filed_late,
                             filing_deadline=request.filing_deadline, details=request.details,
                             info_provided=request.info, bounces=request.bounces,
                             calls=calls, customer=customer, erased=request.erased)

    @router.post("/{id_or_reference}/info", status_code=202)
    async def provide_info(id_or_reference: str, body: InfoIn, staff: MaybeStaff
                           ) -> dict[str, str]:
        """Information the customer brought to the counter, phoned in or sent (step 2):
        entered by staff (with their token) or by the customer on the web."""
        try:
            request = await asyncio.to_thread(app.find, id_or_reference)
        except RequestNotFound:
            raise HTTPException(404, f"no request {id_or_reference}") from None
        trace = (Trace(actor_kind="staff", actor_id=staff.id, actor_role=staff.role.value,
                       correlation_id=str(uuid.uuid4())) if staff else
                 Trace(actor_kind="customer", actor_id="web",
                       correlation_id=str(uuid.uuid4()))).as_dict()
        await asyncio.to_thread(app.provide_info, request.id, channel=body.channel,
                                content=body.content, items=body.items, trace=trace)
        return {"id": str(request.id), "reference": request.reference}

    return router


def _check_fields(body: ComplaintIn, products: frozenset[str] | None,
                  categories: frozenset[str] | None, now: datetime) -> None:
    errors: list[tuple[str, str, str, str]] = []
    if body.product is not None and products is not None and body.product not in products:
        errors.append(("product", "unknown_code",
                       f"Sản phẩm/dịch vụ không có trong danh mục: {body.product}",
                       f"Product or service not in the catalogue: {body.product}"))
    if (body.category is not None and categories is not None
            and body.category not in categories):
        errors.append(("category", "unknown_code",
                       f"Loại yêu cầu không có trong danh mục: {body.category}",
                       f"Category not in the catalogue: {body.category}"))
    if body.incident_date is not None:
        today = load_calendar().local_date(now)
        if body.incident_date > today:
            errors.append(("incident_date", "future_date",
                           "Ngày xảy ra sự việc không được ở tương lai",
                           "The incident date cannot be in the future"))
        elif body.incident_date < today - timedelta(days=3660):
            errors.append(("incident_date", "too_old",
                           "Ngày xảy ra sự việc quá xa (hơn 10 năm)",
                           "The incident date is more than 10 years ago"))
    if body.kind == "advice" and body.incident_date is not None:
        errors.append(("incident_date", "not_applicable",
                       "Yêu cầu tư vấn không có ngày sự việc",
                       "A request for advice has no incident date"))
    if not (body.customer.phone or body.customer.email or body.channel == "counter"):
        errors.append(("customer", "no_contact",
                       "Cần số điện thoại hoặc email để liên hệ lại",
                       "A phone number or an email address is needed to reach the customer"))
    if errors:
        raise FieldErrors(errors)


def _trace(body: ComplaintIn, staff: StaffUser | None, correlation: str | None
           ) -> dict[str, str | None]:
    try:
        correlation_id = str(uuid.UUID(correlation)) if correlation else str(uuid.uuid4())
    except ValueError:
        correlation_id = str(uuid.uuid4())
    if staff:
        return Trace(actor_kind="staff", actor_id=staff.id, actor_role=staff.role.value,
                     correlation_id=correlation_id).as_dict()
    # never the customer's name or address: traces are stored and published in clear
    return Trace(actor_kind="customer", actor_id=f"{body.channel}-form",
                 correlation_id=correlation_id).as_dict()


# ---- hotline webhook and staff views --------------------------------------------------------

class CallEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event: Literal["call.started", "call.ended"]
    call_id: str = Field(min_length=1, max_length=128)
    caller: str = Field(min_length=1, max_length=40, description="caller number as dialled")
    at: AwareDatetime | None = None
    recording_ref: str | None = Field(None, max_length=500)


class CallOut(BaseModel):
    call_id: str
    caller: str
    caller_raw: str
    status: Literal["linked", "draft", "converted"]
    reference: str | None
    request_id: str | None
    started_at: str | None
    ended_at: str | None
    recording_ref: str | None


def _call_out(app: IntakeApplication, call: Any) -> CallOut:
    status: Literal["linked", "draft", "converted"] = (
        "linked" if call.linked_request_id else
        "converted" if call.converted_request_id else "draft")
    opened = app.call_view(call)
    return CallOut(call_id=call.call_id, caller=opened["caller"],
                   caller_raw=opened["caller_raw"], status=status,
                   reference=call.linked_reference or call.converted_reference,
                   request_id=call.linked_request_id or call.converted_request_id,
                   started_at=call.started_at, ended_at=call.ended_at,
                   recording_ref=call.recording_ref)


def build_intake_router(app: IntakeApplication, *, hotline_secret: str | None,
                        max_skew_s: int, directory: Directory) -> APIRouter:
    router = APIRouter(prefix="/api/intake", tags=["intake"])
    _, Reader = _staff_dependencies(directory)

    @router.post("/hotline/calls", response_model=CallOut)
    async def hotline_call(request: Request) -> CallOut:
        """Call-centre webhook (HMAC-SHA256, see services/intake/hotline.py)."""
        if not hotline_secret:
            raise HTTPException(503, "hotline webhook not configured: "
                                     "HOTRO_HOTLINE_WEBHOOK_SECRET is not set")
        body = await request.body()
        try:
            hotline.verify(hotline_secret,
                           timestamp=request.headers.get(hotline.TIMESTAMP_HEADER),
                           signature=request.headers.get(hotline.SIGNATURE_HEADER),
                           body=body, now=app.clock(), max_skew_s=max_skew_s)
        except hotline.SignatureError as exc:
            raise HTTPException(401, f"invalid webhook signature: {exc}") from None
        try:
            call = CallEventIn.model_validate_json(body)
        except ValidationError as exc:
            raise RequestValidationError(
                [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None
        caller = hotline.normalise_phone(call.caller) or ""
        at = call.at.isoformat() if call.at else None
        trace = Trace.system("hotline-webhook").as_dict()
        if call.event == "call.started":
            recorded = await asyncio.to_thread(app.call_started, call_id=call.call_id,
                                               caller=caller, caller_raw=call.caller, at=at,
                                               trace=trace)
        else:
            recorded = await asyncio.to_thread(app.call_ended, call_id=call.call_id,
                                               caller=caller, caller_raw=call.caller, at=at,
                                               recording_ref=call.recording_ref, trace=trace)
        return await asyncio.to_thread(_call_out, app, recorded)

    @router.get("/hotline/drafts", response_model=list[CallOut])
    async def hotline_drafts(_: Reader) -> list[CallOut]:
        """Calls not linked to an open request: the agent turns each into a request
        (POST /api/complaints with call_id) or leaves it."""
        def drafts() -> list[CallOut]:
            return [_call_out(app, c) for c in app.hotline_drafts()]

        return await asyncio.to_thread(drafts)

    @router.get("/quarantine")
    async def quarantine(_: Reader) -> list[dict[str, Any]]:
        """Inbound mail kept raw for a human (by sha256 in the quarantine store)."""
        return await asyncio.to_thread(app.mail_records, "quarantined")

    @router.get("/mail-log")
    async def mail_log(_: Reader,
                       outcome: Literal["quarantined", "refused", "ignored"] | None = None
                       ) -> list[dict[str, Any]]:
        """Every inbound mail that became no request: ignored, quarantined or refused."""
        return await asyncio.to_thread(app.mail_records, outcome)

    return router

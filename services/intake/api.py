"""Intake's HTTP API: counter and hotline staff, the public web form, the customer's own
page (by the case's link only) and the call-centre webhook.

Who may call what (every route declares it, ``shared/staff/http.py``):

* ``POST /api/complaints``: public (the web form); counter and hotline staff (agent,
  support, supervisor) add their token — the counter, hotline and email channels and
  hotline drafts need it.
* ``GET /api/complaints/{id_or_reference}``: staff who read customers' personal data.
* ``POST /api/complaints/{id_or_reference}/info``: the case's customer link, or staff
  adding information on the customer's behalf (agent, support, supervisor).
* ``POST /api/complaints/{id_or_reference}/capabilities/revoke``: agent, support,
  supervisor.
* ``GET /api/customer/case``, ``POST /api/customer/case/info``: the customer link (the
  case is the link's).
* ``POST /api/intake/hotline/calls``: public, authenticated by its HMAC signature, a
  small time window and a replay record.
* ``GET /api/intake/hotline/drafts``, ``/quarantine``, ``/mail-log``: staff who read
  customers' personal data.
"""

import asyncio
import hashlib
import math
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import quote

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from fastapi import (
    APIRouter,
    Depends,
    File,
    Form,
    Header,
    HTTPException,
    Request,
    Response,
    UploadFile,
)
from fastapi.exceptions import RequestValidationError
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from starlette.concurrency import run_in_threadpool

from hotro.services.intake.adapters import hotline_webhook as hotline
from hotro.services.intake.adapters.email import AttachmentStore, EmailLimits
from hotro.services.intake.adapters.email.sanitize import clean_line
from hotro.services.intake.adapters.reference_data import Catalogue
from hotro.services.intake.application import (
    CallNotDraft,
    Delivery,
    Exchanges,
    IdempotencyConflict,
    IntakeApplication,
    NewRequest,
    ReplayedDelivery,
    RequestClosed,
    RequestNotFound,
    UnknownCall,
)
from hotro.services.intake.domain import HotlineCall, ScopedKey, anonymous_scope, staff_scope
from hotro.services.intake.domain import Request as IntakeRequest
from hotro.services.intake.duplicates_api import possible_duplicates
from hotro.services.intake.errors import FieldErrors
from hotro.services.intake.hygiene import (
    LINE,
    OPTIONAL_LINE,
    TEXT,
    Item,
    check_header_token,
    clean_multi_line,
    clean_single_line,
)
from hotro.services.intake.public_limits import PublicLimits, TooMany
from hotro.services.intake.search import SearchIndex
from hotro.services.intake.views import CallRow, CustomerCase, CustomerCases, HotlineCalls, MailLog
from hotro.shared.attachment_types import judge
from hotro.shared.clock import VIETNAM_TZ
from hotro.shared.contracts.events import STAFF_GIVEN_METHODS
from hotro.shared.eventstore.trace import Trace
from hotro.shared.runtime.openapi import Refused, error_responses
from hotro.shared.staff import capabilities
from hotro.shared.staff.capabilities import CapabilityClaims
from hotro.shared.staff.http import (
    AUTH_ERRORS,
    CUSTOMER_CONTACT_STAFF,
    PERSONAL_DATA_READERS,
    Policy,
    PolicyKind,
    Principal,
    StaffCredentials,
    customer_capability,
    mark_endpoint,
    public,
    staff,
)

#: who records requests at the counter and on the hotline, and adds information for a
#: customer (the security table: agent, support, supervisor)
INTAKE_STAFF = CUSTOMER_CONTACT_STAFF
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def _email_as_typed(value: str | None) -> str | None:
    """A valid address, kept as typed (only the domain lower-cased; an IDN stays in the
    form it was written in, never converted between punycode and Unicode)."""
    if value is None:
        return None
    try:
        valid = validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        raise ValueError("Địa chỉ email không hợp lệ / invalid email address") from None
    return f"{valid.local_part}@{value.rpartition('@')[2].lower()}"


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(max_length=200), LINE]
    phone: Annotated[str | None, Field(
        max_length=40, description="Vietnamese numbers are normalised to E.164"),
        OPTIONAL_LINE] = None
    email: Annotated[str | None, Field(max_length=320), OPTIONAL_LINE,
                     AfterValidator(_email_as_typed)] = None
    address: Annotated[str | None, Field(max_length=500), OPTIONAL_LINE] = None

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


Channel = Literal["counter", "hotline", "web", "email"]


class ComplaintIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["complaint", "advice"] = "complaint"
    channel: Channel = Field("web", description="counter, hotline and email: staff only")
    customer: CustomerIn
    product: Annotated[str | None, Field(max_length=64), OPTIONAL_LINE] = None
    category: Annotated[str | None, Field(max_length=64), OPTIONAL_LINE] = None
    incident_date: date | None = None
    description: Annotated[str, Field(max_length=20_000), TEXT]
    order_ref: Annotated[str | None, Field(max_length=64), OPTIONAL_LINE] = None
    taken_by: Annotated[str | None, Field(
        max_length=64, description="ignored: the staff member is the token's"),
        OPTIONAL_LINE] = None
    language: Literal["vi", "en"] = "vi"
    call_id: Annotated[str | None, Field(
        max_length=128, description="hotline draft this request comes from (staff)"),
        OPTIONAL_LINE] = None


class InfoIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Channel | None = Field(
        None, description="how the information came: staff say which; a customer's link "
                          "is always 'web'")
    content: Annotated[str, Field(max_length=20_000), TEXT]
    items: list[Item] = Field(default_factory=list, max_length=50,
                              description="checklist items it covers")


class RevokeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(max_length=500), LINE]


class RevokeOut(BaseModel):
    reference: str
    generation: int = Field(description="the case's link generation now: older links are "
                                        "refused; notify sends the customer a link of it")


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
    delays: list[dict[str, str | None]] = Field(
        default_factory=list, description="delivery status notices saying one of our emails "
                                          "is delayed, still being retried (not bounced)")
    calls: list[dict[str, Any]] = Field(default_factory=list)
    customer: dict[str, Any] | None = Field(
        None, description="the customer's contact, opened with the complaint's data key; "
                          "null once erased")
    erased: bool = False
    flags: list[str] = Field(default_factory=list,
                             description="sender trust: sender_mismatch, punycode_domain, "
                                         "non_ascii_domain, lookalike_domain")
    claimed: dict[str, Any] | None = Field(
        None, description="sender_mismatch: the case this mail claimed to continue")
    claimed_by: list[dict[str, str]] = Field(
        default_factory=list, description="new cases from mail that claimed to continue "
                                          "this one from a sender that did not match")
    customer_state: str | None = None
    capability_generation: int = 0
    possible_duplicates: list[dict[str, Any]] = Field(
        default_factory=list, description="earlier requests of the same customer about the "
                                          "same product or order (status possible, merged, "
                                          "dismissed)")
    merged_into: str | None = Field(None, description="confirmed a duplicate of this one")
    merged_from: list[str] = Field(default_factory=list,
                                   description="later requests merged into this one")
    incident_date_given: dict[str, Any] | None = Field(
        None, description="an email complaint received without its incident date: the date "
                          "the customer's later information states, with the filing "
                          "window's verdict as of receipt (incident_date, phrase, "
                          "filing_deadline, filed_late)")


# ---- the customer's page ---------------------------------------------------------------------

_STATE_WORDS: dict[str, tuple[str, str]] = {
    "received": ("Đã tiếp nhận yêu cầu", "Your request has been received"),
    "being_analysed": ("Đang xem xét yêu cầu", "Your request is being looked into"),
    "awaiting_information": ("Đang chờ quý khách bổ sung thông tin",
                             "Waiting for the information we asked you for"),
    "referred": ("Đã chuyển bộ phận chuyên môn xem xét",
                 "Referred to the department in charge"),
    "answered": ("Đã trả lời quý khách", "We have answered you"),
    "closed": ("Đã kết thúc xử lý", "Closed"),
    "withdrawn": ("Quý khách đã rút yêu cầu", "You withdrew your request"),
    "reopened": ("Đã mở lại để xem xét tiếp", "Reopened"),
}


class WaitingFor(BaseModel):
    items: list[str]
    due_date: date | None


class AttachmentOut(BaseModel):
    filename: str
    content_type: str
    size: int


class InformationSent(BaseModel):
    at: datetime
    channel: str
    content: str
    items: list[str]
    attachments: list[AttachmentOut]


class ReplyOut(BaseModel):
    at: datetime = Field(description="when staff asked for it to be delivered")
    purpose: Literal["reply", "refusal"]
    method: str
    content: str | None = Field(
        description="the words sent (email, letter, SMS); none for an answer given by "
                    "phone or in person, whose words were written for staff")
    language: str


class RefusalOut(BaseModel):
    at: datetime
    reason: Literal["late_filing", "not_eligible", "wrong_channel"]
    explanation: str = Field(description="staff's words to the customer, as in the letter")
    filing_deadline: date | None = Field(
        None, description="late filing: the last day a complaint could be filed")


class CustomerCaseOut(BaseModel):
    reference: str
    kind: Literal["complaint", "advice"]
    received_on: date
    state: Literal["received", "being_analysed", "awaiting_information", "referred",
                   "answered", "closed", "withdrawn", "reopened"]
    state_vi: str
    state_en: str
    waiting_for: WaitingFor | None = Field(
        None, description="what we asked for and by when (awaiting_information only)")
    reply_due: date | None = Field(None, description="the last day for our reply")
    information_sent: list[InformationSent]
    replies: list[ReplyOut] = Field(
        default_factory=list, description="our answers, oldest first: readable here even "
                                          "when one never reached the customer")
    refusal: RefusalOut | None = Field(
        None, description="why we did not take the request up (a refusal that stands)")


# ---- who is calling --------------------------------------------------------------------------

@dataclass(frozen=True)
class Caller:
    """A staff member (``staff``) or the holder of a case's link (``customer``)."""

    staff: Principal | None = None
    customer: CapabilityClaims | None = None

    def trace(self, correlation_id: str | None = None) -> dict[str, str | None]:
        correlation = correlation_id or str(uuid.uuid4())
        if self.staff is not None:
            return Trace(actor_kind="staff", actor_id=self.staff.id,
                         actor_role=self.staff.role.value,
                         correlation_id=correlation).as_dict()
        # never the token nor the customer's name: traces are stored and published in clear
        return Trace(actor_kind="customer", actor_id="web-link",
                     correlation_id=correlation).as_dict()


def _maybe_staff() -> Callable[..., Awaitable[Principal | None]]:
    """None without a bearer (the public web form); else a staff member who takes
    requests (401 for a bad token, 403 for another role)."""
    member = staff(*INTAKE_STAFF)

    async def maybe(request: Request, credentials: StaffCredentials) -> Principal | None:
        # async: the public form (no bearer) costs no hop to a worker thread; a token is
        # checked there, as every staff dependency is (the directory may read a file)
        if credentials is None or not credentials.credentials:
            return None
        return await run_in_threadpool(member, request, credentials)

    return maybe


def customer_or_staff(*roles: Any, match_path_param: str) -> Callable[..., Caller]:
    """The case's customer (their link, for the case the path names: else 403) or staff of
    ``roles`` acting for the customer. Declared as a customer-capability policy whose
    roles are the staff admitted besides."""
    customer = customer_capability(match_path_param=match_path_param)
    member = staff(*roles)

    def caller(request: Request, credentials: StaffCredentials) -> Caller:
        if credentials is None or not credentials.credentials:
            raise HTTPException(401, "this needs the customer's link or a staff token",
                                _CHALLENGE)
        if capabilities.is_capability(credentials.credentials):
            return Caller(customer=customer(request, credentials))
        return Caller(staff=member(request, credentials))

    policy = Policy(PolicyKind.CUSTOMER, roles=frozenset(roles),
                    reason=f"case from {match_path_param}, or staff for the customer")
    return mark_endpoint(policy)(caller)


# ---- /api/complaints ---------------------------------------------------------------------------

#: the public form's answer when one stranger files too much (``public_limits``)
TOO_MANY: dict[int | str, dict[str, Any]] = {429: {
    "description": "too many requests without a staff token from this contact (email or "
                   "phone) or this client address; retry after Retry-After seconds",
    "headers": {"Retry-After": {"description": "seconds to wait",
                                "schema": {"type": "integer"}}}}}


def _too_many(refused: TooMany) -> HTTPException:
    why = {"contact": ("Địa chỉ email hoặc số điện thoại này đã gửi quá nhiều yêu cầu qua "
                       "biểu mẫu công khai", "too many requests from this email address or "
                                                "phone number through the public form"),
           "address": ("Quá nhiều yêu cầu từ địa chỉ mạng này", "too many requests from "
                                                                 "this network address")}
    vi, en = why[refused.limit]
    wait = max(1, math.ceil(refused.retry_after_s))
    return HTTPException(429, {"code": f"too_many_per_{refused.limit}", "message_vi":
                               f"{vi}; vui lòng thử lại sau {math.ceil(wait / 60)} phút "
                               "hoặc gọi đường dây nóng 0422111997.",
                               "message_en": f"{en}; please retry in {math.ceil(wait / 60)} "
                               "minute(s) or call the hotline 0422111997.",
                               "retry_after_s": wait},
                         {"Retry-After": str(wait)})


def build_router(app: IntakeApplication, catalogue: Catalogue | None = None, *,
                 customers: CustomerCases, public_limits: PublicLimits | None = None
                 ) -> APIRouter:
    """Submitting is open (the web form; staff add their token); reading a request and its
    customer's contact is for staff only; information comes from the case's customer
    (their link) or staff for them."""
    router = APIRouter(prefix="/api/complaints", tags=["intake"], responses=AUTH_ERRORS)
    MaybeStaff = Annotated[Principal | None, Depends(_maybe_staff())]
    Reader = Annotated[Principal, Depends(staff(*PERSONAL_DATA_READERS))]
    ContactStaff = Annotated[Principal, Depends(staff(*INTAKE_STAFF))]
    InfoCaller = Annotated[Caller, Depends(customer_or_staff(
        *INTAKE_STAFF, match_path_param="id_or_reference"))]
    products = catalogue.product_codes() if catalogue else None
    categories = catalogue.category_codes() if catalogue else None
    web_form = public("the public web form: anyone may file a request (counter, hotline "
                      "and email requests, and hotline drafts, need a staff token)")

    @router.post("", status_code=201, response_model=ComplaintCreated,
                 dependencies=[Depends(web_form)], responses=TOO_MANY)
    async def submit(body: ComplaintIn, request: Request, response: Response,
                     member: MaybeStaff,
                     idempotency_key: Annotated[str | None, Header()] = None,
                     x_correlation_id: Annotated[str | None, Header()] = None,
                     ) -> ComplaintCreated:
        if member is None and (body.channel != "web" or body.call_id is not None):
            raise HTTPException(401, "counter, hotline and email requests and hotline "
                                     "drafts are recorded by staff (Authorization: Bearer "
                                     "<token>); the public form is channel 'web'",
                                _CHALLENGE)
        _check_fields(body, products, categories, app.clock())
        key = _scoped_key(idempotency_key, member, body.channel)
        if public_limits is not None and member is None:
            hashed = app.contact_hashes(body.customer.model_dump(mode="json"))
            contacts = [hashed[k] for k in ("email", "phone") if k in hashed]
            refused = await public_limits.admit(request, contacts)
            # a retry of a request already filed (its key) is answered, not refused
            if refused is not None and not (
                    key is not None and await asyncio.to_thread(app.is_recorded,
                                                                key.request_id)):
                raise _too_many(refused)
        trace = _trace(body, member, x_correlation_id)
        new = NewRequest(
            kind=body.kind, channel=body.channel,
            customer=body.customer.model_dump(mode="json"),
            description=body.description, product=body.product, category=body.category,
            incident_date=body.incident_date, order_ref=body.order_ref,
            taken_by=member.id if member else None, language=body.language,
            hotline_call_id=body.call_id,
        )
        try:
            accepted = await asyncio.to_thread(app.receive, new, trace, scoped_key=key)
        except UnknownCall:
            raise FieldErrors([("call_id", "unknown_call", "Không có cuộc gọi này",
                                "No such call")]) from None
        except CallNotDraft as exc:
            raise Refused(409, str(exc), "call_not_draft",
                          {"reference": exc.reference}) from None
        except IdempotencyConflict as exc:
            raise FieldErrors([("Idempotency-Key", "key_reused",
                                "Khóa này đã được dùng cho một yêu cầu khác; hãy dùng khóa "
                                "mới cho yêu cầu mới", str(exc))]) from None
        if not accepted.created:
            response.status_code = 200
        notices: list[Notice] = []
        if accepted.filed_late and accepted.filing_deadline:
            d = accepted.filing_deadline
            notices.append(Notice(
                code="filed_late",
                message_vi=f"Khiếu nại đã quá thời hạn (hạn cuối {d:%d/%m/%Y}); yêu cầu vẫn "
                           "được ghi nhận và sẽ được giám sát viên xem xét.",
                message_en=f"The complaint is past the filing deadline ({d:%d/%m/%Y}); it is "
                           "recorded and a supervisor will review it."))
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
        request = await _find(app, id_or_reference)

        def opened() -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
            # the key ring is synchronous (NATS behind it): a worker thread, never the loop
            return (app.customer_of(request),
                    [{**c, "caller": app.open_value(c.get("caller"))} for c in request.calls])

        customer, calls = await asyncio.to_thread(opened)
        seen = await asyncio.to_thread(customers.case, request.id)
        claimed_by = await asyncio.to_thread(customers.claimed_by, request.id)
        return ComplaintView(id=request.id, reference=request.reference, kind=request.kind,
                             channel=request.channel, received_at=request.received_at,
                             filed_late=request.filed_late,
                             filing_deadline=request.filing_deadline, details=request.details,
                             info_provided=request.info, bounces=request.bounces,
                             delays=request.delays,
                             calls=calls, customer=customer, erased=request.erased,
                             flags=list(request.details.get("flags") or ()),
                             claimed=request.details.get("claimed"), claimed_by=claimed_by,
                             customer_state=seen.state if seen else None,
                             capability_generation=request.capability_generation,
                             possible_duplicates=possible_duplicates(request),
                             merged_into=request.merged_into,
                             merged_from=list(request.merged_from),
                             incident_date_given=request.incident_date_given)

    @router.post("/{id_or_reference}/info", status_code=202)
    async def provide_info(id_or_reference: str, body: InfoIn, caller: InfoCaller,
                           response: Response,
                           idempotency_key: Annotated[str | None, Header()] = None,
                           ) -> dict[str, str]:
        """Information for the case: from its customer (their link; channel web) or entered
        by staff for the customer (at the counter, from a call, from a letter). On a closed
        case the customer's message is kept as a follow-up (routing alerts its owner and
        offers a supervisor the reopen; notify tells the customer it arrived); staff get
        409 (nothing is stored: a supervisor reopens the case first)."""
        request = await _find(app, id_or_reference)
        if caller.customer is not None:
            if body.channel not in (None, "web"):
                raise FieldErrors([("channel", "customer_channel",
                                    "Thông tin quý khách gửi qua đường dẫn là kênh web",
                                    "Information sent with the customer's link is 'web'")])
            channel = "web"
        elif body.channel is None:
            raise FieldErrors([("channel", "missing", "Bắt buộc phải có (nhân viên ghi "
                                "nhận qua kênh nào)", "Field required (how staff got it)")])
        else:
            channel = body.channel
        key = _scoped_key(idempotency_key, caller.staff, f"info:{request.id}")
        try:
            stored, added = await asyncio.to_thread(
                app.provide_info_once, request.id, channel=channel, content=body.content,
                items=list(body.items), trace=caller.trace(),
                refuse_closed=caller.customer is None, scoped_key=key)
        except RequestClosed as exc:
            raise Refused(409, str(exc), "case_closed_for_info") from None
        except IdempotencyConflict as exc:
            raise FieldErrors([("Idempotency-Key", "key_reused",
                                "Khóa này đã được dùng cho thông tin khác; hãy dùng khóa mới "
                                "cho thông tin mới", str(exc))]) from None
        if not added:
            response.status_code = 200  # the same information, already recorded
        return {"id": str(request.id), "reference": request.reference,
                "received_as": "follow_up" if stored.closed else "information"}

    @router.post("/{id_or_reference}/capabilities/revoke", response_model=RevokeOut)
    async def revoke_links(id_or_reference: str, body: RevokeIn, member: ContactStaff
                           ) -> RevokeOut:
        """Every link sent for the case stops working at once (a leaked or forwarded
        link); recorded with who and why, and published (CustomerLinkReissued): notify
        sends the customer a link of the new generation the way the case reached them.
        Staff never see a link: it is the customer's bearer secret."""
        request = await _find(app, id_or_reference)
        trace = Caller(staff=member).trace()
        revoked = await asyncio.to_thread(app.revoke_capabilities, request.id,
                                          reason=body.reason, trace=trace)
        return RevokeOut(reference=revoked.reference,
                         generation=revoked.capability_generation)

    return router


async def _find(app: IntakeApplication, id_or_reference: str) -> IntakeRequest:
    try:
        return await asyncio.to_thread(app.find, id_or_reference)
    except RequestNotFound:
        raise HTTPException(404, f"no request {id_or_reference}") from None


def _scoped_key(value: str | None, member: Principal | None, channel: str
                ) -> ScopedKey | None:
    if value is None:
        return None
    problem = check_header_token(value)
    if problem is not None:
        vi, en = problem.split(" / ", 1)
        raise FieldErrors([("Idempotency-Key", "invalid_key", vi, en)])
    scope = staff_scope(member.id) if member is not None else anonymous_scope(channel)
    return ScopedKey(scope=scope, key=value)


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
        today = now.astimezone(VIETNAM_TZ).date()
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


def _trace(body: ComplaintIn, member: Principal | None, correlation: str | None
           ) -> dict[str, str | None]:
    try:
        correlation_id = str(uuid.UUID(correlation)) if correlation else str(uuid.uuid4())
    except ValueError:
        correlation_id = str(uuid.uuid4())
    if member:
        return Caller(staff=member).trace(correlation_id)
    # never the customer's name or address: traces are stored and published in clear
    return Trace(actor_kind="customer", actor_id=f"{body.channel}-form",
                 correlation_id=correlation_id).as_dict()


class WithdrawalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field("", max_length=2000, description="in the customer's words; optional")


class WithdrawalOut(BaseModel):
    reference: str
    #: asked: recorded now; already_asked: recorded before, nothing new
    withdrawal: Literal["asked", "already_asked"]


# ---- /api/customer: the customer's own page ----------------------------------------------------

def build_customer_router(app: IntakeApplication, customers: CustomerCases, *,
                          attachments: AttachmentStore, limits: EmailLimits) -> APIRouter:
    """What the holder of a case's link may do: read where the case stands, and send the
    information asked for with documents. The case is the link's: no reference in the
    path, nothing of another case is reachable."""
    router = APIRouter(prefix="/api/customer", tags=["customer"], responses=AUTH_ERRORS)
    Customer = Annotated[CapabilityClaims, Depends(customer_capability())]

    @router.get("/case", response_model=CustomerCaseOut)
    async def case(claims: Customer) -> CustomerCaseOut:
        """The state in plain words, what we wait for, the reply's last day, and what the
        customer already sent — no staff notes, no personal data beyond the case's."""
        seen = await asyncio.to_thread(customers.case, claims.cid)
        if seen is None:
            raise HTTPException(404, "no such case")
        exchanges = await asyncio.to_thread(app.exchanges, seen.request_id)
        return _customer_case(seen, exchanges)

    @router.post("/case/info", status_code=202)
    async def send_information(
            claims: Customer,
            content: Annotated[str | None, Form(max_length=20_000)] = None,
            items: Annotated[list[str] | None, Form()] = None,
            files: Annotated[list[UploadFile] | None, File(
                description="documents (intake's attachment limits and types)")] = None,
    ) -> dict[str, Any]:
        """The information asked for, with documents (multipart); on a closed case, kept
        as a follow-up (``received_as``); 413 above the size limits; 422 for a type not
        accepted or a bad field."""
        text, named = _customer_fields(content, items or [])
        uploads = list(files or [])
        if not text and not uploads:
            raise FieldErrors([("content", "blank", "Cần nội dung hoặc tài liệu đính kèm",
                                "Write something or attach a document")])
        seen = await asyncio.to_thread(customers.case, claims.cid)
        if seen is None:
            raise HTTPException(404, "no such case")
        stored = await _store_uploads(uploads, attachments, limits)
        trace = Caller(customer=claims).trace()
        request = await asyncio.to_thread(
            app.provide_info, seen.request_id, channel="web",
            content=text or "(tài liệu đính kèm / documents attached)", items=named,
            attachments=stored, trace=trace)
        return {"reference": seen.reference,
                "received_as": "follow_up" if request.closed else "information",
                "attachments": [{k: a[k] for k in ("filename", "content_type", "size")}
                                for a in stored]}

    @router.post("/case/withdraw", status_code=202, response_model=WithdrawalOut,
                 responses=error_responses(409, _409="the case has already ended"))
    async def withdraw(claims: Customer, body: WithdrawalIn) -> WithdrawalOut:
        """The customer no longer wants an answer: recorded and handed to routing, which
        withdraws the case if it is still open (the page then says so). Asking again
        records nothing; a case that has ended is 409."""
        try:
            reason = clean_multi_line(body.reason, required=False) or ""
        except ValueError as exc:
            vi, en = str(exc).split(" / ", 1)
            raise FieldErrors([("reason", "value_error", vi, en)]) from None
        seen = await asyncio.to_thread(customers.case, claims.cid)
        if seen is None:
            raise HTTPException(404, "no such case")
        try:
            _request, new = await asyncio.to_thread(
                app.ask_withdrawal, seen.request_id, reason=reason,
                trace=Caller(customer=claims).trace())
        except RequestClosed as exc:
            raise Refused(409, str(exc), "case_ended") from None
        return WithdrawalOut(reference=seen.reference,
                             withdrawal="asked" if new else "already_asked")

    return router


def _customer_case(seen: CustomerCase, exchanges: Exchanges) -> CustomerCaseOut:
    vi, en = _STATE_WORDS[seen.state]
    waiting = (WaitingFor(items=list(seen.asked_items), due_date=seen.info_due)
               if seen.state == "awaiting_information" else None)
    return CustomerCaseOut(
        reference=seen.reference, kind="advice" if seen.kind == "advice" else "complaint",
        received_on=seen.received_on, state=seen.state, state_vi=vi, state_en=en,
        waiting_for=waiting, reply_due=seen.reply_due,
        information_sent=[InformationSent(
            at=s["at"], channel=s["channel"], content=s["content"], items=s["items"],
            attachments=[AttachmentOut(filename=str(a.get("filename", "")),
                                       content_type=str(a.get("content_type", "")),
                                       size=int(a.get("size", 0)))
                         for a in s["attachments"]]) for s in exchanges.information_sent],
        replies=[ReplyOut(at=r["at"], purpose=r["purpose"], method=r["method"],
                          content=None if r["method"] in STAFF_GIVEN_METHODS else r["content"],
                          language=r["language"]) for r in exchanges.replies],
        refusal=RefusalOut(**exchanges.refusal) if exchanges.refusal else None)


def _customer_fields(content: str | None, items: list[str]) -> tuple[str | None, list[str]]:
    errors: list[tuple[str, str, str, str]] = []
    text: str | None = None
    try:
        text = clean_multi_line(content or "", required=False)
    except ValueError as exc:
        vi, en = str(exc).split(" / ", 1)
        errors.append(("content", "value_error", vi, en))
    named: list[str] = []
    if len(items) > 50:
        errors.append(("items", "too_long", "Tối đa 50 mục", "At most 50 items"))
    for i, item in enumerate(items[:50]):
        try:
            cleaned = clean_single_line(item, required=False)
        except ValueError as exc:
            vi, en = str(exc).split(" / ", 1)
            errors.append((f"items.{i}", "value_error", vi, en))
            continue
        if cleaned is not None and len(cleaned) > 100:
            errors.append((f"items.{i}", "string_too_long", "Quá dài (tối đa 100 ký tự)",
                           "Too long (at most 100 characters)"))
        elif cleaned is not None:
            named.append(cleaned)
    if errors:
        raise FieldErrors(errors)
    return text, named


_REFUSED_VI = {
    "extension_refused": "loại tệp theo đuôi tên này không được nhận",
    "content_not_accepted": "nội dung tệp không thuộc loại được nhận (ảnh, PDF)",
    "type_not_accepted": "loại tệp này không được nhận (ảnh, PDF)",
}


async def _store_uploads(uploads: list[UploadFile], store: AttachmentStore,
                         limits: EmailLimits) -> list[dict[str, Any]]:
    """Check every file against intake's attachment limits before storing any."""
    if len(uploads) > limits.max_attachments:
        raise Refused(413, f"too many files: {len(uploads)}; at most "
                           f"{limits.max_attachments} at a time", "too_many_files",
                      {"max_files": str(limits.max_attachments)})
    errors: list[tuple[str, str, str, str]] = []
    accepted: list[tuple[str, str, bytes]] = []
    total = 0
    for i, upload in enumerate(uploads):
        content_type = (upload.content_type or "application/octet-stream").split(";")[0]
        content_type = content_type.strip().lower()
        name = clean_line((upload.filename or "").replace("\\", "/").rpartition("/")[2],
                          max_chars=200) or f"tai-lieu-{i + 1}"
        data = await upload.read(limits.max_attachment_bytes + 1)
        if len(data) > limits.max_attachment_bytes:
            max_mb = str(limits.max_attachment_bytes // (1024 * 1024))
            raise Refused(413, f"file {name!r} is larger than {max_mb} MB", "file_too_large",
                          {"filename": name, "max_mb": max_mb})
        total += len(data)
        if total > limits.max_total_attachment_bytes:
            max_mb = str(limits.max_total_attachment_bytes // (1024 * 1024))
            raise Refused(413, f"the files together are larger than {max_mb} MB",
                          "total_too_large", {"max_mb": max_mb})
        # What the file is comes from its content and name, not from what the browser
        # declared: a program named .pdf or sent as application/pdf is refused.
        verdict = judge(name, content_type, data, limits)
        if verdict.store_as is None:
            reason = verdict.reason or "type_not_accepted"
            errors.append((f"files.{i}", reason,
                           f"Không nhận tệp {name}: {_REFUSED_VI.get(reason, reason)}",
                           f"File {name} is not accepted: {verdict.reason_text}"))
            continue
        accepted.append((name, verdict.store_as, data))
    if errors:
        raise FieldErrors(errors)

    def put() -> list[dict[str, Any]]:
        return [{"sha256": store.put(data), "filename": name, "content_type": content_type,
                 "size": len(data)} for name, content_type, data in accepted]

    return await asyncio.to_thread(put)


# ---- hotline webhook and staff views --------------------------------------------------------

class CallEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event: Literal["call.started", "call.ended"]
    call_id: Annotated[str, Field(max_length=128), LINE]
    caller: Annotated[str, Field(max_length=40, description="caller number as dialled"),
                      LINE]
    at: AwareDatetime | None = None
    recording_ref: Annotated[str | None, Field(max_length=500), OPTIONAL_LINE] = None


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


def _call_out(app: IntakeApplication, call: HotlineCall | CallRow) -> CallOut:
    """The call with its caller opened (the call's data key: the key ring may wait on NATS,
    so this runs in a worker thread)."""
    status: Literal["linked", "draft", "converted"] = (
        "linked" if call.linked_request_id else
        "converted" if call.converted_request_id else "draft")
    return CallOut(call_id=call.call_id, caller=app.open_value(call.caller) or "",
                   caller_raw=app.open_value(call.caller_raw) or "", status=status,
                   reference=call.linked_reference or call.converted_reference,
                   request_id=call.linked_request_id or call.converted_request_id,
                   started_at=call.started_at, ended_at=call.ended_at,
                   recording_ref=call.recording_ref)


def build_intake_router(app: IntakeApplication, calls: HotlineCalls, mail_records: MailLog, *,
                        hotline_secret: str | None, max_skew_s: int,
                        search_index: SearchIndex | None = None) -> APIRouter:
    router = APIRouter(prefix="/api/intake", tags=["intake"])
    index = search_index or SearchIndex(app)
    Reader = Annotated[Principal, Depends(staff(*PERSONAL_DATA_READERS))]
    signed = public(f"the call-centre webhook: authenticated by its HMAC signature, a "
                    f"timestamp within ±{max_skew_s} s and a replay record (each signature "
                    "once)")

    @router.post("/hotline/calls", response_model=CallOut, dependencies=[Depends(signed)],
                 responses={401: {"description": "bad, stale or replayed signature"}})
    async def hotline_call(request: Request) -> CallOut:
        """Call-centre webhook (HMAC-SHA256, see services/intake/adapters/hotline_webhook.py)."""
        if not hotline_secret:
            raise HTTPException(503, "hotline webhook not configured: "
                                     "HOTRO_HOTLINE_WEBHOOK_SECRET is not set")
        body = await request.body()
        timestamp = request.headers.get(hotline.TIMESTAMP_HEADER)
        signature = request.headers.get(hotline.SIGNATURE_HEADER)
        try:
            hotline.verify(hotline_secret, timestamp=timestamp, signature=signature,
                           body=body, now=app.clock(), max_skew_s=max_skew_s)
        except hotline.SignatureError as exc:
            raise HTTPException(401, f"invalid webhook signature: {exc}") from None
        assert timestamp is not None and signature is not None  # verified above
        try:
            call = CallEventIn.model_validate_json(body)
        except ValidationError as exc:
            raise RequestValidationError(
                [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None
        delivery = Delivery(
            digest=hashlib.sha256(signature.strip().lower().encode("ascii", "replace"))
            .hexdigest(), signed_at=int(timestamp))
        caller = hotline.normalise_phone(call.caller) or ""
        at = call.at.isoformat() if call.at else None
        trace = Trace.system("hotline-webhook").as_dict()
        try:
            if call.event == "call.started":
                recorded = await asyncio.to_thread(
                    app.call_started, call_id=call.call_id, caller=caller,
                    caller_raw=call.caller, at=at, trace=trace, delivery=delivery)
            else:
                recorded = await asyncio.to_thread(
                    app.call_ended, call_id=call.call_id, caller=caller,
                    caller_raw=call.caller, at=at, recording_ref=call.recording_ref,
                    trace=trace, delivery=delivery)
        except ReplayedDelivery:
            raise HTTPException(401, "invalid webhook signature: this signed request was "
                                     "already received (replay)") from None
        return await asyncio.to_thread(_call_out, app, recorded)

    @router.get("/hotline/drafts", response_model=list[CallOut])
    async def hotline_drafts(_: Reader) -> list[CallOut]:
        """Calls not linked to an open request: the agent turns each into a request
        (POST /api/complaints with call_id) or leaves it."""
        def drafts() -> list[CallOut]:
            return [_call_out(app, c) for c in calls.drafts()]

        return await asyncio.to_thread(drafts)

    @router.get("/quarantine")
    async def quarantine(_: Reader) -> list[dict[str, Any]]:
        """Inbound mail kept raw for a human (by sha256 in the quarantine store)."""
        return await asyncio.to_thread(mail_records.records, "quarantined")

    @router.get("/mail-log")
    async def mail_log(_: Reader,
                       outcome: Literal["quarantined", "refused", "ignored"] | None = None
                       ) -> list[dict[str, Any]]:
        """Every inbound mail that became no request: ignored, quarantined or refused."""
        return await asyncio.to_thread(mail_records.records, outcome)

    # ---- the console's queue rows and search (read only) ---------------------------------

    @router.get("/customers")
    async def customers_of(_: Reader, ids: str) -> dict[str, Any]:
        """The customers' names of many requests at once (comma-separated ids, at most
        200: a queue page's rows); unknown and erased requests are absent."""
        try:
            wanted = [uuid.UUID(i.strip()) for i in ids.split(",")[:200] if i.strip()]
        except ValueError:
            raise FieldErrors([("ids", "invalid_ids", "Danh sách mã yêu cầu, cách nhau bằng "
                                "dấu phẩy", "comma-separated request ids")]) from None

        def names() -> dict[str, dict[str, str]]:
            found = {}
            for request_id in wanted:
                try:
                    request = app.get_request(request_id)
                except RequestNotFound:
                    continue
                customer = app.customer_of(request)
                if customer and customer.get("name"):
                    found[str(request_id)] = {"name": str(customer["name"]),
                                              "reference": request.reference}
            return found

        return {"customers": await asyncio.to_thread(names)}

    @router.get("/search")
    async def search(_: Reader, q: str) -> dict[str, Any]:
        """Requests by reference, or by the customer's email, phone number or name (every
        word of it, accents optional) through keyed hashes (``search.SearchIndex``: none
        of these is stored in clear); newest first, at most 200."""
        text = q.strip()[:200]

        def matches() -> list[dict[str, str]]:
            try:
                request = app.find(text.upper())
                return [{"id": str(request.id), "reference": request.reference}]
            except RequestNotFound:
                return index.search(text)

        return {"matches": await asyncio.to_thread(matches)}

    @router.get("/attachments/{request_id}/{sha256}")
    async def attachment(request_id: uuid.UUID, sha256: str, _: Reader,
                         request: Request) -> Response:
        """A document the request or its information came with (the console shows it);
        only a file this request holds."""
        try:
            held = await asyncio.to_thread(app.get_request, request_id)
        except RequestNotFound:
            raise HTTPException(404, f"no request {request_id}") from None
        files = [*(held.details.get("attachments") or ()),
                 *(a for info in held.info for a in (info.get("attachments") or ()))]
        found = next((a for a in files if a.get("sha256") == sha256), None)
        store = request.app.state.mail.attachments
        if found is None or not store.exists(sha256):
            raise HTTPException(404, "no such document for this request")
        data = await asyncio.to_thread(store.read, sha256)
        name = str(found.get("filename") or "tai-lieu").replace('"', "")
        return Response(data, media_type=str(found.get("content_type") or
                                             "application/octet-stream"),
                        headers={"Content-Disposition":
                                 f"attachment; filename*=UTF-8''{quote(name)}",
                                 "X-Content-Type-Options": "nosniff"})

    return router

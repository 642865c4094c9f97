"""Versioned payloads of the events that cross services.

Rules: payload models are frozen; a change that breaks a consumer gets a new
``schema_version`` (a new class) and the JSON-schema snapshot test fails until the
snapshot is renewed on purpose. Personal data lives ONLY in the ``customer`` field of
ComplaintReceived: in v2 (what producers emit) as a ``SealedContact`` — the
``CustomerContact`` JSON sealed with the complaint's data key (``shared/privacy``), so
destroying that key makes every copy on the stream unreadable (crypto-shredding). v1
(``CustomerContact`` in clear) stays registered for events published before sealing.
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Channel = Literal["counter", "hotline", "email", "web"]
RequestKind = Literal["complaint", "advice"]
ReplyMethod = Literal["email", "letter", "phone", "in_person", "sms"]
#: methods a staff member carries out (and records): the words requested are theirs to say,
#: not a text the customer receives
STAFF_GIVEN_METHODS: frozenset[str] = frozenset({"phone", "in_person"})
ClockKind = Literal["filing", "reply", "first_contact", "department", "customer_info"]


class Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    EVENT_TYPE: ClassVar[str]
    SCHEMA_VERSION: ClassVar[int] = 1


class CustomerContact(BaseModel):
    """The only personal data on the wire."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    phone: str | None = None
    email: str | None = None
    address: str | None = None


class SealedContact(BaseModel):
    """A ``CustomerContact`` sealed with the complaint's data key: AES-256-GCM over its
    JSON, the key id bound as associated data (``shared.privacy.sealing``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key_id: str = Field(description="the complaint id: the data key's name")
    nonce: str = Field(description="base64, 12 bytes")
    ciphertext: str = Field(description="base64 AES-GCM ciphertext and tag")


class AttachmentRef(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    filename: str
    content_type: str
    size: int = Field(ge=0)


class ComplaintReceived(Payload):
    EVENT_TYPE: ClassVar[str] = "ComplaintReceived"

    reference: str
    kind: RequestKind
    channel: Channel
    customer: CustomerContact
    product: str | None = None
    category: str | None = None
    incident_date: date | None = None
    received_at: AwareDatetime
    description: str
    order_ref: str | None = None
    attachments: tuple[AttachmentRef, ...] = ()
    taken_by: str | None = None
    filed_late: bool = False
    filing_deadline: date | None = None
    language: Literal["vi", "en"] = "vi"
    inbound_message_id: str | None = None
    #: Set when this type of request must come through another channel (channel rules).
    required_channel: Channel | None = None
    channel_requirement: str | None = None
    #: Where ``incident_date`` came from: stated in a form field ("form") or found in the
    #: customer's own text ("extracted_from_text", an email: ``incident_date_phrase`` is
    #: the words it was read from). None: no incident date, or an event from before.
    incident_date_source: Literal["form", "extracted_from_text"] | None = None
    incident_date_phrase: str | None = None


class ComplaintReceivedV2(ComplaintReceived):
    """v2: the customer's contact is sealed (crypto-shredding); all else as v1."""

    SCHEMA_VERSION: ClassVar[int] = 2

    customer: SealedContact  # type: ignore[assignment]


class InfoRequested(Payload):
    EVENT_TYPE: ClassVar[str] = "InfoRequested"

    reference: str
    items: tuple[str, ...]
    due_date: date
    message: str = ""
    round: int = Field(ge=1)


class InfoProvided(Payload):
    EVENT_TYPE: ClassVar[str] = "InfoProvided"

    reference: str
    channel: Channel
    content: str
    items: tuple[str, ...] = ()
    attachments: tuple[AttachmentRef, ...] = ()
    inbound_message_id: str | None = None


class ReferredToDepartment(Payload):
    EVENT_TYPE: ClassVar[str] = "ReferredToDepartment"

    reference: str
    department: str
    question: str
    internal_due: date | None = None


class DepartmentResponded(Payload):
    EVENT_TYPE: ClassVar[str] = "DepartmentResponded"

    reference: str
    department: str
    result: str
    attachments: tuple[AttachmentRef, ...] = ()


class ReplyRequested(Payload):
    """Routing asks notify to deliver the reply to the customer (step 3)."""

    EVENT_TYPE: ClassVar[str] = "ReplyRequested"

    reference: str
    purpose: Literal["reply", "refusal"] = "reply"
    method: ReplyMethod
    content: str
    language: Literal["vi", "en"] = "vi"


class AcknowledgementSent(Payload):
    EVENT_TYPE: ClassVar[str] = "AcknowledgementSent"

    reference: str
    method: ReplyMethod | Literal["receipt_slip"]
    sent_at: AwareDatetime
    proof: str = Field(description="Message-ID, provider id or receipt number")


class ReplySent(Payload):
    EVENT_TYPE: ClassVar[str] = "ReplySent"

    reference: str
    purpose: Literal["reply", "refusal", "info_request", "reminder"]
    method: ReplyMethod
    sent_at: AwareDatetime
    proof: str
    recorded_by: str | None = None


class NotificationFailed(Payload):
    EVENT_TYPE: ClassVar[str] = "NotificationFailed"

    reference: str
    purpose: str
    method: ReplyMethod | Literal["receipt_slip"]
    reason: str
    attempts: int = Field(ge=1)


class DeliveryBounced(Payload):
    """A bounce of one of our own emails came back to intake."""

    EVENT_TYPE: ClassVar[str] = "DeliveryBounced"

    reference: str
    message_id: str
    reason: str


class CustomerLinkReissued(Payload):
    """Intake revoked the customer's link to their case (staff asked, or it leaked): the
    case's capability generation moved on and links of older generations are refused. The
    holder of the capability keys (notify) sends the customer a link of this generation.
    No secret crosses the wire: the link is made by whoever sends it."""

    EVENT_TYPE: ClassVar[str] = "CustomerLinkReissued"

    reference: str
    generation: int = Field(ge=1, description="the case's new capability generation (0 is "
                                              "the generation of the first link)")


class ComplaintRefused(Payload):
    EVENT_TYPE: ClassVar[str] = "ComplaintRefused"

    reference: str
    reason: Literal["late_filing", "not_eligible", "wrong_channel"]
    explanation: str
    filing_deadline: date | None = None


# Closed, forced closed, or withdrawn: then ``reason`` is ``withdrawn: <why>`` (the
# customer's words, perhaps none: ``withdrawn``). A comment, not the docstring: the
# docstring is the published schema's description.
class ComplaintClosed(Payload):
    EVENT_TYPE: ClassVar[str] = "ComplaintClosed"

    reference: str
    reason: str


def withdrawal_reason(close_reason: str) -> str | None:
    """The customer's reason if ``ComplaintClosed.reason`` says the case was withdrawn
    ("" when they gave none), else None."""
    head, _, why = close_reason.partition(":")
    return why.strip() if head == "withdrawn" else None


class ComplaintReopened(Payload):
    EVENT_TYPE: ClassVar[str] = "ComplaintReopened"

    reference: str
    reason: str


class LateFilingAccepted(Payload):
    """A supervisor reviewed a complaint filed after the filing deadline and accepted it
    (the waiver's reason); the reply clock counts from this decision."""

    EVENT_TYPE: ClassVar[str] = "LateFilingAccepted"

    reference: str
    waiver_reason: str
    filing_deadline: date | None = None
    product: str | None = None
    category: str | None = None


class IncidentDateGiven(Payload):
    """An email complaint received without its incident date: the customer's later
    information states it. The filing window's verdict is as of the complaint's receipt."""

    EVENT_TYPE: ClassVar[str] = "IncidentDateGiven"

    reference: str
    incident_date: date
    filed_late: bool
    filing_deadline: date
    source: Literal["extracted_from_text"] = "extracted_from_text"
    phrase: str | None = None


class LateFilingFound(Payload):
    """The incident date given after receipt shows the complaint was filed late: routing
    put the case under a supervisor's filing review (no reply clock runs meanwhile)."""

    EVENT_TYPE: ClassVar[str] = "LateFilingFound"

    reference: str
    incident_date: date
    filing_deadline: date


class FollowUpReceived(Payload):
    """The customer wrote again about a case that has ended (an email threading into it, a
    message on their page): the case's owner is alerted and a supervisor may reopen it."""

    EVENT_TYPE: ClassVar[str] = "FollowUpReceived"

    reference: str
    channel: Channel
    excerpt: str = Field(max_length=500)
    case_state: Literal["closed", "refused", "withdrawn"]


class WithdrawalRequested(Payload):
    """The customer asked, on their case's page, that the request be withdrawn (they no
    longer want an answer): routing withdraws the case if it is still open."""

    EVENT_TYPE: ClassVar[str] = "WithdrawalRequested"

    reference: str
    reason: str = Field(default="", max_length=2000)


class _Deadline(Payload):
    reference: str
    clock: ClockKind
    last_day: date
    due_at: AwareDatetime
    calendar_version: str


class DeadlineSet(_Deadline):
    EVENT_TYPE: ClassVar[str] = "DeadlineSet"

    working_days: int = Field(ge=0)
    start: date
    rule: str
    explanation: str


class DeadlineApproaching(_Deadline):
    EVENT_TYPE: ClassVar[str] = "DeadlineApproaching"

    working_days_left: int


class DeadlineBreached(_Deadline):
    EVENT_TYPE: ClassVar[str] = "DeadlineBreached"


class DeadlineMet(_Deadline):
    EVENT_TYPE: ClassVar[str] = "DeadlineMet"

    met_at: AwareDatetime


class DeadlineReplanned(_Deadline):
    EVENT_TYPE: ClassVar[str] = "DeadlineReplanned"

    previous_last_day: date
    reason: str


PAYLOAD_TYPES: tuple[type[Payload], ...] = (
    ComplaintReceived,
    ComplaintReceivedV2,
    InfoRequested,
    InfoProvided,
    ReferredToDepartment,
    DepartmentResponded,
    ReplyRequested,
    AcknowledgementSent,
    ReplySent,
    NotificationFailed,
    DeliveryBounced,
    CustomerLinkReissued,
    ComplaintRefused,
    ComplaintClosed,
    ComplaintReopened,
    LateFilingAccepted,
    IncidentDateGiven,
    LateFilingFound,
    FollowUpReceived,
    WithdrawalRequested,
    DeadlineSet,
    DeadlineApproaching,
    DeadlineBreached,
    DeadlineMet,
    DeadlineReplanned,
)

REGISTRY: dict[tuple[str, int], type[Payload]] = {
    (cls.EVENT_TYPE, cls.SCHEMA_VERSION): cls for cls in PAYLOAD_TYPES
}


class UnknownEventType(ValueError):
    pass


def payload_class(event_type: str, schema_version: int) -> type[Payload]:
    try:
        return REGISTRY[(event_type, schema_version)]
    except KeyError:
        raise UnknownEventType(f"no contract for {event_type} v{schema_version}") from None


def parse_payload(event_type: str, schema_version: int, data: dict[str, Any]) -> Payload:
    return payload_class(event_type, schema_version).model_validate(data)

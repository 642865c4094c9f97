"""Notify's aggregates and rules: the customer's contact (personal data, one place), the
acknowledgement waiting for its reply date, a department's referral alert waiting for its
date, one Dispatch per (complaint, purpose, cause) — the recorded intent to send, then its
outcome — and which way a customer message goes.
Pure: no I/O; times are passed in as ISO strings.

Dispatch life cycle::

    pending ──AttemptFailed──▶ pending ──Sent──▶ sent ──Bounced──▶ bounced
       │  └──Failed──▶ failed                                 (email only)
       ├──LetterPrinted──▶ awaiting_post ──Sent (tracking number)──▶ sent
       └──Cancelled (also from awaiting_post)──▶ cancelled ──Sent──▶ sent
                                       (it went out while being cancelled: the truth wins)
    task_open ──Sent (staff outcome: phone / in person)──▶ sent
       └──Failed──▶ failed

A letter counts as sent only once it is posted: the PDF is printed first, and a staff
member records the postal tracking number, which becomes the proof.
"""

from __future__ import annotations

import uuid
from typing import Any

from eventsourcing.domain import Aggregate, event

from hotro.shared.contracts.envelope import HOTRO_NAMESPACE
from hotro.shared.contracts.events import STAFF_GIVEN_METHODS
from hotro.shared.eventstore.topics import register_topics

SENDABLE = ("email", "sms", "letter", "receipt_slip")  # notify sends these itself
#: customer messages a withdrawal makes pointless while they still wait to be sent (the
#: withdrawal's own confirmation, a reply and a refusal are not among them)
MOOT_ONCE_WITHDRAWN = frozenset({"acknowledgement", "info_request", "reminder",
                                 "reply_date_moved", "reopened", "filing_review",
                                 "filing_accepted"})
WITHDRAWN_BEFORE_SENT = "the request was withdrawn before it went"
STAFF_TASK = STAFF_GIVEN_METHODS  # a staff member does it and records the outcome
POSTED = ("letter",)                    # printed by notify, posted by staff


TraceDict = dict[str, str | None]


class DispatchError(Exception):
    """Not possible for this dispatch now; ``code`` and ``params`` say it for a client's
    own words (``delivery_not_open``: it is already sent, failed or bounced)."""

    def __init__(self, message: str, code: str = "dispatch_error", **params: str) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


class Contact(Aggregate):
    TOPIC = "hotro.notify:Contact"

    class Created(Aggregate.Created):
        # Required beside a pinned TOPIC; the decorated __init__ event is stored.
        TOPIC = "hotro.notify:Contact.Created"

    @staticmethod
    def create_id(complaint_id: uuid.UUID) -> uuid.UUID:
        return uuid.uuid5(HOTRO_NAMESPACE, f"notify/contact/{complaint_id}")

    @event("Recorded", topic="hotro.notify:Contact.Recorded")
    def __init__(self, *, complaint_id: uuid.UUID, reference: str, channel: str,
                 customer: dict[str, Any], language: str, inbound_message_id: str | None,
                 received_at: str, incident_date: str | None, product: str | None,
                 trace: TraceDict) -> None:
        self.complaint_id = complaint_id
        self.reference = reference
        self.channel = channel
        self.customer = customer
        self.language = language
        self.inbound_message_id = inbound_message_id
        self.received_at = received_at
        self.incident_date = incident_date
        self.product = product
        self.trace = trace
        self.last_message_id: str | None = inbound_message_id
        self.open_items: list[str] = []
        self.info_due: str | None = None
        #: the staff member handling the case (who last moved it on), for internal alerts
        self.owner: str | None = None
        #: the generation of the customer's link to the case (intake moves it on when it
        #: revokes a link: CustomerLinkReissued); the links notify sends carry it
        self.link_generation = 0

    @event("ThreadAdvanced", topic="hotro.notify:Contact.ThreadAdvanced")
    def thread(self, *, message_id: str, trace: TraceDict) -> None:
        self.last_message_id = message_id

    @event("InfoRequestNoted", topic="hotro.notify:Contact.InfoRequestNoted")
    def note_info_request(self, *, items: list[str], due_date: str,
                          trace: TraceDict) -> None:
        """What the customer was last asked for: the content of a later reminder."""
        self.open_items = list(items)
        self.info_due = due_date

    @event("LinkReissued", topic="hotro.notify:Contact.LinkReissued")
    def _link_reissued(self, *, generation: int, trace: TraceDict) -> None:
        self.link_generation = generation

    def note_link_generation(self, *, generation: int, trace: TraceDict) -> bool:
        """Intake reissued the customer's link: later links carry ``generation``. An older
        or repeated generation changes nothing (False)."""
        if generation <= self.link_generation:
            return False
        self._link_reissued(generation=generation, trace=trace)
        return True

    @event("IncidentDateNoted", topic="hotro.notify:Contact.IncidentDateNoted")
    def note_incident_date(self, *, incident_date: str, trace: TraceDict) -> None:
        """The incident date the customer gave after receipt (a late filing found then):
        a refusal states it."""
        self.incident_date = incident_date

    @event("OwnerNoted", topic="hotro.notify:Contact.OwnerNoted")
    def note_owner(self, *, staff_id: str, trace: TraceDict) -> None:
        """The staff member who last acted on the case in routing: deadline alerts go to
        them (and to the supervisor)."""
        self.owner = staff_id

    #: the department the case was last referred to: its clock's alerts go to it too (a
    #: class default: records stored before it was kept have none)
    referred_to: str | None = None
    #: the Message-ID of our email to the customer that came back undeliverable: later
    #: messages notify routes itself go another way (a class default, as above)
    email_bounced: str | None = None
    #: the customer withdrew the request: messages it makes pointless are not sent (a
    #: class default, as above)
    withdrawn = False

    @event("WithdrawalNoted", topic="hotro.notify:Contact.WithdrawalNoted")
    def _withdrawal_noted(self, *, trace: TraceDict) -> None:
        self.withdrawn = True

    def note_withdrawal(self, *, trace: TraceDict) -> bool:
        """Routing closed the case as withdrawn (False when already noted)."""
        if self.withdrawn:
            return False
        self._withdrawal_noted(trace=trace)
        return True

    def makes_pointless(self, purpose: str) -> bool:
        """A message of ``purpose`` still waiting is not to be sent any more: the request
        was withdrawn and it asks, reminds or promises something of the request."""
        return self.withdrawn and purpose in MOOT_ONCE_WITHDRAWN

    @event("EmailBounced", topic="hotro.notify:Contact.EmailBounced")
    def _email_bounced(self, *, message_id: str, trace: TraceDict) -> None:
        self.email_bounced = message_id

    def route(self, customer: dict[str, Any] | None) -> tuple[str, str]:
        """(method, recipient) of a message notify chooses the way for
        (``customer_route``), past an address our mail bounced from."""
        return customer_route(customer, email_bounced=self.email_bounced is not None)

    def note_email_bounced(self, *, message_id: str, trace: TraceDict) -> bool:
        """An email to the customer bounced: their address does not take our mail. Once
        is enough (False when already noted)."""
        if self.email_bounced is not None:
            return False
        self._email_bounced(message_id=message_id, trace=trace)
        return True

    @event("ReferralNoted", topic="hotro.notify:Contact.ReferralNoted")
    def note_referral(self, *, department: str, trace: TraceDict) -> None:
        self.referred_to = department

    #: the department that still owes its result for the case (None: none does, or the
    #: referral was made before notify kept this)
    awaiting_department: str | None = None

    @event("DepartmentAwaited", topic="hotro.notify:Contact.DepartmentAwaited")
    def await_department(self, *, department: str, trace: TraceDict) -> None:
        self.awaiting_department = department

    @event("DepartmentAnswered", topic="hotro.notify:Contact.DepartmentAnswered")
    def _department_answered(self, *, department: str, trace: TraceDict) -> None:
        self.awaiting_department = None

    def note_department_answer(self, *, department: str, trace: TraceDict) -> bool:
        """The department awaited sent its result; False if it is not the one awaited."""
        if self.awaiting_department != department:
            return False
        self._department_answered(department=department, trace=trace)
        return True

    @event("DepartmentReleased", topic="hotro.notify:Contact.DepartmentReleased")
    def _department_released(self, *, department: str, trace: TraceDict) -> None:
        self.awaiting_department = None

    def release_department(self, *, trace: TraceDict) -> str | None:
        """The case ended while a department still owed its result: that department (to
        be told it need not answer), released; None if no department was awaited."""
        department = self.awaiting_department
        if department is not None:
            self._department_released(department=department, trace=trace)
        return department


class Dispatch(Aggregate):
    TOPIC = "hotro.notify:Dispatch"

    class Created(Aggregate.Created):
        # Required beside a pinned TOPIC; the decorated __init__ event is stored.
        TOPIC = "hotro.notify:Dispatch.Created"

    class Requested(Created):
        TOPIC = "hotro.notify:Dispatch.Requested"
        complaint_id: uuid.UUID
        reference: str
        purpose: str
        method: str
        recipient: Any  # an internal address, or the customer's sealed (or "" if erased)
        language: str
        context: dict[str, Any]
        message_id: str | None
        in_reply_to: str | None
        internal: bool
        trace: TraceDict

    class AttemptFailed(Aggregate.Event):
        TOPIC = "hotro.notify:Dispatch.AttemptFailed"
        reason: str
        trace: TraceDict

    # Sent and Failed carry what the outbox publishes (``Dispatch._published``), so that
    # publishing needs no replay of the aggregate; events stored before lack it (None).
    class Sent(Aggregate.Event):
        TOPIC = "hotro.notify:Dispatch.Sent"
        proof: str
        sent_at: str
        recorded_by: str | None
        summary: str | None
        trace: TraceDict
        complaint_id: uuid.UUID | None = None
        reference: str | None = None
        reported_purpose: str | None = None
        method: str | None = None
        internal: bool | None = None

    class LetterPrinted(Aggregate.Event):
        TOPIC = "hotro.notify:Dispatch.LetterPrinted"
        file: str
        at: str
        trace: TraceDict

    class Failed(Aggregate.Event):
        TOPIC = "hotro.notify:Dispatch.Failed"
        reason: str
        trace: TraceDict
        attempts: int | None = None
        complaint_id: uuid.UUID | None = None
        reference: str | None = None
        reported_purpose: str | None = None
        method: str | None = None
        internal: bool | None = None

    class Bounced(Aggregate.Event):
        TOPIC = "hotro.notify:Dispatch.Bounced"
        reason: str
        at: str
        trace: TraceDict

    class Cancelled(Aggregate.Event):
        """Not to be sent after all (the request was withdrawn before it went)."""
        TOPIC = "hotro.notify:Dispatch.Cancelled"
        reason: str
        trace: TraceDict

    @staticmethod
    def create_id(complaint_id: uuid.UUID, purpose: str, cause: str) -> uuid.UUID:
        return uuid.uuid5(HOTRO_NAMESPACE, f"notify/dispatch/{complaint_id}/{purpose}/{cause}")

    @event(Requested)
    def __init__(self, *, id: uuid.UUID, complaint_id: uuid.UUID,
                 reference: str, purpose: str, method: str,
                 recipient: Any, language: str, context: dict[str, Any],
                 message_id: str | None, in_reply_to: str | None, internal: bool,
                 trace: TraceDict) -> None:
        self.complaint_id = complaint_id
        self.reference = reference
        self.purpose = purpose
        self.method = method
        self.recipient = recipient
        self.language = language
        self.context = context
        self.message_id = message_id
        self.in_reply_to = in_reply_to
        self.internal = internal
        self.trace = trace
        self.status = "task_open" if method in STAFF_TASK else "pending"
        self.attempts = 0
        self.proof: str | None = None
        self.sent_at: str | None = None
        self.recorded_by: str | None = None
        self.summary: str | None = None
        self.letter_file: str | None = None
        self.last_error: str | None = None

    @property
    def is_pending(self) -> bool:
        return self.status == "pending"

    @event(AttemptFailed)
    def _attempt_failed(self, *, reason: str, trace: TraceDict) -> None:
        self.attempts += 1
        self.last_error = reason

    def attempt_failed(self, *, reason: str, trace: TraceDict) -> None:
        if not self.is_pending:
            raise DispatchError(f"dispatch is {self.status}", "delivery_not_open",
                                delivery_status=self.status)
        self._attempt_failed(reason=reason, trace=trace)

    @property
    def reported_purpose(self) -> str:
        """The purpose other services hear of: a staff-written refusal goes out with the
        reply template and is reported as a refusal."""
        return str(self.context.get("wire_purpose", self.purpose))

    def _published(self) -> dict[str, Any]:
        """What the outbox reports beside an outcome's own fields, carried on the outcome
        event so that publishing it needs no replay of the aggregate."""
        return {"complaint_id": self.complaint_id, "reference": self.reference,
                "reported_purpose": self.reported_purpose, "method": self.method,
                "internal": self.internal}

    @event(Sent)
    def _sent(self, *, proof: str, sent_at: str, recorded_by: str | None,
              summary: str | None, trace: TraceDict,
              complaint_id: uuid.UUID | None = None, reference: str | None = None,
              reported_purpose: str | None = None, method: str | None = None,
              internal: bool | None = None) -> None:
        if self.status == "pending":
            self.attempts += 1
        self.status = "sent"
        self.proof = proof
        self.sent_at = sent_at
        self.recorded_by = recorded_by
        self.summary = summary

    def mark_sent(self, *, proof: str, sent_at: str, trace: TraceDict) -> None:
        """The channel took it. Also on a dispatch cancelled while it was being sent: it
        did go."""
        if self.status not in ("pending", "cancelled"):
            raise DispatchError(f"dispatch is {self.status}", "delivery_not_open",
                                delivery_status=self.status)
        if self.method in POSTED:
            raise DispatchError("a letter is sent when it is posted: record the tracking number",
                                "letter_needs_tracking")
        self._sent(proof=proof, sent_at=sent_at, recorded_by=None, summary=None, trace=trace,
                   **self._published())

    @event(LetterPrinted)
    def _letter_printed(self, *, file: str, at: str, trace: TraceDict) -> None:
        self.status = "awaiting_post"
        self.letter_file = file
        self.attempts += 1

    def letter_printed(self, *, file: str, at: str, trace: TraceDict) -> None:
        if self.status != "pending" or self.method not in POSTED:
            raise DispatchError(f"cannot print a {self.method} dispatch that is {self.status}")
        self._letter_printed(file=file, at=at, trace=trace)

    def record_posting(self, *, tracking_number: str, carrier: str | None, staff_id: str,
                       at: str, trace: TraceDict) -> None:
        """Staff posted the printed letter: its tracking number is the proof of delivery."""
        if self.method not in POSTED:
            raise DispatchError(f"a {self.method} dispatch has no postal tracking number",
                                "not_a_letter")
        if self.status != "awaiting_post":
            raise DispatchError(f"letter is {self.status}, not awaiting post",
                                "delivery_not_open", delivery_status=self.status)
        number = tracking_number.strip()
        if not number:
            raise DispatchError("empty tracking number", "tracking_number_blank")
        proof = f"post:{carrier.strip()}:{number}" if carrier and carrier.strip() \
            else f"post:{number}"
        self._sent(proof=proof, sent_at=at, recorded_by=staff_id,
                   summary=f"posted, tracking number {number}", trace=trace,
                   **self._published())

    def record_outcome(self, *, staff_id: str, at: str, summary: str, proof: str,
                       trace: TraceDict) -> None:
        """Phone and in-person replies: the staff member who did it records it."""
        if self.status != "task_open":
            raise DispatchError(f"no open task: dispatch is {self.status}", "delivery_not_open",
                                delivery_status=self.status)
        self._sent(proof=proof, sent_at=at, recorded_by=staff_id, summary=summary, trace=trace,
                   **self._published())

    @event(Failed)
    def _failed(self, *, reason: str, trace: TraceDict,
                attempts: int | None = None, complaint_id: uuid.UUID | None = None,
                reference: str | None = None, reported_purpose: str | None = None,
                method: str | None = None, internal: bool | None = None) -> None:
        self.status = "failed"
        self.last_error = reason

    def fail(self, *, reason: str, trace: TraceDict) -> None:
        if self.status not in ("pending", "task_open", "awaiting_post"):
            raise DispatchError(f"dispatch is {self.status}", "delivery_not_open",
                                delivery_status=self.status)
        self._failed(reason=reason, trace=trace, attempts=self.attempts, **self._published())

    @event(Bounced)
    def _bounced(self, *, reason: str, at: str, trace: TraceDict) -> None:
        self.status = "bounced"
        self.last_error = reason

    def bounce(self, *, reason: str, at: str, trace: TraceDict) -> None:
        """The recipient's mail server sent our email back after accepting it."""
        if self.method != "email" or self.status != "sent":
            raise DispatchError(f"cannot bounce a {self.method} dispatch that is {self.status}")
        self._bounced(reason=reason, at=at, trace=trace)

    @event(Cancelled)
    def _cancelled(self, *, reason: str, trace: TraceDict) -> None:
        self.status = "cancelled"
        self.last_error = reason

    def cancel(self, *, reason: str, trace: TraceDict) -> bool:
        """Not to be sent after all: only a message still waiting (pending, or a letter
        printed and not posted). False, with nothing recorded, once it went, failed or was
        cancelled."""
        if self.status not in ("pending", "awaiting_post"):
            return False
        self._cancelled(reason=reason, trace=trace)
        return True


class Acknowledgement(Aggregate):
    """The acknowledgement owed for one complaint. It promises the reply date, and that date
    is sla's (its reply clock's last day, from the configured policy and calendar). Intake's
    ComplaintReceived and sla's reply DeadlineSet reach notify in either order: whichever
    comes first opens this record, each is noted once, and the acknowledgement's Dispatch is
    requested once both are known — never before the reply date is, never twice."""

    TOPIC = "hotro.notify:Acknowledgement"

    class Created(Aggregate.Created):
        # Required beside a pinned TOPIC; the decorated __init__ event is stored.
        TOPIC = "hotro.notify:Acknowledgement.Created"

    class Opened(Created):
        TOPIC = "hotro.notify:Acknowledgement.Opened"
        complaint_id: uuid.UUID
        trace: TraceDict

    class ReceiptNoted(Aggregate.Event):
        TOPIC = "hotro.notify:Acknowledgement.ReceiptNoted"
        reference: str
        kind: str
        received_at: str
        filed_late: bool
        trace: TraceDict
        #: the channel this type of request must come through (channel rules), if any
        required_channel: str | None = None

    class ReplyDeadlineNoted(Aggregate.Event):
        TOPIC = "hotro.notify:Acknowledgement.ReplyDeadlineNoted"
        last_day: str
        due_at: str
        calendar_version: str
        trace: TraceDict

    class DispatchRequested(Aggregate.Event):
        TOPIC = "hotro.notify:Acknowledgement.DispatchRequested"
        dispatch_id: uuid.UUID
        trace: TraceDict

    class ReopenNoted(Aggregate.Event):
        """Routing reopened the case: its next reply deadline is the reopen's."""
        TOPIC = "hotro.notify:Acknowledgement.ReopenNoted"
        trace: TraceDict

    class ReopenTold(Aggregate.Event):
        TOPIC = "hotro.notify:Acknowledgement.ReopenTold"
        trace: TraceDict
        #: the reopen's reply date, as told (None in events stored before it was kept)
        last_day: str | None = None

    class FilingReviewNoted(Aggregate.Event):
        """Routing found the filing late after receipt: the customer was told it is under
        review; sla's next reply deadline is the supervisor's acceptance."""
        TOPIC = "hotro.notify:Acknowledgement.FilingReviewNoted"
        trace: TraceDict

    class FilingAcceptanceTold(Aggregate.Event):
        TOPIC = "hotro.notify:Acknowledgement.FilingAcceptanceTold"
        trace: TraceDict
        #: the reply date the customer was told (None in events stored before it was kept)
        last_day: str | None = None

    class ReplyDeadlineMoved(Aggregate.Event):
        """sla moved the reply deadline (a newer holiday notice; a paused clock counting
        again). ``told``: the customer already had a date and hears the new one; else the
        acknowledgement, not sent yet, promises the new date."""
        TOPIC = "hotro.notify:Acknowledgement.ReplyDeadlineMoved"
        last_day: str
        told: bool
        trace: TraceDict

    class Answered(Aggregate.Event):
        """The complaint's answer is on its way or given: a reply or a refusal notify was
        asked to deliver, or a reply staff recorded as given by phone or in person."""
        TOPIC = "hotro.notify:Acknowledgement.Answered"
        trace: TraceDict

    class Withheld(Aggregate.Event):
        """The request was withdrawn before its acknowledgement was requested: none is."""
        TOPIC = "hotro.notify:Acknowledgement.Withheld"
        trace: TraceDict

    #: a class default: records stored before withdrawals withheld anything have not
    withheld = False

    #: the reply date the customer was last told (None: not told, or told in an event
    #: stored before dates were kept) and how many moves of it they were told of. Class
    #: defaults: records stored before these existed have neither.
    told_last_day: str | None = None
    moves_told = 0
    #: the reopens noted when the complaint was last answered (None: never answered, or
    #: answered before this was kept)
    answered_after_reopens: int | None = None

    @staticmethod
    def create_id(complaint_id: uuid.UUID) -> uuid.UUID:
        return uuid.uuid5(HOTRO_NAMESPACE, f"notify/acknowledgement/{complaint_id}")

    @event(Opened)
    def __init__(self, *, complaint_id: uuid.UUID, trace: TraceDict) -> None:
        self.complaint_id = complaint_id
        #: what the acknowledgement says of the request (no personal data: the contact
        #: is read, sealed, from the Contact when the dispatch is requested)
        self.receipt: dict[str, Any] | None = None
        self.reply_last_day: str | None = None
        self.dispatch_id: uuid.UUID | None = None
        #: reopens routing announced, and those the customer was told of (with the
        #: reopen's reply date): a reopen is told even when its date equals the last one
        self.reopens = 0
        self.reopens_told = 0
        #: a late filing found after receipt, under review: its acceptance is still untold
        self.found_late_untold = False

    @property
    def is_due(self) -> bool:
        """Both halves are known (a late filing has no reply date: it is acknowledged as
        under review) and the dispatch is not requested yet."""
        return (self.receipt is not None and self.dispatch_id is None and not self.withheld
                and (self.reply_last_day is not None or bool(self.receipt["filed_late"])))

    @property
    def sent_under_review(self) -> bool:
        """Acknowledged as a late filing under review, with no reply date yet."""
        return (self.dispatch_id is not None and self.receipt is not None
                and bool(self.receipt["filed_late"]) and self.reply_last_day is None)

    @event(ReceiptNoted)
    def _receipt_noted(self, *, reference: str, kind: str, received_at: str,
                       filed_late: bool, trace: TraceDict,
                       required_channel: str | None = None) -> None:
        self.receipt = {"reference": reference, "kind": kind, "received_at": received_at,
                        "filed_late": filed_late, "required_channel": required_channel}

    def note_receipt(self, *, reference: str, kind: str, received_at: str, filed_late: bool,
                     trace: TraceDict, required_channel: str | None = None) -> None:
        if self.receipt is not None:
            raise DispatchError("the complaint's receipt is already noted")
        self._receipt_noted(reference=reference, kind=kind, received_at=received_at,
                            filed_late=filed_late, trace=trace,
                            required_channel=required_channel)

    @event(ReplyDeadlineNoted)
    def _reply_deadline_noted(self, *, last_day: str, due_at: str, calendar_version: str,
                              trace: TraceDict) -> None:
        self.reply_last_day = last_day
        if self.dispatch_id is not None:  # acknowledged under review: told on acceptance
            self.told_last_day = last_day

    def note_reply_deadline(self, *, last_day: str, due_at: str, calendar_version: str,
                            trace: TraceDict) -> None:
        """sla's reply deadline: the first one stands (it is the one the customer is told)."""
        if self.reply_last_day is not None:
            raise DispatchError("the reply deadline is already noted")
        self._reply_deadline_noted(last_day=last_day, due_at=due_at,
                                   calendar_version=calendar_version, trace=trace)

    @event(DispatchRequested)
    def _dispatch_requested(self, *, dispatch_id: uuid.UUID,
                            trace: TraceDict) -> None:
        self.dispatch_id = dispatch_id
        self.told_last_day = self.reply_last_day

    def dispatch_requested(self, *, dispatch_id: uuid.UUID,
                           trace: TraceDict) -> None:
        if not self.is_due:
            raise DispatchError("the acknowledgement is not due")
        self._dispatch_requested(dispatch_id=dispatch_id, trace=trace)

    @event(Withheld)
    def _withheld(self, *, trace: TraceDict) -> None:
        self.withheld = True

    def withhold(self, *, trace: TraceDict) -> bool:
        """The request was withdrawn before the acknowledgement was requested: it never
        is. False when it was requested already (its dispatch may still be cancelled) or
        withheld before."""
        if self.dispatch_id is not None or self.withheld:
            return False
        self._withheld(trace=trace)
        return True

    @event(ReopenNoted)
    def note_reopen(self, *, trace: TraceDict) -> None:
        self.reopens += 1

    @property
    def reopen_untold(self) -> bool:
        return self.reopens > self.reopens_told

    @event(ReopenTold)
    def _reopen_told(self, *, trace: TraceDict, last_day: str | None = None) -> None:
        self.reopens_told = self.reopens
        self.told_last_day = last_day

    def reopen_told(self, *, last_day: str, trace: TraceDict) -> None:
        if not self.reopen_untold:
            raise DispatchError("no reopen waits to be told")
        self._reopen_told(trace=trace, last_day=last_day)

    @event(FilingReviewNoted)
    def _filing_review_noted(self, *, trace: TraceDict) -> None:
        self.found_late_untold = True

    def note_filing_review(self, *, trace: TraceDict) -> bool:
        """False if already noted (the same finding announced twice tells nothing new)."""
        if self.found_late_untold:
            return False
        self._filing_review_noted(trace=trace)
        return True

    @event(FilingAcceptanceTold)
    def _filing_acceptance_told(self, *, trace: TraceDict,
                                last_day: str | None = None) -> None:
        self.found_late_untold = False
        self.told_last_day = last_day

    def filing_acceptance_told(self, *, last_day: str, trace: TraceDict) -> None:
        self._filing_acceptance_told(trace=trace, last_day=last_day)

    def move_reply_deadline(self, *, last_day: str, previous_last_day: str,
                            trace: TraceDict) -> str | None:
        """sla moved the reply deadline from ``previous_last_day`` to ``last_day``. The
        date the customer was told, when they are to hear the new one: they were told a
        date and it was not this one (a date told in an event that did not keep it is
        taken to be sla's previous one). Before the acknowledgement is requested it will
        promise the new date instead; with no reply date noted (a late filing under
        review, whose clock is stopped) there is nothing to move. Once the answer is on its
        way (sla has not yet heard it was sent and still counts) a new date tells the
        customer nothing: it would follow the answer it has made moot."""
        if self.reply_last_day is None:
            return None
        if self.dispatch_id is None:
            if last_day != self.reply_last_day:
                self._reply_deadline_moved(last_day=last_day, told=False, trace=trace)
            return None
        if self.answered:
            return None
        told = self.told_last_day or previous_last_day
        if last_day == told:
            return None
        self._reply_deadline_moved(last_day=last_day, told=True, trace=trace)
        return told

    @property
    def answered(self) -> bool:
        """Answered since the last reopen (or at all, when never reopened)."""
        return self.answered_after_reopens == self.reopens

    @event(Answered)
    def _answered(self, *, trace: TraceDict) -> None:
        self.answered_after_reopens = self.reopens

    def note_answer(self, *, trace: TraceDict) -> bool:
        """False if already answered in this round (a reply requested again after a
        failed delivery, a refusal's delivery recorded too)."""
        if self.answered:
            return False
        self._answered(trace=trace)
        return True

    @event(ReplyDeadlineMoved)
    def _reply_deadline_moved(self, *, last_day: str, told: bool, trace: TraceDict) -> None:
        if told:
            self.told_last_day = last_day
            self.moves_told += 1
        else:
            self.reply_last_day = last_day

    def context(self, *, customer_name: str | None) -> dict[str, Any]:
        """What the acknowledgement template is given."""
        if self.receipt is None or (self.reply_last_day is None
                                    and not self.receipt["filed_late"]):
            raise DispatchError("the acknowledgement is not due")
        return {"reference": self.receipt["reference"], "kind": self.receipt["kind"],
                "under_review": self.reply_last_day is None,
                "customer_name": customer_name, "received_at": self.receipt["received_at"],
                "reply_deadline": self.reply_last_day,
                "filed_late": self.receipt["filed_late"],
                "request_kind": self.receipt["kind"],
                "required_channel": self.receipt.get("required_channel")}


# ---- which way a customer message goes ----------------------------------------------------

#: how to acknowledge when the customer's contact is already erased (no recipient: the
#: dispatch then fails with reason "erased")
_ERASED_ROUTE = {"counter": "receipt_slip", "hotline": "sms"}


class ReferralAlert(Aggregate):
    """The alert owed to a department for one referral. It states the date by which the
    department is to send its result: the one staff gave, else the department clock's last
    day, which is sla's (its policy and calendar). Routing's ReferredToDepartment and sla's
    DeadlineSet of that referral's clock (caused by it: the envelope's causation id) reach
    notify in either order; the alert's Dispatch is requested once both the referral and
    a date are known, once."""

    TOPIC = "hotro.notify:ReferralAlert"

    class Created(Aggregate.Created):
        # Required beside a pinned TOPIC; the decorated __init__ event is stored.
        TOPIC = "hotro.notify:ReferralAlert.Created"

    class Opened(Created):
        TOPIC = "hotro.notify:ReferralAlert.Opened"
        complaint_id: uuid.UUID
        referral_event_id: uuid.UUID
        trace: TraceDict

    class ReferralNoted(Aggregate.Event):
        TOPIC = "hotro.notify:ReferralAlert.ReferralNoted"
        reference: str
        department: str
        question: str
        referred_by: str | None
        internal_due: str | None
        trace: TraceDict

    class DueDateNoted(Aggregate.Event):
        TOPIC = "hotro.notify:ReferralAlert.DueDateNoted"
        last_day: str
        trace: TraceDict

    class DispatchRequested(Aggregate.Event):
        TOPIC = "hotro.notify:ReferralAlert.DispatchRequested"
        dispatch_id: uuid.UUID
        trace: TraceDict

    @staticmethod
    def create_id(complaint_id: uuid.UUID, referral_event_id: uuid.UUID) -> uuid.UUID:
        return uuid.uuid5(HOTRO_NAMESPACE,
                          f"notify/referral-alert/{complaint_id}/{referral_event_id}")

    @event(Opened)
    def __init__(self, *, complaint_id: uuid.UUID, referral_event_id: uuid.UUID,
                 trace: TraceDict) -> None:
        self.complaint_id = complaint_id
        self.referral_event_id = referral_event_id
        self.referral: dict[str, Any] | None = None
        self.clock_last_day: str | None = None
        self.dispatch_id: uuid.UUID | None = None

    @property
    def due_date(self) -> str | None:
        """The date the department is told: the one staff gave, else the clock's."""
        given = self.referral["internal_due"] if self.referral else None
        return given or self.clock_last_day

    @property
    def is_due(self) -> bool:
        return (self.referral is not None and self.due_date is not None
                and self.dispatch_id is None)

    @event(ReferralNoted)
    def _referral_noted(self, *, reference: str, department: str, question: str,
                        referred_by: str | None, internal_due: str | None,
                        trace: TraceDict) -> None:
        self.referral = {"reference": reference, "department": department,
                         "question": question, "referred_by": referred_by,
                         "internal_due": internal_due}

    def note_referral(self, *, reference: str, department: str, question: str,
                      referred_by: str | None, internal_due: str | None,
                      trace: TraceDict) -> None:
        if self.referral is not None:
            raise DispatchError("the referral is already noted")
        self._referral_noted(reference=reference, department=department, question=question,
                             referred_by=referred_by, internal_due=internal_due, trace=trace)

    @event(DueDateNoted)
    def _due_date_noted(self, *, last_day: str, trace: TraceDict) -> None:
        self.clock_last_day = last_day

    def note_clock(self, *, last_day: str, trace: TraceDict) -> bool:
        """sla's department clock for this referral. False, noting nothing, when it
        changes nothing: already noted, or the alert already requested."""
        if self.clock_last_day is not None or self.dispatch_id is not None:
            return False
        self._due_date_noted(last_day=last_day, trace=trace)
        return True

    @event(DispatchRequested)
    def _dispatch_requested(self, *, dispatch_id: uuid.UUID, trace: TraceDict) -> None:
        self.dispatch_id = dispatch_id

    def dispatch_requested(self, *, dispatch_id: uuid.UUID, trace: TraceDict) -> None:
        if not self.is_due:
            raise DispatchError("the referral alert is not due")
        self._dispatch_requested(dispatch_id=dispatch_id, trace=trace)

    def context(self) -> dict[str, Any]:
        """What the alert template is given."""
        if self.referral is None:
            raise DispatchError("the referral is not noted")
        return {"reference": self.referral["reference"],
                "department": self.referral["department"],
                "referred_by": self.referral["referred_by"],
                "summary": self.referral["question"], "due_date": self.due_date}


def acknowledgement_route(channel: str, customer: dict[str, Any] | None) -> tuple[str, str]:
    """(method, recipient): the acknowledgement goes back through the channel the request
    came in on."""
    if customer is None:
        return _ERASED_ROUTE.get(channel, "email"), ""
    name, phone, email = customer.get("name") or "", customer.get("phone"), \
        customer.get("email")
    if channel == "counter":
        return "receipt_slip", name
    if channel == "hotline" and phone:
        return "sms", phone
    if email:
        return "email", email
    if phone:
        return "sms", phone
    return "receipt_slip", name


def customer_route(customer: dict[str, Any] | None, *,
                   email_bounced: bool = False) -> tuple[str, str]:
    """(method, recipient) of a message notify chooses the way for: email, else SMS, else
    a letter. An address our mail bounced from comes after the phone and the postal
    address (still better than a letter with no address)."""
    if customer is None:
        return "email", ""
    if customer.get("email") and not email_bounced:
        return "email", customer["email"]
    if customer.get("phone"):
        return "sms", customer["phone"]
    if customer.get("email") and not customer.get("address"):
        return "email", customer["email"]
    return "letter", str(customer.get("address") or customer.get("name", ""))


def recipient_for(method: str, customer: dict[str, Any] | None) -> str:
    """The recipient of a message whose method staff chose."""
    if customer is None:
        return ""
    return str({"email": customer.get("email"), "sms": customer.get("phone"),
                "phone": customer.get("phone"), "letter": customer.get("address"),
                "in_person": customer.get("name")}.get(method) or customer.get("name", ""))


register_topics(Contact, Dispatch, legacy_module="services.notify.domain")
register_topics(Acknowledgement)
register_topics(ReferralAlert)

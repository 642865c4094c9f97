"""A customer request as it was received, and what happened to it in intake since."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from eventsourcing.domain import Aggregate, event


class Request(Aggregate):
    """One customer request (complaint or advice) as it was received, plus later info.

    Personal data: ``customer`` is the contact sealed with the complaint's data key
    (``shared.privacy``; a plain dict only in events stored before sealing);
    ``contact_hashes`` holds keyed hashes (HMAC) of the email and E.164 phone for
    equality checks (threading by sender) without the data itself."""

    TOPIC = "hotro.intake:Request"

    class Created(Aggregate.Created):
        # Required beside a pinned TOPIC; the decorated __init__ event is stored.
        TOPIC = "hotro.intake:Request.Created"

    if TYPE_CHECKING:  # the classes @event makes at run time that typed code reads
        class Received(Aggregate.Created):
            reference: str
            kind: str
            channel: str
            customer: dict[str, Any]
            details: dict[str, Any]
            received_at: str
            filed_late: bool
            filing_deadline: str | None
            contact_hashes: dict[str, str] | None  # absent in events stored before

        class InfoProvided(Aggregate.Event):
            reference: str
            channel: str
            content: str
            items: list[str]
            attachments: list[dict[str, Any]]
            inbound_message_id: str | None
            mail_auth: dict[str, Any] | None  # absent in events stored before
            idempotency: dict[str, str] | None  # absent in events stored before

        class DeliveryBounced(Aggregate.Event):
            reference: str
            message_id: str
            reason: str

        class DeliveryDelayed(Aggregate.Event):
            reference: str
            message_id: str
            reason: str
            will_retry_until: str | None
            notice_message_id: str

        class CapabilityRevoked(Aggregate.Event):
            reference: str
            generation: int
            reason: str

        class ProgressNoted(Aggregate.Event):
            step: str
            at: str
            items: list[str]
            due_date: str | None

        class ReplyNoted(Aggregate.Event):
            purpose: str
            method: str
            content: str
            language: str

        class RefusalNoted(Aggregate.Event):
            reason: str
            explanation: str
            filing_deadline: str | None

        class Closed(Aggregate.Event):
            reason: str

        class IncidentDateGiven(Aggregate.Event):
            incident_date: str
            phrase: str | None
            filing_deadline: str
            filed_late: bool
            reference: str | None  # absent in events stored before it was published

        class Reopened(Aggregate.Event):
            reason: str

        class WithdrawalAsked(Aggregate.Event):
            reference: str
            reason: str

        class Erased(Aggregate.Event):
            reason: str
            requested_by: str
            fields: list[str]

    @event("Received", topic="hotro.intake:Request.Received")
    def __init__(self, *, id: uuid.UUID, reference: str, kind: str, channel: str,
                 customer: dict[str, Any],
                 details: dict[str, Any], received_at: str, filed_late: bool,
                 filing_deadline: str | None, trace: dict[str, str | None],
                 contact_hashes: dict[str, str] | None = None) -> None:
        self.reference = reference
        self.kind = kind
        self.channel = channel
        self.customer = customer
        self.contact_hashes = contact_hashes or {}
        self.details = details
        self.received_at = received_at
        self.filed_late = filed_late
        self.filing_deadline = filing_deadline
        self.trace = trace
        self.info: list[dict[str, Any]] = []
        #: an HTTP caller's idempotency key (its id) → the fingerprint of the information
        #: it first brought: a retry after an unknown outcome adds nothing
        self.info_keys: dict[str, str] = {}
        self.message_ids: list[str] = []
        self.bounces: list[dict[str, str]] = []
        #: delivery status notices saying one of our emails is only delayed (not bounced)
        self.delays: list[dict[str, str | None]] = []
        self.calls: list[dict[str, Any]] = []
        self.closed = False
        self.erased = False
        #: the customer link's generation: a link of another generation is refused
        #: (0 for every case until its links are first revoked, old cases included)
        self.capability_generation = 0
        #: possible duplicates (``domain/duplicates.py``): the earlier request's id ->
        #: its reference, what matched and the staff decision (possible, merged, dismissed)
        self.duplicates: dict[str, dict[str, Any]] = {}
        #: this request was confirmed a duplicate of, and merged into, that reference
        self.merged_into: str | None = None
        #: the later requests confirmed duplicates of this one and merged into it
        self.merged_from: list[str] = []
        #: an email complaint without an incident date: the date the customer gave later
        #: (read from their information) and the filing verdict it gives
        self.incident_date_given: dict[str, Any] | None = None

    @event("InfoProvided", topic="hotro.intake:Request.InfoProvided")
    def provide_info(self, *, reference: str, channel: str, content: str, items: list[str],
                     attachments: list[dict[str, Any]], inbound_message_id: str | None,
                     trace: dict[str, str | None],
                     mail_auth: dict[str, Any] | None = None,
                     mail: dict[str, Any] | None = None,
                     idempotency: dict[str, str] | None = None) -> None:
        """``mail_auth``: for an email, what vouched for its sender (SPF/DKIM/DMARC as our
        receiving host or our own DKIM check saw them); absent in events stored before.
        ``mail``: for an email, what staff should know about how it was read (notes,
        refused attachments, the raw message kept) — ``adapters/inbound_mail.py``.
        ``idempotency``: an HTTP caller's key (``key_id``) and the information's
        ``fingerprint``; absent in events stored before and for email (its Message-ID)."""
        self.info.append({"channel": channel, "content": content, "items": items,
                          "attachments": attachments, **({"mail": mail} if mail else {})})
        if idempotency:
            self.info_keys[idempotency["key_id"]] = idempotency["fingerprint"]

    @event("OutboundMessageLinked", topic="hotro.intake:Request.OutboundMessageLinked")
    def link_outbound_message(self, *, message_id: str, trace: dict[str, str | None]) -> None:
        """Remember a Message-ID we sent about this request, so replies thread back."""
        self.message_ids.append(message_id)

    def has_outbound_message(self, message_id: str) -> bool:
        return message_id in self.message_ids

    @event("DeliveryBounced", topic="hotro.intake:Request.DeliveryBounced")
    def record_bounce(self, *, reference: str, message_id: str, reason: str,
                      bounce_message_id: str, trace: dict[str, str | None]) -> None:
        """A bounce of one of our own emails about this request came back."""
        self.bounces.append({"message_id": message_id, "reason": reason,
                             "bounce_message_id": bounce_message_id})

    @event("DeliveryDelayed", topic="hotro.intake:Request.DeliveryDelayed")
    def record_delay(self, *, reference: str, message_id: str, reason: str,
                     will_retry_until: str | None, notice_message_id: str,
                     trace: dict[str, str | None]) -> None:
        """A delivery status notice says one of our emails about this request is delayed
        (RFC 3464 ``Action: delayed``): the sending server still retries — not a bounce."""
        self.delays.append({"message_id": message_id, "reason": reason,
                            "will_retry_until": will_retry_until,
                            "notice_message_id": notice_message_id})

    def link_call(self, *, call_id: str, caller: Any, at: str | None,
                  trace: dict[str, str | None]) -> None:
        """``caller``: the number sealed with the request's data key."""
        if any(c["call_id"] == call_id for c in self.calls):
            raise ValueError(f"call {call_id} is already linked to {self.reference}")
        self._link_call(call_id=call_id, caller=caller, at=at, trace=trace)

    @event("CallLinked", topic="hotro.intake:Request.CallLinked")
    def _link_call(self, *, call_id: str, caller: Any, at: str | None,
                   trace: dict[str, str | None]) -> None:
        self.calls.append({"call_id": call_id, "caller": caller, "at": at})

    @event("Closed", topic="hotro.intake:Request.Closed")
    def mark_closed(self, *, reason: str, trace: dict[str, str | None]) -> None:
        """Routing closed or refused it: a hotline call no longer links here."""
        self.closed = True

    @event("Reopened", topic="hotro.intake:Request.Reopened")
    def mark_reopened(self, *, reason: str, trace: dict[str, str | None]) -> None:
        self.closed = False
        self.withdrawal_asked = False  # a reopened case may be withdrawn again

    #: the customer asked on their page to withdraw the request (since it was last opened;
    #: a class default: requests stored before it was kept have not)
    withdrawal_asked = False

    def ask_withdrawal(self, *, reason: str, trace: dict[str, str | None]) -> bool:
        """The customer no longer wants an answer (routing withdraws the case). False if
        they already asked since the case was last opened: nothing is recorded again."""
        if self.withdrawal_asked:
            return False
        self._withdrawal_asked(reference=self.reference, reason=reason, trace=trace)
        return True

    @event("WithdrawalAsked", topic="hotro.intake:Request.WithdrawalAsked")
    def _withdrawal_asked(self, *, reference: str, reason: str,
                          trace: dict[str, str | None]) -> None:
        self.withdrawal_asked = True

    def revoke_capabilities(self, *, reason: str, trace: dict[str, str | None]) -> int:
        """Every customer link issued so far stops working; returns the new generation
        (published as CustomerLinkReissued: notify sends the customer a link of it)."""
        self._revoke_capabilities(reference=self.reference,
                                  generation=self.capability_generation + 1, reason=reason,
                                  trace=trace)
        return self.capability_generation

    @event("CapabilityRevoked", topic="hotro.intake:Request.CapabilityRevoked")
    def _revoke_capabilities(self, *, reference: str, generation: int, reason: str,
                             trace: dict[str, str | None]) -> None:
        self.capability_generation = generation

    def note_progress(self, *, step: str, at: str, trace: dict[str, str | None],
                      items: list[str] | None = None, due_date: str | None = None) -> None:
        """What another service did with the case that its customer may know (``STEPS``),
        for the customer's status page; never the department's or staff's internals."""
        if step not in STEPS:
            raise ValueError(f"unknown progress step {step!r}")
        self._note_progress(step=step, at=at, items=list(items or ()), due_date=due_date,
                            trace=trace)

    @event("ProgressNoted", topic="hotro.intake:Request.ProgressNoted")
    def _note_progress(self, *, step: str, at: str, items: list[str], due_date: str | None,
                       trace: dict[str, str | None]) -> None:
        pass

    @event("ReplyNoted", topic="hotro.intake:Request.ReplyNoted")
    def note_reply(self, *, purpose: str, method: str, content: str, language: str,
                   trace: dict[str, str | None]) -> None:
        """The words of a reply (or refusal) routing asked to be delivered: the customer's
        page shows them, so an answer that never reached the customer (a bounced email, a
        lost letter) can still be read there."""

    @event("RefusalNoted", topic="hotro.intake:Request.RefusalNoted")
    def note_refusal(self, *, reason: str, explanation: str, filing_deadline: str | None,
                     trace: dict[str, str | None]) -> None:
        """Why routing did not take the request up, as the refusal letter tells the
        customer: their page says it too."""

    @event("Erased", topic="hotro.intake:Request.Erased")
    def record_erasure(self, *, reason: str, requested_by: str, fields: list[str],
                       trace: dict[str, str | None]) -> None:
        """The customer's personal data was erased (its data key destroyed): who and why
        stay in the history; the sealed data itself becomes unreadable everywhere."""
        self.erased = True

    @property
    def awaits_incident_date(self) -> bool:
        """An email complaint received without a usable incident date, none given since."""
        source = self.details.get("incident_date_source") or {}
        return (self.kind == "complaint" and self.details.get("incident_date") is None
                and source.get("source") == "not_found" and self.incident_date_given is None)

    @event("IncidentDateGiven", topic="hotro.intake:Request.IncidentDateGiven")
    def record_incident_date(self, *, incident_date: str, phrase: str | None, rule: str | None,
                             filing_deadline: str, filed_late: bool,
                             trace: dict[str, str | None], reference: str | None = None
                             ) -> None:
        """The customer's information states the incident date the complaint lacked: the
        filing window applied to it, judged at the complaint's receipt. ``reference``
        names the case on the wire (None: stored before it was published)."""
        self.incident_date_given = {"incident_date": incident_date, "phrase": phrase,
                                    "rule": rule, "filing_deadline": filing_deadline,
                                    "filed_late": filed_late}

    # ---- possible duplicates (``domain/duplicates.py``) --------------------------------

    @event("PossibleDuplicatesFound", topic="hotro.intake:Request.PossibleDuplicatesFound")
    def flag_possible_duplicates(self, *, candidates: list[dict[str, Any]], window_days: int,
                                 trace: dict[str, str | None]) -> None:
        """Earlier requests of the same customer about the same product or order, received
        within ``window_days``: staff confirm (merge) or dismiss each."""
        for candidate in candidates:
            self.duplicates[str(candidate["request_id"])] = {**candidate,
                                                              "status": "possible"}

    def confirm_duplicate(self, other: Request, *, reason: str,
                          trace: dict[str, str | None]) -> None:
        """Staff confirm: this request is merged into ``other`` (the earlier one), which
        records the merge too (``absorb_duplicate``)."""
        self._check_open_link(other)
        self._merged_into(other_request_id=str(other.id), other_reference=other.reference,
                          reason=reason, trace=trace)

    def absorb_duplicate(self, later: Request, *, reason: str,
                         trace: dict[str, str | None]) -> None:
        self._absorbed(other_request_id=str(later.id), other_reference=later.reference,
                       reason=reason, trace=trace)

    def dismiss_duplicate(self, other: Request, *, reason: str,
                          trace: dict[str, str | None]) -> None:
        """Staff dismiss: not the same matter; the link stays, marked dismissed."""
        self._check_open_link(other)
        self._duplicate_dismissed(other_request_id=str(other.id),
                                  other_reference=other.reference, reason=reason,
                                  trace=trace)

    def _check_open_link(self, other: Request) -> None:
        link = self.duplicates.get(str(other.id))
        if link is None:
            raise LookupError(f"{other.reference} is not a possible duplicate of "
                              f"{self.reference}")
        if link["status"] != "possible" or self.merged_into is not None:
            raise ValueError(f"the link {self.reference} -> {other.reference} was already "
                             f"decided ({link['status']})")

    @event("DuplicateMerged", topic="hotro.intake:Request.DuplicateMerged")
    def _merged_into(self, *, other_request_id: str, other_reference: str, reason: str,
                     trace: dict[str, str | None]) -> None:
        self.duplicates[other_request_id]["status"] = "merged"
        self.merged_into = other_reference

    @event("DuplicateAbsorbed", topic="hotro.intake:Request.DuplicateAbsorbed")
    def _absorbed(self, *, other_request_id: str, other_reference: str, reason: str,
                  trace: dict[str, str | None]) -> None:
        self.merged_from.append(other_reference)

    @event("DuplicateDismissed", topic="hotro.intake:Request.DuplicateDismissed")
    def _duplicate_dismissed(self, *, other_request_id: str, other_reference: str,
                             reason: str, trace: dict[str, str | None]) -> None:
        self.duplicates[other_request_id]["status"] = "dismissed"


#: Progress of a case seen from the customer's side, noted from other services' events:
#: acknowledged (notify), reply_deadline (sla: the reply clock's last day, in
#: ``due_date``), info_requested (routing: ``items`` asked, ``due_date``), info_received
#: (routing: handed in to staff), info_window_lapsed (sla: the customer's clock ran out),
#: referred and department_responded (routing; which department is not kept), answered
#: (a reply was delivered).
STEPS = frozenset({"acknowledged", "reply_deadline", "info_requested", "info_received",
                   "info_window_lapsed", "referred", "department_responded", "answered"})

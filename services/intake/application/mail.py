"""Email threading: which request a reply claims to belong to and whether its sender may
add to it, the Message-IDs we sent, bounces and delays of our own mail, and a record of
every inbound mail that became no request.

A message joins a case only when its sender is the case's contact: the SMTP envelope
sender AND the header From both match the case's email (compared as keyed hashes, as
received: a punycode domain is never decoded to match). Otherwise the adapter files it as
a new case flagged ``sender_mismatch`` that names the case it claimed; the claimed case is
left unchanged."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from hotro.services.intake.application.base import RequestNotFound
from hotro.services.intake.application.personal_data import PersonalData
from hotro.services.intake.domain import MailRecord, MessageIndex, Request


@dataclass(frozen=True)
class ThreadClaim:
    """A case an inbound message says it continues, and how it says so."""

    request: Request
    via: str  # "in-reply-to" | "references" | "subject"


class MailThreading(PersonalData):
    def thread_claims(self, *, in_reply_to: str | None, references: Sequence[str],
                      reference_in_subject: str | None) -> list[ThreadClaim]:
        """The cases a message claims, strongest first: In-Reply-To, then References
        (newest first) naming one of our messages or an earlier mail on the case, then a
        reference in the subject. Each case once."""
        claims: list[ThreadClaim] = []
        seen: set[uuid.UUID] = set()
        candidates = [(in_reply_to, "in-reply-to")] if in_reply_to else []
        candidates += [(m, "references") for m in reversed(references)]
        for message_id, via in candidates:
            index = self.message_index(message_id)
            if index is None or index.request_id is None or index.request_id in seen:
                continue
            request = self._request_or_none(index.request_id)
            if request is not None:
                seen.add(request.id)
                claims.append(ThreadClaim(request, via))
        if reference_in_subject:
            try:
                request = self.find(reference_in_subject)
            except RequestNotFound:
                return claims
            if request.id not in seen:
                claims.append(ThreadClaim(request, "subject"))
        return claims

    def sender_mismatch(self, request: Request, *, envelope_from: str, header_from: str,
                        dmarc_failed: bool = False) -> str | None:
        """None when the message's sender is the case's contact — its envelope sender and
        its header From both equal the case's email — else why not."""
        if not request.contact_hashes.get("email") and not _clear_email(request):
            return "case_has_no_email"
        header_ok = self.same_sender(request, header_from)
        envelope_ok = self.same_sender(request, envelope_from)
        if not header_ok and not envelope_ok:
            return "sender_differs"
        if not header_ok:
            return "header_from_differs"
        if not envelope_ok:
            return "envelope_sender_differs"
        if dmarc_failed:
            return "dmarc_fail"
        return None

    def sent_message(self, message_ids: Iterable[str]) -> tuple[str, uuid.UUID] | None:
        """The first of these Message-IDs that we sent about a request, with the request."""
        for message_id in message_ids:
            index = self.message_index(message_id)
            if index is not None and index.direction == "out" and index.request_id is not None:
                return message_id, index.request_id
        return None

    def new_sent_message(self, request_id: uuid.UUID, message_id: str,
                         trace: dict[str, str | None]) -> MessageIndex | None:
        """The index of a Message-ID notify sent for a request; None if known already."""
        try:
            self.repository.get(MessageIndex.create_id(message_id))
            return None
        except AggregateNotFoundError:
            pass
        return MessageIndex(message_id=message_id, request_id=request_id, direction="out",
                            trace=trace)

    def record_bounce(self, request_id: uuid.UUID, *, message_id: str, reason: str,
                      bounce_message_id: str, trace: dict[str, str | None]) -> str:
        """A bounce of our `message_id`: recorded on its request (DeliveryBounced)."""
        request = self.get_request(request_id)
        request.record_bounce(reference=request.reference, message_id=message_id,
                              reason=reason, bounce_message_id=bounce_message_id, trace=trace)
        self.save(request, MessageIndex(message_id=bounce_message_id, request_id=request_id,
                                        direction="in", trace=trace))
        return request.reference

    def record_delay(self, request_id: uuid.UUID, *, message_id: str, reason: str,
                     will_retry_until: str | None, notice_message_id: str,
                     trace: dict[str, str | None]) -> str:
        """A delivery status notice saying our `message_id` is delayed, still being retried
        (RFC 3464 ``Action: delayed``): recorded on its request as a delay, not a bounce
        (nothing is published: nobody has to act yet; a later failure comes as a bounce)."""
        request = self.get_request(request_id)
        request.record_delay(reference=request.reference, message_id=message_id,
                             reason=reason, will_retry_until=will_retry_until,
                             notice_message_id=notice_message_id, trace=trace)
        self.save(request, MessageIndex(message_id=notice_message_id, request_id=request_id,
                                        direction="in", trace=trace))
        return request.reference

    def record_mail(self, *, outcome: str, reason_code: str, reason_text: str,
                    raw_sha256: str, message_id: str | None, envelope_from: str,
                    from_address: str | None, subject: str | None, size: int,
                    trace: dict[str, str | None]) -> bool:
        """Record mail that became no request. False if these bytes were recorded already."""
        key_id = MailRecord.key_id(raw_sha256)
        record = MailRecord(
            outcome=outcome, reason_code=reason_code, reason_text=reason_text,
            raw_sha256=raw_sha256, message_id=message_id,
            envelope_from=self._seal_value(key_id, envelope_from),
            from_address=self._seal_value(key_id, from_address), subject=subject, size=size,
            received_at=self.clock().isoformat(), trace=trace)
        try:
            self.save(record)
        except IntegrityError:
            return False
        return True


def _clear_email(request: Request) -> str | None:
    """The email of a request stored before sealing (a plain contact dict)."""
    customer = request.customer or {}
    if "ciphertext" in customer:
        return None
    email = customer.get("email")
    return str(email) if email else None

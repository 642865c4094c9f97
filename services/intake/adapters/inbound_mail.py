"""Inbound email inside the running service: every message ends as exactly one of
a new request, information added to an existing request (a reply), a recorded bounce,
a recorded delay (a delivery status notice saying one of our emails is only delayed), a
recorded ignore (auto-reply, list mail, a delivery report, one of our own messages come
back), a quarantine (raw kept) or an SMTP refusal.

How a message was read travels with its case or information as ``mail`` (staff see it
with the case): notes (a legacy charset decoded, a broken encoded-word repaired, MIME parts
dropped, attachments refused or of another type than declared), the refused attachments
(name, declared and detected type, size, sha256, why — never their bytes), the attachments
stored as another type than declared, and ``raw_sha256`` when the raw message was kept
for a human (in the quarantine store) because its text was mended or decoded by our own
tables. A message carrying a refused attachment is never kept raw (its bytes would be).

A message joins the case it claims (In-Reply-To/References naming our Message-ID or an
earlier mail on the case, or the reference in its subject) only when its sender is the
case's contact — the SMTP envelope sender and the header From both (application/mail.py);
otherwise it becomes a new case flagged ``sender_mismatch`` that names the case it
claimed, and the claimed case is unchanged. What vouches for the sender (the receiving
host's Authentication-Results, else our own DKIM check) is recorded on the case or the
information; punycode and lookalike sender domains are kept as received and flagged.

`handle` is synchronous (parsing and the event store are blocking); the SMTP callback runs
it in a worker thread. Its return value is the SMTP reply. A storage or event-store error
propagates, so the listener answers 451 and the sending server retries later: nothing is
half-written, because each outcome is one `save(...)` call and a retry deduplicates by
Message-ID (or by the raw bytes' sha256 for records).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import re
import uuid
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import IntegrityError

from hotro.services.intake.adapters.email import (
    AttachmentStore,
    EmailLimits,
    InboundEmail,
    Quarantined,
    QuarantineStore,
    Refused,
    parse_inbound,
)
from hotro.services.intake.adapters.email.authentication import (
    DnsLookup,
    authenticate,
)
from hotro.services.intake.adapters.email.encoded_words import MARKER
from hotro.services.intake.adapters.email.sanitize import clean_line, fold_diacritics
from hotro.services.intake.application import (
    IntakeApplication,
    NewRequest,
    RequestNotFound,
    ThreadClaim,
)
from hotro.services.intake.domain import request_id_for_email
from hotro.services.intake.domain.mail import describe_note
from hotro.services.intake.domain.sender import SENDER_MISMATCH, domain_flags, domain_of
from hotro.services.intake.public_limits import SenderLimit
from hotro.shared.eventstore.trace import Trace

log = logging.getLogger(__name__)

_ADVICE_SUBJECT = re.compile(r"\btu van\b")
_DIAGNOSTIC = re.compile(r"^\s*(diagnostic-code|status)\s*:\s*(.+)$", re.I | re.M)
_MAX_DESCRIPTION = 20_000


@dataclass(frozen=True)
class MailOutcome:
    """What happened to one message (for logs and tests); `reply` is the SMTP answer."""

    #: created | threaded | duplicate | bounce | delayed | ignored | quarantined | refused
    #: | deferred (nothing recorded: too many new requests from its sender, comes again)
    action: str
    reply: str
    reference: str | None = None
    request_id: uuid.UUID | None = None
    flags: tuple[str, ...] = ()
    mail_auth: dict[str, Any] | None = None
    #: deferred: the seconds before its sender may file another new request
    retry_after_s: float | None = None


class MailIntake:
    def __init__(self, app: IntakeApplication, *, limits: EmailLimits,
                 attachments: AttachmentStore, quarantine: QuarantineStore,
                 retries: int = 10, authserv_id: str | None = None,
                 dkim_dns: DnsLookup | None = None, dkim_timeout_s: float = 5.0,
                 sender_limit: SenderLimit | None = None) -> None:
        """``authserv_id``: the authserv-id of our receiving MTA, whose topmost
        Authentication-Results is trusted (None: trust none, verify DKIM here);
        ``dkim_dns``: the DKIM key look-up (None: DNS through dnspython);
        ``sender_limit``: new requests per sender (None: unlimited)."""
        self.sender_limit = sender_limit
        self.app = app
        self.limits = limits
        self.attachments = attachments
        self.quarantine = quarantine
        self.retries = retries
        self.authserv_id = authserv_id.lower() if authserv_id else None
        self.dkim_dns = dkim_dns
        self.dkim_timeout_s = dkim_timeout_s

    async def on_smtp_message(self, raw: bytes, mail_from: str, rcpt_tos: list[str]) -> str:
        outcome = await asyncio.to_thread(self.handle, raw, mail_from, rcpt_tos)
        return outcome.reply

    def handle(self, raw: bytes, mail_from: str, rcpt_tos: list[str]) -> MailOutcome:
        result = parse_inbound(raw, limits=self.limits, attachments=self.attachments,
                               envelope_from=mail_from)
        if isinstance(result, Refused):
            self._record(result.reason_code, result.smtp_reply_text, "refused", raw, mail_from,
                         None, None, None)
            log.info("inbound mail refused: %s", result.reason_code)
            return MailOutcome("refused", result.smtp_reply_text)
        if isinstance(result, Quarantined):
            self.quarantine.put(raw)  # raw first: the record must never point at nothing
            self._record(result.reason_code, result.reason_text, "quarantined", raw, mail_from,
                         result.message_id, None, None)
            log.warning("inbound mail quarantined: %s (%s)", result.reason_code,
                        result.raw_sha256)
            return MailOutcome("quarantined", "250 2.0.0 Accepted for manual review "
                               f"(quarantined: {result.reason_code})")
        for attempt in range(self.retries):
            try:
                return self._message(result, raw, mail_from)
            except IntegrityError:
                # a concurrent delivery of the same message, or a concurrent change of the
                # same request: look again (the duplicate check then answers)
                log.info("retrying inbound mail %s (attempt %d)", result.message_id, attempt)
        raise RuntimeError(f"could not record inbound mail {result.message_id} (contention)")

    # ---- one parsed message --------------------------------------------------------------

    def _message(self, mail: InboundEmail, raw: bytes, mail_from: str) -> MailOutcome:
        known = self.app.message_index(mail.message_id)
        if mail.kind == "own_message" or (known is not None and known.direction == "out"):
            # one of ours come back (a customer's mailbox forwarding to us, a list, a
            # misconfigured relay): never a case, never answered, never a quarantine
            reference = self._reference(known.request_id) if known is not None else None
            self._record("own_message", "one of our own messages came back"
                         + (f" (about {reference})" if reference else "")
                         + ": no request, no acknowledgement", "ignored", raw, mail_from,
                         mail.message_id, mail.from_address, mail.subject)
            log.info("inbound mail ignored (our own message came back): %s", mail.message_id)
            return MailOutcome("ignored", "250 2.0.0 Accepted (our own message, ignored)",
                               reference, known.request_id if known is not None else None)
        if known is not None:
            reference = self._reference(known.request_id)
            return MailOutcome("duplicate", "250 2.0.0 Already received"
                               + (f" ({reference})" if reference else ""),
                               reference, known.request_id)
        if mail.kind == "bounce":
            return self._bounce(mail, raw, mail_from)
        if mail.kind == "delay":
            return self._delay(mail, raw, mail_from)
        if mail.kind == "delivery_report":
            self._record("delivery_report", "delivery report (delivered/relayed): nothing "
                         "failed", "ignored", raw, mail_from, mail.message_id,
                         mail.from_address, mail.subject)
            return MailOutcome("ignored", "250 2.0.0 Accepted (delivery report, not a request)")
        if mail.kind in ("auto_reply", "list"):
            self._record(mail.kind, f"{mail.kind} mail: no request, no acknowledgement",
                         "ignored", raw, mail_from, mail.message_id, mail.from_address,
                         mail.subject)
            log.info("inbound mail ignored (%s): %s", mail.kind, mail.message_id)
            return MailOutcome("ignored", f"250 2.0.0 Accepted ({mail.kind}, not a request)")
        auth = authenticate(raw, authserv_id=self.authserv_id, dns=self.dkim_dns,
                            timeout_s=self.dkim_timeout_s)
        mail_auth = auth.as_record(domain_of(mail.from_address))
        claims = self.app.thread_claims(
            in_reply_to=mail.in_reply_to, references=mail.references,
            reference_in_subject=mail.reference_in_subject)
        # the actor is "email", never the address: traces are stored and published in clear
        trace = Trace(actor_kind="customer", actor_id="email",
                      correlation_id=str(uuid.uuid4())).as_dict()
        details = self._mail_details(mail, raw)
        reasons: list[str] = []
        for claim in claims:
            reason = self.app.sender_mismatch(
                claim.request, envelope_from=_address(mail_from),
                header_from=mail.from_address, dmarc_failed=auth.dmarc_failed)
            if reason is None:
                request = claim.request
                self.app.provide_info(
                    request.id, channel="email", content=_content(mail), items=[],
                    trace=trace, attachments=_attachments(mail),
                    inbound_message_id=mail.message_id, mail_auth=mail_auth, mail=details)
                return MailOutcome("threaded", f"250 2.0.0 Added to {request.reference}",
                                   request.reference, request.id, mail_auth=mail_auth)
            reasons.append(reason)
        flags = self._flags(mail, mail_from, claims[0] if claims else None)
        claimed: dict[str, Any] | None = None
        if claims:
            first = claims[0]
            flags = sorted({SENDER_MISMATCH, *flags})
            claimed = {"request_id": str(first.request.id),
                       "reference": first.request.reference, "via": first.via,
                       "reason": reasons[0]}
            log.warning("inbound mail %s claims %s but its sender does not match (%s): "
                        "filed as a new case", mail.message_id, first.request.reference,
                        reasons[0])
        wait = self._sender_wait(mail, verified=not auth.dmarc_failed)
        if wait is not None:
            minutes = max(1, math.ceil(wait / 60))
            log.warning("inbound mail %s deferred: too many new requests from its sender "
                        "(again in %.0fs)", mail.message_id, wait)
            return MailOutcome("deferred", "451 4.7.1 Too many new requests from this "
                               f"sender; try again in {minutes} minutes", retry_after_s=wait)
        accepted = self.app.receive(
            NewRequest(
                kind="advice" if _ADVICE_SUBJECT.search(fold_diacritics(mail.subject))
                else "complaint",
                channel="email",
                customer={"name": _greeting_name(mail), "phone": None,
                          "email": mail.from_address, "address": None},
                description=_content(mail),
                attachments=tuple(_attachments(mail)),
                inbound_message_id=mail.message_id,
                flags=tuple(flags), claimed=claimed, mail_auth=mail_auth, mail=details,
            ),
            trace, request_id=request_id_for_email(mail.message_id),
        )
        # The reply goes to whoever sent the message: it never names the claimed case.
        return MailOutcome("created", f"250 2.0.0 Received as {accepted.reference}",
                           accepted.reference, accepted.request_id, flags=tuple(flags),
                           mail_auth=mail_auth)

    def _sender_wait(self, mail: InboundEmail, *, verified: bool) -> float | None:
        """None if this new request may be filed now (then counted against its sender)."""
        if self.sender_limit is None:
            return None
        key = self.app.contact_hashes({"email": mail.from_address}).get("email")
        return self.sender_limit.admit(key, verified=verified) if key else None

    def _flags(self, mail: InboundEmail, mail_from: str, claim: ThreadClaim | None
               ) -> list[str]:
        """Punycode, non-ASCII and lookalike sender domains (From and envelope), compared
        with our own domains and the claimed case's contact domain."""
        compare_with = set(self.limits.own_domains)
        if claim is not None:
            try:
                contact = self.app.customer_of(claim.request) or {}
            except Exception:  # the key store unreachable: flag on our domains only
                log.warning("lookalike check without the claimed case's contact",
                            exc_info=True)
                contact = {}
            if contact.get("email"):
                compare_with.add(domain_of(str(contact["email"])))
        domains = {domain_of(mail.from_address)}
        if "@" in _address(mail_from):
            domains.add(domain_of(_address(mail_from)))
        return domain_flags(domains, compare_with=compare_with)

    def _bounce(self, mail: InboundEmail, raw: bytes, mail_from: str) -> MailOutcome:
        reason = _bounce_reason(mail)
        sent = self.app.sent_message(mail.bounced_message_ids)
        if sent is not None:
            bounced, request_id = sent
            trace = Trace.system("intake-email").as_dict()
            reference = self.app.record_bounce(request_id, message_id=bounced, reason=reason,
                                               bounce_message_id=mail.message_id, trace=trace)
            log.warning("delivery of %s bounced (%s): %s", bounced, reference, reason)
            return MailOutcome("bounce", f"250 2.0.0 Bounce recorded on {reference}",
                               reference, request_id)
        self._record("bounce_unknown", f"bounce of a message we do not know: {reason}",
                     "ignored", raw, mail_from, mail.message_id, mail.from_address,
                     mail.subject)
        return MailOutcome("ignored", "250 2.0.0 Accepted (bounce, no matching message)")

    def _delay(self, mail: InboundEmail, raw: bytes, mail_from: str) -> MailOutcome:
        reason = _delay_reason(mail)
        retry_until = next((d.will_retry_until for d in mail.delivery if d.will_retry_until),
                           None)
        sent = self.app.sent_message(mail.bounced_message_ids)
        if sent is not None:
            delayed, request_id = sent
            trace = Trace.system("intake-email").as_dict()
            reference = self.app.record_delay(
                request_id, message_id=delayed, reason=reason, will_retry_until=retry_until,
                notice_message_id=mail.message_id, trace=trace)
            log.info("delivery of %s delayed (%s): %s", delayed, reference, reason)
            return MailOutcome("delayed", f"250 2.0.0 Delay recorded on {reference}",
                               reference, request_id)
        self._record("delay_unknown", f"delivery delay of a message we do not know: {reason}",
                     "ignored", raw, mail_from, mail.message_id, mail.from_address,
                     mail.subject)
        return MailOutcome("ignored", "250 2.0.0 Accepted (delay notice, no matching message)")

    def _mail_details(self, mail: InboundEmail, raw: bytes) -> dict[str, Any] | None:
        """How the message was read, for staff (None when there is nothing to tell).
        Keeps the raw message when its text was mended — unless it carries a refused
        attachment, whose bytes must not be stored."""
        notes = [describe_note(n.code, n.as_dict()) for n in mail.notes]
        refused = [{"filename": s.filename, "declared_type": s.content_type,
                    "detected_type": s.detected_type, "size": s.size, "sha256": s.sha256,
                    "reason": s.reason, "reason_text": s.reason_text}
                   for s in mail.skipped_attachments]
        mistyped = [{"filename": a.filename, "declared_type": a.declared_type,
                     "detected_type": a.detected_type, "stored_as": a.content_type,
                     "sha256": a.sha256} for a in mail.attachments if a.type_mismatch]
        if not (notes or refused or mistyped):
            return None
        details: dict[str, Any] = {"notes": notes}
        if refused:
            details["refused_attachments"] = refused
        if mistyped:
            details["type_mismatches"] = mistyped
        if mail.keep_raw:
            if refused:
                notes.append(describe_note("raw_not_kept", {}))
            else:
                self.quarantine.put(raw)
                details["raw_sha256"] = mail.received_raw_sha256
        return details

    # ---- helpers ---------------------------------------------------------------------------

    def _record(self, reason_code: str, reason_text: str, outcome: str, raw: bytes,
                envelope_from: str, message_id: str | None, from_address: str | None,
                subject: str | None) -> None:
        self.app.record_mail(
            outcome=outcome, reason_code=reason_code, reason_text=reason_text,
            raw_sha256=hashlib.sha256(raw).hexdigest(), message_id=message_id,
            envelope_from=clean_line(envelope_from, max_chars=320),
            from_address=from_address, subject=subject, size=len(raw),
            trace=Trace.system("intake-email").as_dict())

    def _reference(self, request_id: uuid.UUID | None) -> str | None:
        if request_id is None:
            return None
        try:
            return self.app.get_request(request_id).reference
        except RequestNotFound:
            return None


def _address(mail_from: str) -> str:
    """The envelope sender as an address ("" for the null sender or an IMAP marker)."""
    value = mail_from.strip().strip("<>").strip()
    return value if "@" in value else ""


def _content(mail: InboundEmail) -> str:
    text = f"{mail.subject}\n\n{mail.text}".strip() if mail.subject else mail.text.strip()
    return (text or "(thư không có nội dung / empty email)")[:_MAX_DESCRIPTION]


def _attachments(mail: InboundEmail) -> list[dict[str, Any]]:
    return [{"sha256": a.sha256, "filename": a.filename or f"attachment-{a.sha256[:12]}",
             "content_type": a.content_type, "size": a.size} for a in mail.attachments]


def _greeting_name(mail: InboundEmail) -> str:
    """The name the customer is greeted with: the display name, unless it was damaged
    beyond repair (then the address; the damaged name is in the notes for staff)."""
    if mail.from_name and MARKER not in mail.from_name:
        return mail.from_name
    return mail.from_address


def _delay_reason(mail: InboundEmail) -> str:
    parts = [f"{d.status or ''} {d.diagnostic or ''}".strip() for d in mail.delivery
             if d.action == "delayed"]
    detail = "; ".join(p for p in parts if p) or mail.subject
    return clean_line(detail or "delivery delayed", max_chars=300)


def _bounce_reason(mail: InboundEmail) -> str:
    found = _DIAGNOSTIC.findall(mail.text)
    detail = "; ".join(v.strip() for _, v in found) if found else mail.subject
    return clean_line(detail or "delivery failed", max_chars=300)

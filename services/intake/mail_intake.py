"""Inbound email inside the running service: every message ends as exactly one of
a new request, information added to an existing request (a reply), a recorded bounce,
a recorded ignore (auto-reply, list mail), a quarantine (raw kept) or an SMTP refusal.

`handle` is synchronous (parsing and the event store are blocking); the SMTP callback runs
it in a worker thread. Its return value is the SMTP reply. A storage or event-store error
propagates, so the listener answers 451 and the sending server retries later: nothing is
half-written, because each outcome is one `save(...)` call and a retry deduplicates by
Message-ID (or by the raw bytes' sha256 for records).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import uuid
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import IntegrityError

from hotro.services.intake.application import IntakeApplication, NewRequest, RequestNotFound
from hotro.services.intake.email import (
    AttachmentStore,
    EmailLimits,
    InboundEmail,
    IntakeSmtpHandler,
    Quarantined,
    QuarantineStore,
    Refused,
    parse_inbound,
    start_smtp_listener,
)
from hotro.services.intake.email.sanitize import clean_line, fold_diacritics
from hotro.services.intake.settings import IntakeSettings
from hotro.shared.eventstore.trace import Trace

log = logging.getLogger(__name__)

_ADVICE_SUBJECT = re.compile(r"\btu van\b")
_DIAGNOSTIC = re.compile(r"^\s*(diagnostic-code|status)\s*:\s*(.+)$", re.I | re.M)
_MAX_DESCRIPTION = 20_000


@dataclass(frozen=True)
class MailOutcome:
    """What happened to one message (for logs and tests); `reply` is the SMTP answer."""

    action: str  # created | threaded | duplicate | bounce | ignored | quarantined | refused
    reply: str
    reference: str | None = None
    request_id: uuid.UUID | None = None


class MailIntake:
    def __init__(self, app: IntakeApplication, *, limits: EmailLimits,
                 attachments: AttachmentStore, quarantine: QuarantineStore,
                 retries: int = 10) -> None:
        self.app = app
        self.limits = limits
        self.attachments = attachments
        self.quarantine = quarantine
        self.retries = retries

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
        if known is not None:
            reference = self._reference(known.request_id)
            return MailOutcome("duplicate", "250 2.0.0 Already received"
                               + (f" ({reference})" if reference else ""),
                               reference, known.request_id)
        if mail.kind == "bounce":
            return self._bounce(mail, raw, mail_from)
        if mail.kind in ("auto_reply", "list"):
            self._record(mail.kind, f"{mail.kind} mail: no request, no acknowledgement",
                         "ignored", raw, mail_from, mail.message_id, mail.from_address,
                         mail.subject)
            log.info("inbound mail ignored (%s): %s", mail.kind, mail.message_id)
            return MailOutcome("ignored", f"250 2.0.0 Accepted ({mail.kind}, not a request)")
        target = self._thread_target(mail)
        # the actor is "email", never the address: traces are stored and published in clear
        trace = Trace(actor_kind="customer", actor_id="email",
                      correlation_id=str(uuid.uuid4())).as_dict()
        if target is not None:
            request_id, reference = target
            self.app.provide_info(
                request_id, channel="email", content=_content(mail), items=[], trace=trace,
                attachments=_attachments(mail), inbound_message_id=mail.message_id)
            return MailOutcome("threaded", f"250 2.0.0 Added to {reference}", reference,
                               request_id)
        accepted = self.app.receive(
            NewRequest(
                kind="advice" if _ADVICE_SUBJECT.search(fold_diacritics(mail.subject))
                else "complaint",
                channel="email",
                customer={"name": mail.from_name or mail.from_address, "phone": None,
                          "email": mail.from_address, "address": None},
                description=_content(mail),
                attachments=tuple(_attachments(mail)),
                inbound_message_id=mail.message_id,
            ),
            trace, idempotency_key=f"email:{mail.message_id.lower()}",
        )
        return MailOutcome("created", f"250 2.0.0 Received as {accepted.reference}",
                           accepted.reference, accepted.request_id)

    def _thread_target(self, mail: InboundEmail) -> tuple[uuid.UUID, str] | None:
        """In-Reply-To/References naming one of our messages (or the customer's earlier mail
        on the same case), else a reference in the subject - sent from the case's address."""
        for message_id in filter(None, (mail.in_reply_to, *reversed(mail.references))):
            index = self.app.message_index(message_id)
            if index is None or index.request_id is None:
                continue
            request = self.app.get_request(index.request_id)
            if index.direction == "out" or self.app.same_sender(request, mail.from_address):
                return request.id, request.reference
        if mail.reference_in_subject:
            try:
                request = self.app.find(mail.reference_in_subject)
            except RequestNotFound:
                return None
            if self.app.same_sender(request, mail.from_address):
                return request.id, request.reference
        return None

    def _bounce(self, mail: InboundEmail, raw: bytes, mail_from: str) -> MailOutcome:
        reason = _bounce_reason(mail)
        for bounced in mail.bounced_message_ids:
            index = self.app.message_index(bounced)
            if index is None or index.direction != "out" or index.request_id is None:
                continue
            trace = Trace.system("intake-email").as_dict()
            reference = self.app.record_bounce(index.request_id, message_id=bounced,
                                               reason=reason,
                                               bounce_message_id=mail.message_id, trace=trace)
            log.warning("delivery of %s bounced (%s): %s", bounced, reference, reason)
            return MailOutcome("bounce", f"250 2.0.0 Bounce recorded on {reference}",
                               reference, index.request_id)
        self._record("bounce_unknown", f"bounce of a message we do not know: {reason}",
                     "ignored", raw, mail_from, mail.message_id, mail.from_address,
                     mail.subject)
        return MailOutcome("ignored", "250 2.0.0 Accepted (bounce, no matching message)")

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


def _content(mail: InboundEmail) -> str:
    text = f"{mail.subject}\n\n{mail.text}".strip() if mail.subject else mail.text.strip()
    return (text or "(thư không có nội dung / empty email)")[:_MAX_DESCRIPTION]


def _attachments(mail: InboundEmail) -> list[dict[str, Any]]:
    return [{"sha256": a.sha256, "filename": a.filename or f"attachment-{a.sha256[:12]}",
             "content_type": a.content_type, "size": a.size} for a in mail.attachments]


def _bounce_reason(mail: InboundEmail) -> str:
    found = _DIAGNOSTIC.findall(mail.text)
    detail = "; ".join(v.strip() for _, v in found) if found else mail.subject
    return clean_line(detail or "delivery failed", max_chars=300)


# ---- the listener as a runtime background job ------------------------------------------------

def email_limits(settings: IntakeSettings) -> EmailLimits:
    mib = 1024 * 1024
    return EmailLimits(max_message_bytes=settings.email_max_message_mb * mib,
                       max_attachment_bytes=settings.email_max_attachment_mb * mib,
                       max_total_attachment_bytes=settings.email_max_total_attachments_mb * mib,
                       own_domains=settings.own_domains())


class SmtpListenerJob:
    """Serves SMTP while the runtime runs (aiosmtpd in its own thread and event loop)."""

    def __init__(self, intake: MailIntake, settings: IntakeSettings) -> None:
        self.intake = intake
        self.settings = settings
        self.controller: Any = None

    async def __call__(self, stop: asyncio.Event) -> None:
        s = self.settings
        handler = IntakeSmtpHandler(self.intake.on_smtp_message,
                                    accept_recipients=s.accept_recipients())
        self.controller = await asyncio.to_thread(
            start_smtp_listener, handler, s.smtp_listen_host, s.smtp_listen_port,
            data_size_limit=s.smtp_data_size_limit_mb * 1024 * 1024)
        log.info("inbound SMTP listening on %s:%d", s.smtp_listen_host, s.smtp_listen_port)
        try:
            await stop.wait()
        finally:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.controller.stop)
            log.info("inbound SMTP listener stopped")

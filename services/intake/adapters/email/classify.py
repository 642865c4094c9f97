"""What kind of mail is this: a person's message, an auto-reply, a bounce, or list mail.

Order matters: own_message (one of ours come back: its Message-ID is of our own domain and
it carries our ``X-Hotro-Reference`` header or says it was auto-generated — what notify
writes; a person's mail from our domain stays a quarantine) > delivery reports
(MAILER-DAEMON, multipart/report): a ``bounce``
when a recipient's ``Action`` is ``failed`` (or when no action is given and the report does
not say it is only delayed), a ``delay`` when delivery is only delayed (``Action:
delayed``, RFC 3464; or a delay warning's subject), a ``delivery_report`` when recipients
were delivered, relayed or expanded > auto_reply by explicit headers
(RFC 3834 Auto-Submitted, X-Autoreply, X-Autorespond, read receipts) > list (List-Id,
List-Unsubscribe, Precedence: list/bulk) > auto_reply by heuristics (out-of-office subject
in English or Vietnamese, with or without diacritics; Precedence: junk; a null sender, which
must never be answered anyway). Everything else is a "message".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser
from email.policy import default as default_policy

from .headers import message_id_list, raw_header
from .limits import EmailLimits
from .model import DeliveryStatus, EmailKind
from .sanitize import clean_line, fold_diacritics

_OUT_OF_OFFICE = re.compile(
    r"^\W*(out of (the )?office|automatic reply|auto[- ]?reply|auto[- ]?response"
    r"|autoresponse|vacation reply|tu dong tra loi|tra loi tu dong|thu tra loi tu dong"
    r"|vang mat|ngoai van phong)"
)
_DAEMON_FROM = re.compile(r"(^|[<\s\"])(mailer-daemon|postmaster)@", re.IGNORECASE)
_BOUNCE_SUBJECT = re.compile(
    r"(undeliver|delivery status notification|delivery failure|mail delivery failed"
    r"|returned mail|failure notice|khong gui duoc|khong the gui)"
)
_DELAY_SUBJECT = re.compile(
    r"(delayed|delay\)|delivery delay|still being retried|warning: message|not yet been "
    r"delivered|bi tri hoan|cham tre)"
)
_MESSAGE_ID_LINE = re.compile(r"^\s*message-id:\s*(.+)$", re.IGNORECASE | re.MULTILINE)
_RETURNED_TYPES = frozenset({"message/rfc822", "text/rfc822-headers"})


@dataclass(frozen=True, slots=True)
class Classification:
    kind: EmailKind
    bounced_message_ids: tuple[str, ...] = ()
    delivery: tuple[DeliveryStatus, ...] = ()


def _parts(msg: Message, limit: int) -> Iterator[Message]:
    for count, part in enumerate(msg.walk()):
        if count >= limit:
            return
        yield part


def _value(msg: EmailMessage, name: str) -> str:
    return (raw_header(msg, name) or "").strip()


def _is_null_sender(msg: EmailMessage, envelope_from: str | None) -> bool:
    if envelope_from is not None and envelope_from.strip() in ("", "<>"):
        return True
    return _value(msg, "return-path").replace(" ", "") == "<>"


def _returned_ids(msg: EmailMessage, limits: EmailLimits) -> tuple[str, ...]:
    """Message-IDs of the returned original: message/rfc822 or text/rfc822-headers parts,
    else "Message-ID:" lines quoted in the report text. Ids of our own domains win."""
    found: list[str] = []
    for part in _parts(msg, limits.max_parts):
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                found.extend(message_id_list(raw_header(inner[0], "message-id"), limit=10))
        elif ctype == "text/rfc822-headers":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                headers = BytesHeaderParser(policy=default_policy).parsebytes(payload)
                found.extend(message_id_list(raw_header(headers, "message-id"), limit=10))
    if not found:
        for part in _parts(msg, limits.max_parts):
            if part.get_content_type() == "text/plain":
                payload = part.get_payload(decode=True)
                if isinstance(payload, bytes):
                    text = payload.decode("utf-8", "replace")
                    for line in _MESSAGE_ID_LINE.findall(text):
                        found.extend(message_id_list(line, limit=10))
    unique = tuple(dict.fromkeys(found))
    ours = tuple(i for i in unique if limits.is_own_domain(i.rstrip(">").rpartition("@")[2]))
    return ours or unique


def _is_bounce(msg: EmailMessage, subject: str, null_sender: bool) -> bool:
    if (
        msg.get_content_type() == "multipart/report"
        and str(msg.get_param("report-type", "")).lower() == "delivery-status"
    ):
        return True
    if _DAEMON_FROM.search(_value(msg, "from")):
        return True
    has_returned = any(p.get_content_type() in _RETURNED_TYPES for p in _parts(msg, 50))
    return null_sender and (has_returned or bool(_BOUNCE_SUBJECT.search(subject)))


def _is_own_message(msg: EmailMessage, limits: EmailLimits) -> bool:
    """One of our own messages (acknowledgement, reply, alert) come back to us."""
    ids = message_id_list(raw_header(msg, "message-id"), limit=1)
    if not ids or not limits.is_own_domain(ids[0].rstrip(">").rpartition("@")[2]):
        return False
    if raw_header(msg, "x-hotro-reference") is not None:
        return True
    return _value(msg, "auto-submitted").split(";")[0].strip().lower() == "auto-generated"


def delivery_statuses(msg: EmailMessage, limits: EmailLimits) -> tuple[DeliveryStatus, ...]:
    """The per-recipient blocks of the report's message/delivery-status part(s)."""
    found: list[DeliveryStatus] = []
    for part in _parts(msg, limits.max_parts):
        if part.get_content_type() not in ("message/delivery-status",
                                           "message/global-delivery-status"):
            continue
        blocks = part.get_payload()
        if not isinstance(blocks, list):
            continue
        for block in blocks[:50]:
            if not isinstance(block, Message):
                continue
            action = (raw_header(block, "action") or "").strip().lower()
            if not action:
                continue  # the per-message block (Reporting-MTA…)
            found.append(DeliveryStatus(
                action=clean_line(action.split()[0], max_chars=20),
                status=_field(block, "status", 20),
                diagnostic=_field(block, "diagnostic-code", 300),
                will_retry_until=_field(block, "will-retry-until", 60),
                recipient=_field(block, "final-recipient", 320)))
    return tuple(found)


def _field(block: Message, name: str, max_chars: int) -> str | None:
    value = raw_header(block, name)
    return clean_line(value, max_chars=max_chars) or None if value else None


def _report_kind(statuses: tuple[DeliveryStatus, ...], subject: str) -> EmailKind:
    actions = {s.action for s in statuses}
    if "failed" in actions:
        return "bounce"
    if "delayed" in actions:
        return "delay"
    if actions and actions <= {"delivered", "relayed", "expanded"}:
        return "delivery_report"
    return "delay" if _DELAY_SUBJECT.search(subject) else "bounce"


def _explicit_auto_reply(msg: EmailMessage) -> bool:
    auto_submitted = _value(msg, "auto-submitted").split(";")[0].strip().lower()
    if auto_submitted and auto_submitted != "no":
        return True
    if raw_header(msg, "x-autoreply") is not None or raw_header(msg, "x-autorespond") is not None:
        return True
    return msg.get_content_type() == "multipart/report" and (
        str(msg.get_param("report-type", "")).lower() == "disposition-notification"
    )


def _is_list(msg: EmailMessage) -> bool:
    if raw_header(msg, "list-id") is not None or raw_header(msg, "list-unsubscribe") is not None:
        return True
    return _value(msg, "precedence").lower() in ("list", "bulk")


def classify(
    msg: EmailMessage, subject: str, *, limits: EmailLimits, envelope_from: str | None = None
) -> Classification:
    """`subject` is the decoded subject; `envelope_from` the SMTP MAIL FROM if known."""
    folded_subject = fold_diacritics(subject)
    null_sender = _is_null_sender(msg, envelope_from)
    if _is_own_message(msg, limits):
        return Classification("own_message")
    if _is_bounce(msg, folded_subject, null_sender):
        statuses = delivery_statuses(msg, limits)
        return Classification(_report_kind(statuses, folded_subject),
                              _returned_ids(msg, limits), statuses)
    if _explicit_auto_reply(msg):
        return Classification("auto_reply")
    if _is_list(msg):
        return Classification("list")
    if (
        _OUT_OF_OFFICE.search(folded_subject)
        or _value(msg, "precedence").lower() == "junk"
        or null_sender
    ):
        return Classification("auto_reply")
    return Classification("message")

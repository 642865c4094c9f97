"""Raw RFC 5322 bytes -> `InboundEmail`, `Quarantined` or `Refused`; never an exception.

Everything derived from the message happens inside one boundary that turns any failure of
the standard library's lenient-but-not-crash-proof parser into a `Quarantined` with a reason.
Only storing attachments happens outside it: a disk error is *our* problem, not the
message's, and must propagate (the SMTP listener then answers 451 and the sender retries).

Outcomes (reason codes are in `model.QuarantineReason` / `model.RefusalReason`):
- raw size above `max_message_bytes`, an attachment above `max_attachment_bytes`, all
  attachments above `max_total_attachment_bytes`, more than `max_attachments`: Refused (552).
- attachment refused by its type (`attachment_types`: a refused extension such as .exe,
  .py or .zip, a type not in `allowed_content_types`, or content of a refused type whatever
  was declared): its bytes are not stored; it is listed in `skipped_attachments` (name,
  declared and detected type, size, sha256, why) and noted — a signature logo or a vCard
  must not lose a complaint. Content of another accepted type than declared is stored as
  what it is and noted (`type_mismatch`).
- more than `max_parts` MIME parts: the first `max_parts` are read, the rest dropped, a
  note says how many (and the raw message is kept).
- truncated multipart (closing boundary missing): Quarantined "multipart_truncated"; other
  broken multipart structure: "multipart_malformed".
- From missing / several / display name only / address produced by an encoded-word /
  invalid / one of our own domains: Quarantined "from_*". The display name is decoded from
  the raw header, adjacent encoded-words joined (`encoded_words`).
- encoded-words (subject, display name) that are broken: repaired where possible, the rest
  marked "[?]"; noted, and the raw message is kept (`keep_raw`).
- body charset: see `charsets` (unknown labels fall back to UTF-8 then windows-1258;
  VISCII and TCVN3 are decoded with our own tables, noted, raw kept; VPS bytes that are not
  UTF-8: Quarantined "charset_unsupported").
- our own message come back (`own_message`), delivery reports (`bounce`, `delay`,
  `delivery_report`): see `classify`.
- RecursionError (e.g. deeply nested comments in From): "header_recursion"; UnicodeError:
  "header_encoding"; anything else: "parse_error".
- A broken To header is tolerated (to=(), defect "to_unparseable").
"""

from __future__ import annotations

import email
import hashlib
import logging
import re
from dataclasses import dataclass, field
from email.errors import (
    CloseBoundaryNotFoundDefect,
    MultipartInvariantViolationDefect,
    NoBoundaryInMultipartDefect,
    StartBoundaryNotFoundDefect,
)
from email.message import EmailMessage, Message
from email.policy import default as default_policy

from email_validator import EmailNotValidError, validate_email

from .attachment_types import judge
from .attachments import AttachmentStore
from .charsets import CharsetUnsupported, Undecodable, decode_bytes, repair_surrogates
from .classify import classify
from .encoded_words import DecodedHeader
from .headers import (
    decode_header_text,
    display_name,
    message_id_list,
    normalise_message_id,
    raw_header,
    raw_headers,
)
from .html_text import html_to_text
from .limits import MIB, EmailLimits
from .model import (
    DeliveryStatus,
    EmailKind,
    InboundEmail,
    MailNote,
    ParseResult,
    Quarantined,
    QuarantineReason,
    RefusalReason,
    Refused,
    SkippedAttachment,
    StoredAttachment,
)
from .sanitize import ascii_line, clean_line, clean_text

log = logging.getLogger(__name__)

_CASE_REFERENCE = re.compile(r"(?<![A-Za-z0-9])(KN|TV)-([0-9]{4})-([0-9]{6})(?![0-9])", re.I)
#: a MIME type as RFC 2045 spells it (type "/" subtype, tokens); anything else a sender
#: wrote there is unreadable, so the part counts as ``application/octet-stream``
_MIME_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+")
_SIGNATURE_TYPES = frozenset(
    {"application/pkcs7-signature", "application/x-pkcs7-signature", "application/pgp-signature"}
)


class _Quarantine(Exception):
    def __init__(self, code: QuarantineReason, text: str) -> None:
        super().__init__(text)
        self.code: QuarantineReason = code
        self.text = text


class _Refuse(Exception):
    def __init__(self, code: RefusalReason, reply: str) -> None:
        super().__init__(reply)
        self.code: RefusalReason = code
        self.reply = reply[:500]


@dataclass(slots=True)
class _Candidate:
    filename: str | None
    content_type: str
    data: bytes
    declared_type: str | None = None
    detected_type: str | None = None


@dataclass(slots=True)
class _Draft:
    message_id: str
    from_address: str
    from_name: str | None
    to: tuple[str, ...]
    subject: str
    text: str
    in_reply_to: str | None
    references: tuple[str, ...]
    kind: EmailKind
    bounced_message_ids: tuple[str, ...]
    candidates: list[_Candidate]
    skipped: tuple[SkippedAttachment, ...]
    defects: list[str] = field(default_factory=list)
    notes: list[MailNote] = field(default_factory=list)
    keep_raw: bool = False
    delivery: tuple[DeliveryStatus, ...] = ()


class _Reading:
    """What reading one message found worth telling staff, and whether to keep its raw
    bytes for them."""

    def __init__(self) -> None:
        self.defects: list[str] = []
        self.notes: list[MailNote] = []
        self.keep_raw = False

    def note(self, code: str, *, keep_raw: bool = False, **params: object) -> None:
        note = MailNote(code, tuple((k, str(v)) for k, v in params.items()))
        if note not in self.notes:
            self.notes.append(note)
        self.keep_raw = self.keep_raw or keep_raw

    def header(self, field_name: str, decoded: DecodedHeader) -> str:
        """Note the repairs and legacy charsets of a decoded header; its text."""
        for charset in decoded.legacy_charsets:
            self.note("charset_legacy", keep_raw=True, charset=charset, where=field_name)
        if decoded.repairs:
            kinds = ",".join(dict.fromkeys(r.kind for r in decoded.repairs))
            self.note("header_repaired", keep_raw=True, field=field_name, repairs=kinds)
            self.defects.append(f"{field_name}_encoded_word_repaired")
        return decoded.text


def _describe(exc: BaseException) -> str:
    return clean_line(f"{type(exc).__name__}: {exc}", max_chars=300)


def _mb(size: int) -> str:
    return f"{size / MIB:.1f} MB"


def parse_inbound(
    raw: bytes,
    *,
    limits: EmailLimits,
    attachments: AttachmentStore,
    envelope_from: str | None = None,
) -> ParseResult:
    """Parse one received message. `envelope_from` is the SMTP MAIL FROM ("" for `<>`).

    Stores accepted attachments in `attachments`; raises only for storage (OS) errors.
    """
    raw_sha256 = hashlib.sha256(raw).hexdigest()
    if len(raw) > limits.max_message_bytes:
        return Refused(
            "message_too_large",
            f"552 5.3.4 Message too large: {_mb(len(raw))}; the limit is "
            f"{_mb(limits.max_message_bytes)}. / Thu qua lon, gioi han "
            f"{_mb(limits.max_message_bytes)}.",
        )
    message_id: str | None = None
    try:
        msg = email.message_from_bytes(raw, policy=default_policy)
        raw_id = raw_header(msg, "message-id")
        message_id = normalise_message_id(raw_id) if raw_id else None
        draft = _read(msg, message_id, raw_sha256, limits, envelope_from)
    except _Quarantine as q:
        return Quarantined(q.code, clean_line(q.text, max_chars=300), raw_sha256, message_id)
    except _Refuse as r:
        return Refused(r.code, r.reply)
    except RecursionError:
        return Quarantined(
            "header_recursion",
            "parser recursion limit hit (e.g. deeply nested comments in an address header)",
            raw_sha256,
            message_id,
        )
    except UnicodeError as exc:
        return Quarantined("header_encoding", _describe(exc), raw_sha256, message_id)
    except Exception as exc:  # the boundary: a hostile message must never crash intake
        log.warning("unparseable inbound email %s", raw_sha256, exc_info=True)
        return Quarantined("parse_error", _describe(exc), raw_sha256, message_id)

    stored = tuple(
        StoredAttachment(attachments.put(c.data), c.filename, c.content_type, len(c.data),
                         c.declared_type, c.detected_type)
        for c in draft.candidates
    )
    found = _CASE_REFERENCE.search(draft.subject)
    return InboundEmail(
        message_id=draft.message_id,
        from_address=draft.from_address,
        from_name=draft.from_name,
        to=draft.to,
        subject=draft.subject,
        text=draft.text,
        in_reply_to=draft.in_reply_to,
        references=draft.references,
        reference_in_subject="-".join(found.groups()).upper() if found else None,
        attachments=stored,
        kind=draft.kind,
        bounced_message_ids=draft.bounced_message_ids,
        received_raw_sha256=raw_sha256,
        skipped_attachments=draft.skipped,
        defects=tuple(dict.fromkeys(draft.defects)),
        notes=tuple(draft.notes),
        keep_raw=draft.keep_raw,
        delivery=draft.delivery,
    )


def _read(
    msg: EmailMessage,
    message_id: str | None,
    raw_sha256: str,
    limits: EmailLimits,
    envelope_from: str | None,
) -> _Draft:
    reading = _Reading()
    leaves = _leaves(msg, limits, reading)
    subject = reading.header("subject", decode_header_text(raw_header(msg, "subject") or ""))
    classification = classify(msg, subject, limits=limits, envelope_from=envelope_from)
    body_parts, text = _body(msg, limits, reading)
    candidates: list[_Candidate] = []
    skipped: tuple[SkippedAttachment, ...] = ()
    if classification.kind not in ("bounce", "delay", "delivery_report", "own_message"):
        candidates, skipped = _attachments(leaves, body_parts, limits, reading)
    try:
        from_address, from_name = _sender(msg, limits, reading)
    except _Quarantine:
        if classification.kind != "own_message":
            raise
        from_address, from_name = _own_sender(msg), None  # ours: ignored, never answered
    if message_id is None:
        reading.defects.append("message_id_missing")
        message_id = f"<{raw_sha256}@missing-message-id.invalid>"
    in_reply_to = message_id_list(raw_header(msg, "in-reply-to"), limit=1)
    return _Draft(
        message_id=message_id,
        from_address=from_address,
        from_name=from_name,
        to=_recipients(msg, reading.defects),
        subject=subject,
        text=text,
        in_reply_to=in_reply_to[0] if in_reply_to else None,
        references=message_id_list(raw_header(msg, "references"), limit=limits.max_references),
        kind=classification.kind,
        bounced_message_ids=classification.bounced_message_ids,
        candidates=candidates,
        skipped=skipped,
        defects=reading.defects,
        notes=reading.notes,
        keep_raw=reading.keep_raw,
        delivery=classification.delivery,
    )


def _own_sender(msg: EmailMessage) -> str:
    value = clean_line(raw_header(msg, "from") or "", max_chars=320)
    found = re.search(r"[^\s<>\"]+@[^\s<>\"]+", value)
    return found.group(0).lower() if found else ""


def _leaves(msg: Message, limits: EmailLimits, reading: _Reading) -> list[Message]:
    """Non-multipart parts, depth-first, of the first ``max_parts`` parts; checks
    structure and collects parser defects. Parts beyond ``max_parts`` are dropped (noted).

    message/rfc822 parts are leaves: an attached email is opaque content.
    """
    leaves: list[Message] = []
    count = 0

    def visit(part: Message, depth: int) -> None:
        nonlocal count
        if count >= limits.max_parts:
            return
        count += 1
        if depth > limits.max_depth:
            raise _Quarantine("nesting_too_deep", f"MIME nesting deeper than {limits.max_depth}")
        for defect in part.defects:
            if isinstance(defect, CloseBoundaryNotFoundDefect):
                raise _Quarantine("multipart_truncated", "multipart closing boundary missing")
            if isinstance(
                defect,
                StartBoundaryNotFoundDefect
                | NoBoundaryInMultipartDefect
                | MultipartInvariantViolationDefect,
            ):
                raise _Quarantine("multipart_malformed", type(defect).__name__)
            reading.defects.append(type(defect).__name__)
        if part.get_content_maintype() == "multipart":
            payload = part.get_payload()
            if isinstance(payload, list):
                for sub in payload:
                    if isinstance(sub, Message):
                        visit(sub, depth + 1)
        else:
            leaves.append(part)

    visit(msg, 0)
    if count >= limits.max_parts:
        total = _count_parts(msg)
        if total > count:
            reading.note("parts_dropped", keep_raw=True, total=total, kept=count,
                         dropped=total - count)
            reading.defects.append("parts_dropped")
    return leaves


def _count_parts(msg: Message) -> int:
    """Every MIME part of the message tree (iteratively: no recursion limit)."""
    count = 0
    stack: list[Message] = [msg]
    while stack:
        part = stack.pop()
        count += 1
        if part.get_content_maintype() == "multipart":
            payload = part.get_payload()
            if isinstance(payload, list):
                stack.extend(p for p in payload if isinstance(p, Message))
    return count


def _decode_part(part: Message, reading: _Reading) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    try:
        decoded = decode_bytes(payload, _charset_label(part))
    except CharsetUnsupported as exc:
        raise _Quarantine("charset_unsupported", str(exc)) from None
    except Undecodable as exc:
        raise _Quarantine("body_undecodable", str(exc)) from None
    if decoded.note:
        reading.defects.append(f"body_{decoded.note}")
        if decoded.note.startswith("charset_legacy:"):
            reading.note("charset_legacy", keep_raw=True,
                         charset=decoded.note.split(":", 1)[1], where="body")
    if part.get_content_type() == "text/html":
        return html_to_text(decoded.text)
    return decoded.text


def _charset_label(part: Message) -> str | None:
    """The part's declared charset, as written (``get_content_charset`` would fail on an
    encoded-word or a non-ASCII value)."""
    try:
        return part.get_content_charset()
    except Exception:  # a hostile parameter: read it as unlabelled
        return None


def _body(msg: EmailMessage, limits: EmailLimits, reading: _Reading
          ) -> tuple[list[Message], str]:
    """Plain text preferred; the HTML alternative when there is no (non-blank) plain part."""
    used: list[Message] = []
    for preference in (("plain", "html"), ("html",)):
        part = msg.get_body(preferencelist=preference)
        if part is None or any(part is seen for seen in used):
            continue
        used.append(part)
        text = clean_text(_decode_part(part, reading), max_chars=limits.max_text_chars + 1)
        if len(text) > limits.max_text_chars:
            reading.defects.append("text_truncated")
            text = text[: limits.max_text_chars]
        if text:
            return used, text
    return used, ""


def _filename(part: Message) -> str | None:
    name = part.get_filename()
    if not name:
        return None
    name = clean_line(repair_surrogates(name), max_chars=255)
    name = re.split(r"[/\\]", name)[-1].strip(" .")
    return name or None


def _part_bytes(part: Message) -> bytes | None:
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            return bytes(inner[0].as_bytes())
        return None
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else None


def _attachments(
    leaves: list[Message], body_parts: list[Message], limits: EmailLimits, reading: _Reading
) -> tuple[list[_Candidate], tuple[SkippedAttachment, ...]]:
    candidates: list[_Candidate] = []
    skipped: list[SkippedAttachment] = []
    for part in leaves:
        if any(part is used for used in body_parts):
            continue
        ctype = part.get_content_type()
        if not _MIME_TYPE.fullmatch(ctype):
            ctype = "application/octet-stream"
        filename = _filename(part)
        if ctype in _SIGNATURE_TYPES:
            continue
        if (
            ctype in ("text/plain", "text/html")
            and part.get_content_disposition() != "attachment"
            and filename is None
        ):
            continue  # an unused alternative of the body, not a file
        data = _part_bytes(part)
        if data is None:
            continue
        verdict = judge(filename, ctype, data, limits,
                        check_content=ctype != "message/rfc822")
        if verdict.store_as is None:
            skipped.append(SkippedAttachment(
                filename, ctype, len(data), hashlib.sha256(data).hexdigest(),
                verdict.detected, verdict.reason or "type_not_accepted", verdict.reason_text))
            continue
        if len(data) > limits.max_attachment_bytes:
            shown = ascii_line(filename or ctype, max_chars=120)
            raise _Refuse(
                "attachment_too_large",
                f"552 5.3.4 Attachment {shown} is {_mb(len(data))}; the limit is "
                f"{_mb(limits.max_attachment_bytes)} per file. / Tep dinh kem qua lon, "
                f"gioi han {_mb(limits.max_attachment_bytes)} moi tep.",
            )
        mistyped = verdict.store_as != verdict.declared
        if mistyped:
            reading.note("attachment_type_mismatch", filename=filename or "",
                         declared=verdict.declared, detected=verdict.detected or "")
        candidates.append(_Candidate(filename, verdict.store_as, data,
                                     verdict.declared if mistyped else None, verdict.detected))
    if skipped:
        reading.note("attachments_refused", count=len(skipped),
                     names=", ".join(s.filename or s.content_type for s in skipped)[:300])
    total = sum(len(c.data) for c in candidates)
    if total > limits.max_total_attachment_bytes:
        raise _Refuse(
            "attachments_too_large",
            f"552 5.3.4 Attachments total {_mb(total)}; the limit is "
            f"{_mb(limits.max_total_attachment_bytes)} per email, please send several "
            f"emails. / Tong dung luong tep qua lon, vui long gui thanh nhieu thu.",
        )
    if len(candidates) > limits.max_attachments:
        raise _Refuse(
            "too_many_attachments",
            f"552 5.3.4 Too many attachments: {len(candidates)}; the limit is "
            f"{limits.max_attachments} per email. / Qua nhieu tep dinh kem.",
        )
    return candidates, tuple(skipped)


def _sender(msg: EmailMessage, limits: EmailLimits, reading: _Reading
            ) -> tuple[str, str | None]:
    raws = [r for r in raw_headers(msg, "from") if r.strip()]
    if not raws:
        raise _Quarantine("from_missing", "no From header")
    if len(raws) > 1:
        raise _Quarantine("from_multiple", "several From headers")
    header = msg["from"]
    addresses = getattr(header, "addresses", ())
    if not addresses:
        raise _Quarantine("from_missing", "From header holds no address")
    if len(addresses) > 1:
        raise _Quarantine("from_multiple", "From header holds several addresses")
    address = addresses[0]
    if not address.domain:
        shown = clean_line(repair_surrogates(address.username), max_chars=100)
        raise _Quarantine("from_display_name_only", f"From has a name but no address: {shown!r}")
    addr_spec = repair_surrogates(address.addr_spec)
    unfolded = repair_surrogates(re.sub(r"\r?\n", "", raws[0]))
    # An encoded-word may not stand for an address (RFC 2047 section 5); if the address
    # is not literally in the raw header it was decoded from one, e.g. to spoof our domain.
    if addr_spec.lower() not in unfolded.lower():
        raise _Quarantine("from_encoded_address", "From address comes from an encoded-word")
    try:
        valid = validate_email(addr_spec, check_deliverability=False)
    except EmailNotValidError as exc:
        raise _Quarantine("from_invalid", f"From address invalid: {exc}"[:300]) from None
    # Kept as received: the domain only lower-cased, a punycode domain (xn--…) never
    # decoded to Unicode (email-validator's "normalized" form would decode it), so an
    # address is matched exactly as it was written (sender trust, domain/sender.py).
    normalized = f"{valid.local_part}@{addr_spec.rpartition('@')[2].lower()}"
    if limits.is_own_domain(normalized.rpartition("@")[2]):
        raise _Quarantine("from_own_domain", f"From claims our own domain: {normalized}")
    # The name as written: adjacent encoded-words joined before decoding, broken ones
    # repaired (the parser decodes each word alone: a split UTF-8 character turns into
    # mojibake); the parser's reading when the header is not of the "name <addr>" form.
    from_raw = display_name(repair_surrogates(raws[0]), addr_spec)
    if from_raw is not None:
        name = reading.header("from_name", from_raw)
    else:
        name = clean_line(repair_surrogates(address.display_name or ""), max_chars=200)
    return normalized, name or None


def _recipients(msg: EmailMessage, defects: list[str]) -> tuple[str, ...]:
    try:
        header = msg["to"]
        addresses = getattr(header, "addresses", ())
        found = (f"{a.username}@{a.domain.lower()}" for a in addresses
                 if a.domain and a.username)
        # an address with a control character or a space in it is nobody's: left out
        return tuple(a for a in found if " " not in a and clean_line(a) == a)
    except Exception:  # incl. RecursionError: a broken To must not lose a complaint
        defects.append("to_unparseable")
        return ()

"""Result types of inbound-email parsing: an accepted email, a quarantine, or a refusal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: own_message: one of our own messages come back (a forwarding loop); delay: a delivery
#: status notification saying delivery is only delayed (RFC 3464 ``Action: delayed``);
#: delivery_report: one saying it was delivered, relayed or expanded (nothing failed).
EmailKind = Literal["message", "auto_reply", "bounce", "list", "own_message", "delay",
                    "delivery_report"]

QuarantineReason = Literal[
    "parse_error",
    "header_recursion",
    "header_encoding",
    "multipart_truncated",
    "multipart_malformed",
    "too_many_parts",
    "nesting_too_deep",
    "from_missing",
    "from_multiple",
    "from_display_name_only",
    "from_encoded_address",
    "from_invalid",
    "from_own_domain",
    "charset_unsupported",
    "body_undecodable",
]

RefusalReason = Literal[
    "message_too_large",
    "attachment_too_large",
    "attachments_too_large",
    "too_many_attachments",
]


@dataclass(frozen=True, slots=True)
class StoredAttachment:
    """``content_type`` is what the file is stored and served as: the type its content
    was recognised as when that differs from the declared one (``declared_type``)."""

    sha256: str
    filename: str | None
    content_type: str
    size: int
    declared_type: str | None = None
    detected_type: str | None = None

    @property
    def type_mismatch(self) -> bool:
        return self.declared_type is not None and self.declared_type != self.content_type


@dataclass(frozen=True, slots=True)
class SkippedAttachment:
    """An attachment refused by its type: its bytes are never stored; what it was is
    recorded for staff. ``content_type``: as declared by the message; ``detected_type``:
    what its content is (None when not recognised); ``reason``: ``type_not_accepted``,
    ``extension_refused`` or ``content_not_accepted`` (the content is of a refused type
    whatever the declared one), ``reason_text`` in words."""

    filename: str | None
    content_type: str
    size: int
    sha256: str = ""
    detected_type: str | None = None
    reason: str = "type_not_accepted"
    reason_text: str = ""


@dataclass(frozen=True, slots=True)
class MailNote:
    """Something staff should know about how a message was read: ``code`` (see
    ``domain.mail.NOTE_CODES``) and its parameters (all strings)."""

    code: str
    params: tuple[tuple[str, str], ...] = ()

    def as_dict(self) -> dict[str, str]:
        return dict(self.params)


@dataclass(frozen=True, slots=True)
class DeliveryStatus:
    """One recipient's block of a delivery status notification (RFC 3464 section 2.3)."""

    action: str
    status: str | None = None
    diagnostic: str | None = None
    will_retry_until: str | None = None
    recipient: str | None = None


@dataclass(frozen=True, slots=True)
class InboundEmail:
    """A parsed, sanitised inbound email.

    Message ids are normalised by `headers.normalise_message_id`: whitespace removed, always
    wrapped in angle brackets, domain part (after the last "@") lower-cased, local part kept.
    A message without a usable Message-ID gets `<raw-sha256@missing-message-id.invalid>`, so
    the same bytes delivered twice still deduplicate.
    """

    message_id: str
    from_address: str
    from_name: str | None
    to: tuple[str, ...]
    subject: str
    text: str
    in_reply_to: str | None
    references: tuple[str, ...]
    reference_in_subject: str | None
    attachments: tuple[StoredAttachment, ...]
    kind: EmailKind
    bounced_message_ids: tuple[str, ...]
    received_raw_sha256: str
    skipped_attachments: tuple[SkippedAttachment, ...] = ()
    # Parser defects and decoding fallbacks, e.g. "body_charset_guessed:x-unknown->cp1258".
    defects: tuple[str, ...] = ()
    #: what staff should know about how it was read (repairs, legacy charsets, dropped
    #: parts, refused or mistyped attachments)
    notes: tuple[MailNote, ...] = ()
    #: the text was mended or decoded by our own tables: keep the raw bytes for a human
    keep_raw: bool = False
    #: delivery status notifications: one block per recipient
    delivery: tuple[DeliveryStatus, ...] = ()


@dataclass(frozen=True, slots=True)
class Quarantined:
    """Not processable automatically; keep the raw bytes (QuarantineStore) for a human."""

    reason_code: QuarantineReason
    reason_text: str
    raw_sha256: str
    message_id: str | None


@dataclass(frozen=True, slots=True)
class Refused:
    """Rejected at SMTP time; `smtp_reply_text` is a complete, ASCII, single-line reply."""

    reason_code: RefusalReason
    smtp_reply_text: str


ParseResult = InboundEmail | Quarantined | Refused

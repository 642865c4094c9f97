"""Result types of inbound-email parsing: an accepted email, a quarantine, or a refusal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

EmailKind = Literal["message", "auto_reply", "bounce", "list"]

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
    sha256: str
    filename: str | None
    content_type: str
    size: int


@dataclass(frozen=True, slots=True)
class SkippedAttachment:
    """An attachment whose content type is not accepted: dropped, not stored."""

    filename: str | None
    content_type: str
    size: int


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

"""Inbound email for intake: parse, classify, store attachments, listen on SMTP."""

from .attachments import AttachmentStore, QuarantineStore
from .limits import EmailLimits
from .model import (
    EmailKind,
    InboundEmail,
    ParseResult,
    Quarantined,
    Refused,
    SkippedAttachment,
    StoredAttachment,
)
from .parsing import parse_inbound
from .smtp_listener import IntakeSmtpHandler, SmtpListenerJob, start_smtp_listener

__all__ = [
    "AttachmentStore",
    "EmailKind",
    "EmailLimits",
    "InboundEmail",
    "IntakeSmtpHandler",
    "ParseResult",
    "QuarantineStore",
    "Quarantined",
    "Refused",
    "SkippedAttachment",
    "SmtpListenerJob",
    "StoredAttachment",
    "parse_inbound",
    "start_smtp_listener",
]

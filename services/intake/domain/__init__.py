"""Intake's domain: a received request, its human reference, the indexes that find it
again, hotline calls, mail that became no request, and the rules of step 1 (filing window,
channel rules).

Pure: no I/O, no clock (times are passed in)."""

from hotro.services.intake.domain.channel_rules import ChannelName, ChannelRule, ChannelRules
from hotro.services.intake.domain.duplicates import CustomerIndex
from hotro.services.intake.domain.filing import FilingCheck, filing_window_check
from hotro.services.intake.domain.hotline import HotlineCall
from hotro.services.intake.domain.idempotency import (
    ScopedKey,
    anonymous_scope,
    fingerprint,
    request_id_for_email,
    request_id_for_idempotency_key,
    staff_scope,
)
from hotro.services.intake.domain.indexes import MessageIndex, PhoneIndex
from hotro.services.intake.domain.mail import MailRecord
from hotro.services.intake.domain.references import (
    REFERENCE_PREFIX,
    ReferenceCounter,
    ReferenceIndex,
)
from hotro.services.intake.domain.request import STEPS, Request
from hotro.services.intake.domain.webhook import WebhookDelivery
from hotro.shared.eventstore.topics import register_topics

__all__ = [
    "REFERENCE_PREFIX",
    "STEPS",
    "ChannelName",
    "ChannelRule",
    "ChannelRules",
    "CustomerIndex",
    "FilingCheck",
    "HotlineCall",
    "MailRecord",
    "MessageIndex",
    "PhoneIndex",
    "ReferenceCounter",
    "ReferenceIndex",
    "Request",
    "ScopedKey",
    "WebhookDelivery",
    "anonymous_scope",
    "filing_window_check",
    "fingerprint",
    "request_id_for_email",
    "request_id_for_idempotency_key",
    "staff_scope",
]

register_topics(Request, ReferenceCounter, ReferenceIndex, MessageIndex, PhoneIndex, HotlineCall,
                MailRecord, legacy_module="services.intake.domain")
register_topics(WebhookDelivery, CustomerIndex)  # new since pinning: no legacy topic

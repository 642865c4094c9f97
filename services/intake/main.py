"""Composition root of the intake service: settings → application → views → inbound
mail → runtime (with every background job) → HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError

from hotro.services.intake.adapters.email import (
    AttachmentStore,
    EmailLimits,
    QuarantineStore,
    SmtpListenerJob,
)
from hotro.services.intake.adapters.email.authentication import DnsLookup
from hotro.services.intake.adapters.imap_poller import ImapConfig, ImapPollerJob
from hotro.services.intake.adapters.inbound_mail import MailIntake
from hotro.services.intake.adapters.reference_data import load_catalogue, load_channel_rules
from hotro.services.intake.api import build_customer_router, build_intake_router, build_router
from hotro.services.intake.application import IntakeApplication
from hotro.services.intake.domain import FilingCheck, filing_window_check
from hotro.services.intake.duplicates_api import build_duplicates_router
from hotro.services.intake.errors import (
    FieldErrors,
    InvalidInput,
    on_field_errors,
    on_request_validation,
)
from hotro.services.intake.public_limits import PublicLimits, SenderLimit
from hotro.services.intake.settings import IntakeSettings
from hotro.services.intake.views import CustomerCases, HotlineCalls, MailLog
from hotro.shared.calendar import load_calendar, load_policy
from hotro.shared.eventstore.persistence import persistence_env
from hotro.shared.eventstore.schema import ensure_store
from hotro.shared.observability.metrics import ServiceMetrics
from hotro.shared.privacy.kv import NatsKeyRing, keyring_job
from hotro.shared.privacy.pending import FallbackKeyRing, PendingKeyFlush
from hotro.shared.privacy.sealing import CachedKeyRing, KeyRing
from hotro.shared.privacy.secrets import ephemeral_hash_secret
from hotro.shared.runtime.host import Background, ServiceRuntime, build_http_app
from hotro.shared.runtime.shared_window import LimitsBucket
from hotro.shared.staff.http import install_authenticator
from hotro.shared.staff.wiring import authenticator_for


def hash_secret(settings: IntakeSettings) -> bytes:
    """HOTRO_PII_HASH_SECRET: keyed hashes of phone numbers and email addresses. Every
    intake replica must use the same one, so it is required (``hotro up`` generates one
    into its data directory); only the in-memory test store may go without."""
    if settings.pii_hash_secret is not None:
        return settings.pii_hash_secret.get_secret_value().encode()
    if settings.allow_memory_store:
        return ephemeral_hash_secret()
    raise ValueError("HOTRO_PII_HASH_SECRET is required (the key of the phone/email hashes; "
                     "the same for every intake replica)")


def build_application(settings: IntakeSettings, *,
                      clock: Callable[[], datetime] | None = None,
                      filing_check: FilingCheck | None = None,
                      keyring: KeyRing | None = None,
                      pii_hash_secret: bytes | None = None) -> IntakeApplication:
    """The service layer on its store (also what audit and replay tools open).
    Without ``keyring``: the process's in-memory key ring (tools, tests); without
    ``pii_hash_secret``: the setting, else a per-process one (tools build no index)."""
    ensure_store(settings.store_url)
    if filing_check is None:
        filing_check = filing_window_check(load_calendar(),
                                           load_policy(settings.deadline_policy_file))
    return IntakeApplication(
        env=persistence_env(settings.store_url, allow_memory=settings.allow_memory_store),
        clock=clock, filing_check=filing_check,
        channel_rules=load_channel_rules(settings.channel_rules_path),
        link_window=timedelta(days=settings.hotline_link_window_days),
        duplicate_window=timedelta(days=settings.duplicate_window_days),
        keyring=keyring,
        hash_secret=pii_hash_secret or (settings.pii_hash_secret.get_secret_value().encode()
                                        if settings.pii_hash_secret else None),
    )


def email_limits(settings: IntakeSettings) -> EmailLimits:
    mib = 1024 * 1024
    return EmailLimits(max_message_bytes=settings.email_max_message_mb * mib,
                       max_attachment_bytes=settings.email_max_attachment_mb * mib,
                       max_total_attachment_bytes=settings.email_max_total_attachments_mb * mib,
                       max_parts=settings.email_max_parts,
                       own_domains=settings.own_domains())


def create_app(settings: IntakeSettings | None = None, *,
               clock: Callable[[], datetime] | None = None,
               filing_check: FilingCheck | None = None, dkim_dns: DnsLookup | None = None,
               **overrides: Any) -> FastAPI:
    """``dkim_dns``: the DKIM key look-up of inbound mail (tests provide their keys;
    default: DNS)."""
    settings = settings or IntakeSettings()
    catalogue = load_catalogue(settings.catalogue_file)
    # Data keys: in NATS KV, reached from worker threads through the runtime's loop; the
    # in-memory store (unit tests, no NATS started) keeps them in the process.
    nats_keys = None if settings.allow_memory_store else NatsKeyRing()
    keyring: KeyRing | None = (CachedKeyRing(nats_keys, ttl_s=settings.pii_key_cache_s)
                               if nats_keys is not None else None)
    application = build_application(settings, clock=clock, filing_check=filing_check,
                                     keyring=keyring, pii_hash_secret=hash_secret(settings))
    calls = HotlineCalls(application)
    mail_log = MailLog(application)
    customers = CustomerCases(application)
    limits = email_limits(settings)
    # What strangers may do is counted by every replica together, in NATS KV.
    shared_counts = None if settings.allow_memory_store else \
        LimitsBucket("intake", lambda: runtime.js, connected=lambda: bool(
            runtime.conn is not None and runtime.conn.connected.is_set()))
    attachments = AttachmentStore(settings.attachments_path())
    mail = MailIntake(application, limits=limits, attachments=attachments,
                      quarantine=QuarantineStore(settings.quarantine_path()),
                      authserv_id=settings.email_authserv_id or None, dkim_dns=dkim_dns,
                      dkim_timeout_s=settings.email_dkim_timeout_s,
                      sender_limit=SenderLimit(per_sender=settings.mail_per_sender,
                                               window_s=settings.public_window_s,
                                               per_unverified_sender=(
                                                   settings.mail_per_unverified_sender),
                                               unverified_in_all=(
                                                   settings.mail_unverified_in_all),
                                               bucket=shared_counts))
    # Who is calling: staff by token or console assertion, customers by their case's link
    # (its generation looked up in the CustomerCases view, so a revocation is immediate).
    authenticator = authenticator_for(settings, capability_generation=customers.generation)
    if clock is not None:
        authenticator.clock = clock  # links and assertions expire on the service's clock

    # The jobs below read the runtime (its NATS connection, its leases) when they run,
    # i.e. after it is built at the end of this block.
    background: list[Background] = []
    if shared_counts is not None:
        background.append(shared_counts.bind_job())
    move_pending_keys: Callable[[bool], Awaitable[None]] | None = None
    if nats_keys is not None:
        ring = nats_keys

        async def attach_keyring(stop: asyncio.Event) -> None:
            await keyring_job(runtime, ring)(stop)

        background.append(attach_keyring)
        sealing = application.keyring
        if not isinstance(sealing, FallbackKeyRing):  # given a key store, intake falls back
            raise TypeError(f"intake seals with {type(sealing).__name__}, not a fallback ring")
        move_pending_keys = PendingKeyFlush(sealing, lambda: runtime.js)
    if settings.smtp_listen_port:
        background.append(SmtpListenerJob(
            mail.on_smtp_message, host=settings.smtp_listen_host,
            port=settings.smtp_listen_port, accept_recipients=settings.accept_recipients(),
            data_size_limit=settings.smtp_data_size_limit_mb * 1024 * 1024,
            tls_context=settings.smtp_tls(), require_tls=settings.smtp_require_tls))
    if settings.imap_host:
        # One replica polls (the relay-lease holder); Message-ID dedupe makes overlap harmless.
        background.append(ImapPollerJob(
            mail, ImapConfig.from_settings(settings),
            is_leader=lambda: bool(runtime.leases and runtime.leases.holds_relay())))
    runtime = ServiceRuntime(settings, application, ServiceMetrics("intake"),
                             background=tuple(background), before_publish=move_pending_keys,
                             **overrides)

    secret = settings.hotline_webhook_secret
    http = build_http_app(runtime, [
        build_router(application, catalogue, customers=customers, public_limits=PublicLimits(
            per_contact=settings.public_per_contact, per_address=settings.public_per_address,
            window_s=settings.public_window_s, trusted=settings.trusted_proxies,
            bucket=shared_counts)),
        build_duplicates_router(application),
        build_customer_router(application, customers, attachments=attachments, limits=limits),
        build_intake_router(application, calls, mail_log,
                            hotline_secret=secret.get_secret_value() if secret else None,
                            max_skew_s=settings.hotline_max_clock_skew_s),
    ], title="Hotro intake", validation_error=InvalidInput)
    install_authenticator(http, authenticator)
    http.add_exception_handler(RequestValidationError, on_request_validation)
    http.add_exception_handler(FieldErrors, on_field_errors)
    http.state.mail = mail
    http.state.hotline_calls = calls
    http.state.mail_log = mail_log
    http.state.customer_cases = customers
    return http

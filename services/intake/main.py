"""Composition root of the intake service."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError

from hotro.services.intake.api import build_intake_router, build_router
from hotro.services.intake.application import IntakeApplication
from hotro.services.intake.email import AttachmentStore, QuarantineStore
from hotro.services.intake.errors import FieldErrors, on_field_errors, on_request_validation
from hotro.services.intake.filing import FilingCheck, calendar_filing_check
from hotro.services.intake.imap_poller import ImapConfig, ImapPollerJob
from hotro.services.intake.mail_intake import MailIntake, SmtpListenerJob, email_limits
from hotro.services.intake.reference_data import load_catalogue, load_channel_rules
from hotro.services.intake.settings import IntakeSettings
from hotro.shared.calendar import load_policy
from hotro.shared.eventstore.persistence import persistence_env
from hotro.shared.eventstore.schema import ensure_store
from hotro.shared.observability.metrics import ServiceMetrics
from hotro.shared.privacy.kv import NatsKeyRing, keyring_job
from hotro.shared.privacy.pending import flush_pending_keys
from hotro.shared.privacy.sealing import CachedKeyRing, KeyRing
from hotro.shared.privacy.secrets import ephemeral_hash_secret
from hotro.shared.runtime.host import ServiceRuntime, build_http_app
from hotro.shared.staff.users import load_directory


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
        policy = load_policy(settings.deadline_policy_file)
        filing_check = calendar_filing_check(policy=policy)
    return IntakeApplication(
        env=persistence_env(settings.store_url, allow_memory=settings.allow_memory_store),
        clock=clock, filing_check=filing_check,
        channel_rules=load_channel_rules(settings.channel_rules_path),
        link_window=timedelta(days=settings.hotline_link_window_days),
        keyring=keyring,
        hash_secret=pii_hash_secret or (settings.pii_hash_secret.get_secret_value().encode()
                                        if settings.pii_hash_secret else None),
    )


def create_app(settings: IntakeSettings | None = None, *,
               clock: Callable[[], datetime] | None = None,
               filing_check: FilingCheck | None = None, **overrides: Any) -> FastAPI:
    settings = settings or IntakeSettings()  # type: ignore[call-arg]
    catalogue = load_catalogue(settings.catalogue_file)
    # Data keys: in NATS KV, reached from worker threads through the runtime's loop; the
    # in-memory store (unit tests, no NATS started) keeps them in the process.
    nats_keys = None if settings.allow_memory_store else NatsKeyRing()
    keyring: KeyRing | None = (CachedKeyRing(nats_keys, ttl_s=settings.pii_key_cache_s)
                               if nats_keys is not None else None)
    application = build_application(settings, clock=clock, filing_check=filing_check,
                                     keyring=keyring, pii_hash_secret=hash_secret(settings))
    mail = MailIntake(application, limits=email_limits(settings),
                      attachments=AttachmentStore(settings.attachments_path()),
                      quarantine=QuarantineStore(settings.quarantine_path()))
    runtime = ServiceRuntime(settings, application, ServiceMetrics("intake"), **overrides)
    if nats_keys is not None:
        runtime.background = (*runtime.background, keyring_job(runtime, nats_keys))

        async def move_pending_keys() -> None:
            await flush_pending_keys(application.pending_keys, runtime.js)

        runtime.before_publish = move_pending_keys
    if settings.smtp_listen_port:
        runtime.background = (*runtime.background, SmtpListenerJob(mail, settings))
    if settings.imap_host:
        # One replica polls (the relay-lease holder); Message-ID dedupe makes overlap harmless.
        runtime.background = (*runtime.background, ImapPollerJob(
            mail, ImapConfig.from_settings(settings),
            is_leader=lambda: bool(runtime.leases and runtime.leases.holds_relay())))
    secret = settings.hotline_webhook_secret
    staff = load_directory(settings.users_file)
    http = build_http_app(runtime, [
        build_router(application, catalogue, directory=staff),
        build_intake_router(application,
                            hotline_secret=secret.get_secret_value() if secret else None,
                            max_skew_s=settings.hotline_max_clock_skew_s, directory=staff),
    ], title="Hotro intake")
    http.add_exception_handler(RequestValidationError, on_request_validation)
    http.add_exception_handler(FieldErrors, on_field_errors)
    http.state.mail = mail
    return http

"""Composition root of the notify service."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from hotro.services.notify.api import build_router
from hotro.services.notify.application import NotifyApplication, Recipients
from hotro.services.notify.channel_deliverer import ChannelDeliverer
from hotro.services.notify.channels.email_smtp import MaildirSender, Sender, SmtpSender
from hotro.services.notify.channels.letter_pdf import LetterStore
from hotro.services.notify.channels.sms import (
    RecordingShortMessageSender,
    ShortMessageSender,
    WebhookShortMessageSender,
)
from hotro.services.notify.delivery import Deliverer
from hotro.services.notify.delivery_log import DeliveryLog
from hotro.services.notify.rendering import CompanyInfo
from hotro.services.notify.sender import DeliveryLoop
from hotro.services.notify.settings import NotifySettings
from hotro.shared.clock import system_clock
from hotro.shared.eventstore.persistence import persistence_env
from hotro.shared.eventstore.schema import ensure_store
from hotro.shared.observability.metrics import ServiceMetrics
from hotro.shared.privacy.kv import NatsKeyRing, keyring_job
from hotro.shared.privacy.sealing import CachedKeyRing, KeyRing
from hotro.shared.runtime.host import ServiceRuntime, build_http_app
from hotro.shared.staff.users import load_directory

log = logging.getLogger(__name__)


def build_deliverer(settings: NotifySettings, clock: Callable[[], datetime]) -> ChannelDeliverer:
    email: Sender
    if settings.smtp_host:
        email = SmtpSender(settings.smtp_host, settings.smtp_port, settings.smtp_starttls,
                           settings.smtp_username,
                           settings.smtp_password.get_secret_value()
                           if settings.smtp_password else None,
                           settings.smtp_timeout_s, sender=settings.mail_from)
    else:
        maildir = Path(settings.maildir or Path(settings.data_dir) / "mail").resolve()
        email = MaildirSender(maildir, sender=settings.mail_from)
        log.info("no SMTP server configured: outgoing mail goes to the Maildir %s", maildir)
    sms: ShortMessageSender
    if settings.sms_webhook_url and settings.sms_webhook_secret:
        sms = WebhookShortMessageSender(settings.sms_webhook_url,
                                        settings.sms_webhook_secret.get_secret_value(),
                                        httpx.Client(timeout=10))
    else:
        sms = RecordingShortMessageSender()
    company = CompanyInfo(name=settings.company_name, hotline=settings.company_hotline,
                          email=settings.company_email, address=settings.company_address)
    letters = LetterStore(letters_dir(settings))
    return ChannelDeliverer(email=email, sms=sms, letters=letters, company=company, clock=clock)


def maildir_path(settings: NotifySettings) -> Path | None:
    """Where outgoing mail lands when no SMTP server is configured (for ``hotro up``)."""
    if settings.smtp_host:
        return None
    return Path(settings.maildir or Path(settings.data_dir) / "mail").resolve()


def letters_dir(settings: NotifySettings) -> Path:
    return Path(settings.letters_dir or Path(settings.data_dir) / "letters").resolve()


def build_application(settings: NotifySettings, *,
                      clock: Callable[[], datetime] | None = None,
                      keyring: KeyRing | None = None) -> NotifyApplication:
    """The service layer on its store (also what audit and replay tools open).
    Without ``keyring``: the process's in-memory key ring (tools, tests)."""
    ensure_store(settings.store_url)
    return NotifyApplication(
        env=persistence_env(settings.store_url, allow_memory=settings.allow_memory_store),
        clock=clock or system_clock, max_attempts=settings.max_attempts,
        recipients=Recipients(supervisor=settings.supervisor_email,
                              support=settings.support_email, mail_domain=settings.mail_domain,
                              staff_email_template=settings.staff_email_template),
        keyring=keyring,
    )


def create_app(settings: NotifySettings | None = None, *,
               clock: Callable[[], datetime] | None = None,
               deliverer: Deliverer | None = None, **overrides: Any) -> FastAPI:
    settings = settings or NotifySettings()  # type: ignore[call-arg]
    clock = clock or system_clock
    # Data keys in NATS KV (opened from worker threads through the runtime's loop); the
    # in-memory store (unit tests, no NATS started) keeps them in the process.
    nats_keys = None if settings.allow_memory_store else NatsKeyRing()
    keyring: KeyRing | None = (CachedKeyRing(nats_keys, ttl_s=settings.pii_key_cache_s)
                               if nats_keys is not None else None)
    application = build_application(settings, clock=clock, keyring=keyring)
    runtime = ServiceRuntime(settings, application, ServiceMetrics("notify"), **overrides)
    if nats_keys is not None:
        runtime.background = (*runtime.background, keyring_job(runtime, nats_keys))
    loop = DeliveryLoop(application, deliverer or build_deliverer(settings, clock),
                        lambda: runtime.leases.held_partitions() if runtime.leases else [],
                        settings.partitions, backoff_s=settings.delivery_backoff_s)
    runtime.background = (*runtime.background, loop.run)
    delivery_log = DeliveryLog(application)
    staff = load_directory(settings.users_file)
    http = build_http_app(runtime, [build_router(application, settings, delivery_log,
                                                 directory=staff)],
                          title="Hotro notify")
    http.state.delivery = loop
    http.state.delivery_log = delivery_log
    http.state.maildir = maildir_path(settings)
    http.state.letters_dir = letters_dir(settings)
    return http

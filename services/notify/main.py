"""Composition root of the notify service: settings → application → views → workers →
runtime → HTTP."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from hotro.services.notify.adapters.channels import Channels
from hotro.services.notify.adapters.email_smtp import MaildirMailer, Mailer, SmtpMailer
from hotro.services.notify.adapters.letter_pdf import LetterStore
from hotro.services.notify.adapters.rendering import CompanyInfo, department_addresses
from hotro.services.notify.adapters.sms import (
    RecordingShortMessageGateway,
    ShortMessageGateway,
    SmsOutbox,
    WebhookShortMessageGateway,
)
from hotro.services.notify.api import build_router
from hotro.services.notify.application import CustomerLinks, NotifyApplication, Recipients
from hotro.services.notify.application.channel import Channel
from hotro.services.notify.settings import NotifySettings
from hotro.services.notify.views import DispatchLog
from hotro.services.notify.workers import DispatchSender
from hotro.shared.clock import system_clock
from hotro.shared.eventstore.persistence import persistence_env
from hotro.shared.eventstore.schema import ensure_store
from hotro.shared.observability.metrics import ServiceMetrics
from hotro.shared.privacy.kv import NatsKeyRing, keyring_job
from hotro.shared.privacy.sealing import CachedKeyRing, KeyRing
from hotro.shared.runtime.host import Background, ServiceRuntime, build_http_app
from hotro.shared.staff.http import install_authenticator
from hotro.shared.staff.wiring import authenticator_for, capability_keys

log = logging.getLogger(__name__)


def build_channels(settings: NotifySettings, clock: Callable[[], datetime]) -> Channels:
    email: Mailer
    if settings.smtp_host:
        email = SmtpMailer(settings.smtp_host, settings.smtp_port,
                           settings.smtp_starttls and not settings.smtp_implicit_tls,
                           settings.smtp_username, settings.smtp_secret(),
                           settings.smtp_timeout_s, sender=settings.mail_from,
                           ssl_context=settings.smtp_tls(),
                           implicit_tls=settings.smtp_implicit_tls)
    else:
        maildir = settings.maildir_path()
        email = MaildirMailer(maildir, sender=settings.mail_from)
        log.info("no SMTP server configured: outgoing mail goes to the Maildir %s", maildir)
    sms: ShortMessageGateway
    if settings.sms_webhook_url and settings.sms_webhook_secret:
        sms = WebhookShortMessageGateway(settings.sms_webhook_url,
                                         settings.sms_webhook_secret.get_secret_value(),
                                         httpx.Client(timeout=10))
    else:
        outbox = sms_outbox(settings)
        sms = RecordingShortMessageGateway(outbox)
        log.info("no SMS provider configured: short messages go to %s",
                 outbox.directory if outbox else "memory")
    company = CompanyInfo(name=settings.company_name, hotline=settings.company_hotline,
                          email=settings.company_email, address=settings.company_address)
    return Channels(email=email, sms=sms, letters=LetterStore(settings.letters_path()),
                    company=company, clock=clock, catalogue=settings.catalogue_file)


def sms_outbox(settings: NotifySettings) -> SmsOutbox | None:
    """The local run's SMS outbox, ``<data dir>/outbox/sms`` (a file per SMS, like the
    Maildir for email); None when a provider sends them."""
    if settings.sms_webhook_url and settings.sms_webhook_secret:
        return None
    return SmsOutbox(Path(settings.data_dir) / "outbox" / "sms")


def customer_links(settings: NotifySettings) -> CustomerLinks | None:
    """The customers' case links, from the capability keys (None without them: messages
    then go without a link, which is logged once here)."""
    keys = capability_keys(settings)
    if keys is None:
        log.warning("HOTRO_CAPABILITY_KEYS_FILE is not set: acknowledgements, information "
                    "requests and reminders go out WITHOUT the customer's link to their case")
        return None
    return CustomerLinks(keys, settings.public_base_url)


def build_application(settings: NotifySettings, *,
                      clock: Callable[[], datetime] | None = None,
                      keyring: KeyRing | None = None,
                      links: CustomerLinks | None = None) -> NotifyApplication:
    """The service layer on its store (also what audit and replay tools open).
    Without ``keyring``: the process's in-memory key ring (tools, tests); without
    ``links``: no customer links in what is sent (tools send nothing)."""
    ensure_store(settings.store_url)
    return NotifyApplication(
        env=persistence_env(settings.store_url, allow_memory=settings.allow_memory_store),
        clock=clock or system_clock, max_attempts=settings.max_attempts,
        recipients=Recipients(supervisor=settings.supervisor_email,
                              support=settings.support_email, mail_domain=settings.mail_domain,
                              staff_email_template=settings.staff_email_template,
                              departments=department_addresses(settings.catalogue_file)),
        keyring=keyring, customer_links=links,
    )


def create_app(settings: NotifySettings | None = None, *,
               clock: Callable[[], datetime] | None = None,
               channel: Channel | None = None, **overrides: Any) -> FastAPI:
    settings = settings or NotifySettings()
    clock = clock or system_clock
    # Data keys in NATS KV (opened from worker threads through the runtime's loop); the
    # in-memory store (unit tests, no NATS started) keeps them in the process.
    nats_keys = None if settings.allow_memory_store else NatsKeyRing()
    keyring: KeyRing | None = (CachedKeyRing(nats_keys, ttl_s=settings.pii_key_cache_s)
                               if nats_keys is not None else None)
    application = build_application(settings, clock=clock, keyring=keyring,
                                     links=customer_links(settings))
    outbox = sms_outbox(settings)
    dispatch_log = DispatchLog(application, sms_text=outbox.text_for if outbox else None)
    # Who is calling: staff by API token or console assertion (no customer links here).
    authenticator = authenticator_for(settings)
    if clock is not system_clock:
        authenticator.clock = clock  # tests: assertions expire on the injected clock

    def held_partitions() -> list[int]:  # the runtime's leases, once it has started
        return runtime.leases.held_partitions() if runtime.leases else []

    sender = DispatchSender(application, channel or build_channels(settings, clock),
                            held_partitions, settings.partitions,
                            backoff_s=settings.send_backoff_s)
    jobs: list[Background] = [*overrides.pop("background", ())]
    if nats_keys is not None:
        keys = nats_keys

        async def attach_keys(stop: asyncio.Event) -> None:  # to the runtime's NATS
            await keyring_job(runtime, keys)(stop)

        jobs.append(attach_keys)
    jobs.append(sender.run)
    runtime = ServiceRuntime(settings, application, ServiceMetrics("notify"),
                             background=tuple(jobs), **overrides)
    http = build_http_app(runtime, [build_router(application, settings, dispatch_log)],
                          title="Hotro notify")
    install_authenticator(http, authenticator)
    http.state.sender = sender
    http.state.dispatch_log = dispatch_log
    http.state.maildir = None if settings.smtp_host else settings.maildir_path()
    http.state.letters_dir = settings.letters_path()
    return http

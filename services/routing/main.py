"""Composition root of the routing service.

Configuration is checked before anything else starts: a catalogue, triage or users file
with a bad entry raises ``ConfigError`` naming the file and the entry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from hotro.services.routing.adapters.attachments import DepartmentFiles
from hotro.services.routing.adapters.config_files import load_catalogue, load_triage_rules
from hotro.services.routing.api import build_router
from hotro.services.routing.application import RoutingApplication
from hotro.services.routing.settings import RoutingSettings
from hotro.services.routing.views import CaseQueues
from hotro.services.routing.workers import follow_case_queues
from hotro.shared.calendar import load_policy
from hotro.shared.eventstore.persistence import persistence_env
from hotro.shared.eventstore.schema import ensure_store
from hotro.shared.observability.metrics import ServiceMetrics
from hotro.shared.runtime.host import ServiceRuntime, build_http_app
from hotro.shared.staff.http import install_authenticator
from hotro.shared.staff.wiring import authenticator_for


def build_application(settings: RoutingSettings, *,
                      clock: Callable[[], datetime] | None = None) -> RoutingApplication:
    """The service layer on its store (also what audit and replay tools open)."""
    catalogue = load_catalogue(Path(settings.catalogue_file))
    triage = load_triage_rules(Path(settings.triage_file), catalogue)
    ensure_store(settings.store_url)
    return RoutingApplication(
        env=persistence_env(settings.store_url, allow_memory=settings.allow_memory_store),
        clock=clock, catalogue=catalogue, triage=triage,
        deadline_policy=load_policy(settings.deadline_policy_file),
        auto_close_after_reply=settings.auto_close_after_reply,
        customer_info_timeout=settings.customer_info_timeout,
    )


def create_app(settings: RoutingSettings | None = None, *,
               clock: Callable[[], datetime] | None = None, **overrides: Any) -> FastAPI:
    settings = settings or RoutingSettings()
    triage_file = Path(settings.triage_file)
    # Who is calling: staff by API token or console assertion (the users file, reloaded
    # when it changes); routing takes no customer links.
    authenticator = authenticator_for(settings)
    application = build_application(settings, clock=clock)
    authenticator.directory.check_departments(application.catalogue.department_codes)
    if clock is not None:
        authenticator.clock = clock  # assertions expire on the service's clock
    queues = CaseQueues(application)
    runtime = ServiceRuntime(settings, application, ServiceMetrics("routing"),
                             background=[follow_case_queues(queues, settings.queue_refresh_s)],
                             **overrides)
    files = DepartmentFiles(settings.department_files_path(),
                            settings.department_upload_limits())
    http = build_http_app(runtime, [build_router(application, queues, files=files,
                                                 triage_file=triage_file)],
                          title="Hotro routing")
    install_authenticator(http, authenticator)
    http.state.queues = queues
    return http

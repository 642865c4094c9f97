"""Composition root of the routing service."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from services.routing.api import build_router
from services.routing.application import RoutingApplication
from services.routing.domain.catalogue import load_catalogue
from services.routing.domain.triage import load_triage_rules
from services.routing.queues import CaseQueues
from services.routing.settings import RoutingSettings
from services.routing.users import load_directory
from shared.eventstore.persistence import persistence_env
from shared.eventstore.schema import ensure_store
from shared.observability.metrics import ServiceMetrics
from shared.runtime.host import ServiceRuntime, build_http_app


def create_app(settings: RoutingSettings | None = None, *,
               clock: Callable[[], datetime] | None = None, **overrides: Any) -> FastAPI:
    settings = settings or RoutingSettings()  # type: ignore[call-arg]
    catalogue = load_catalogue(Path(settings.catalogue_file))
    triage = load_triage_rules(Path(settings.triage_file), catalogue)
    directory = load_directory(settings.users_file)
    ensure_store(settings.store_url)
    application = RoutingApplication(
        env=persistence_env(settings.store_url, allow_memory=settings.allow_memory_store),
        clock=clock, catalogue=catalogue, triage=triage,
        auto_refuse_late=settings.auto_refuse_late,
        auto_close_after_reply=settings.auto_close_after_reply,
    )
    queues = CaseQueues(application)
    runtime = ServiceRuntime(settings, application, ServiceMetrics("routing"), **overrides)
    runtime.background = (*runtime.background, queues.run)
    return build_http_app(runtime, [build_router(application, queues, directory)],
                          title="Hotro routing")

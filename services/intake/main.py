"""Composition root of the intake service."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import FastAPI

from services.intake.api import build_router
from services.intake.application import FilingCheck, IntakeApplication
from services.intake.settings import IntakeSettings
from shared.eventstore.persistence import persistence_env
from shared.eventstore.schema import ensure_store
from shared.observability.metrics import ServiceMetrics
from shared.runtime.host import ServiceRuntime, build_http_app


def create_app(settings: IntakeSettings | None = None, *,
               clock: Callable[[], datetime] | None = None,
               filing_check: FilingCheck | None = None, **overrides: Any) -> FastAPI:
    settings = settings or IntakeSettings()  # type: ignore[call-arg]
    ensure_store(settings.store_url)
    application = IntakeApplication(
        env=persistence_env(settings.store_url, allow_memory=settings.allow_memory_store),
        clock=clock, filing_check=filing_check,
    )
    runtime = ServiceRuntime(settings, application, ServiceMetrics("intake"), **overrides)
    return build_http_app(runtime, [build_router(application)], title="Hotro intake")

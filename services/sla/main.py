"""Composition root of the SLA service."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import FastAPI

from hotro.services.sla.adapters.calendar_data import load_planner
from hotro.services.sla.api import build_router
from hotro.services.sla.application import SlaApplication
from hotro.services.sla.domain.clock import PausePolicy
from hotro.services.sla.settings import SlaSettings
from hotro.services.sla.views import ClockBoard
from hotro.services.sla.workers import SlaTimer
from hotro.shared.clock import clock_from_settings
from hotro.shared.eventstore.persistence import persistence_env
from hotro.shared.eventstore.schema import ensure_store
from hotro.shared.observability.metrics import ServiceMetrics
from hotro.shared.runtime.host import ServiceRuntime, build_http_app
from hotro.shared.staff.http import install_authenticator
from hotro.shared.staff.wiring import authenticator_for


def build_application(settings: SlaSettings, *,
                      clock: Callable[[], datetime] | None = None) -> SlaApplication:
    """The service layer on its store (also what audit and replay tools open).
    ``clock``: injected time for tests; otherwise the settings' demo clock
    (``clock_start``/``clock_speed``) or real time."""
    ensure_store(settings.store_url)
    planner = load_planner(settings.calendar_version,
                           policy_file=settings.deadline_policy_file,
                           working_hours=(settings.working_hours_start,
                                          settings.working_hours_end))
    return SlaApplication(
        env=persistence_env(settings.store_url, allow_memory=settings.allow_memory_store),
        clock=clock or clock_from_settings(settings.clock_start, settings.clock_speed),
        planner=planner, approaching_lead_days=settings.approaching_lead_days,
        first_contact_clock=settings.first_contact_clock,
        pause_policy=PausePolicy(frozenset(settings.pause_while_awaiting_customer)),
    )


def create_app(settings: SlaSettings | None = None, *,
               clock: Callable[[], datetime] | None = None, **overrides: Any) -> FastAPI:
    """The timer and the API use only the application's clock."""
    settings = settings or SlaSettings()
    # Who is calling: staff by API token or console assertion (the calendar is public).
    authenticator = authenticator_for(settings)
    application = build_application(settings, clock=clock)
    if clock is not None:  # tests: assertions expire on the injected clock (never on the
        authenticator.clock = clock  # demo clock: the console mints them in real time)
    board = ClockBoard(application)

    def held_partitions() -> list[int]:
        # The runtime built below; it holds leases once it has started.
        leases = runtime.leases
        return leases.held_partitions() if leases else []

    timer = SlaTimer(application, board, held_partitions, settings.partitions,
                     settings.timer_period_s)
    runtime = ServiceRuntime(settings, application, ServiceMetrics("sla"),
                             background=(timer.run,), **overrides)
    http = build_http_app(runtime, [build_router(application, board)], title="Hotro SLA")
    install_authenticator(http, authenticator)
    http.state.timer = timer
    http.state.board = board
    return http

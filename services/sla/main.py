"""Composition root of the SLA service."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import FastAPI

from services.sla.api import build_router
from services.sla.application import SlaApplication
from services.sla.board import ClockBoard
from services.sla.calendar_planner import CalendarPlanner
from services.sla.domain import PausePolicy
from services.sla.settings import SlaSettings
from services.sla.timer import SlaTimer
from shared.calendar.registry import load_calendar
from shared.calendar.rules import load_policy
from shared.clock import clock_from_settings
from shared.eventstore.persistence import persistence_env
from shared.eventstore.schema import ensure_store
from shared.observability.metrics import ServiceMetrics
from shared.runtime.host import ServiceRuntime, build_http_app


def create_app(settings: SlaSettings | None = None, *,
               clock: Callable[[], datetime] | None = None, **overrides: Any) -> FastAPI:
    """``clock``: injected time for tests; otherwise the settings' demo clock
    (``clock_start``/``clock_speed``) or real time. The timer and the API use only it."""
    settings = settings or SlaSettings()
    ensure_store(settings.store_url)
    clock = clock or clock_from_settings(settings.clock_start, settings.clock_speed)
    planner = CalendarPlanner(load_calendar(settings.calendar_version),
                              load_policy(settings.deadline_policy_file),
                              working_hours=(settings.working_hours_start,
                                             settings.working_hours_end))
    application = SlaApplication(
        env=persistence_env(settings.store_url, allow_memory=settings.allow_memory_store),
        clock=clock, planner=planner, approaching_lead_days=settings.approaching_lead_days,
        first_contact_clock=settings.first_contact_clock,
        pause_policy=PausePolicy(frozenset(settings.pause_while_awaiting_customer)),
    )
    runtime = ServiceRuntime(settings, application, ServiceMetrics("sla"), **overrides)
    board = ClockBoard(application)
    timer = SlaTimer(application, board, lambda: runtime.leases.held_partitions()
                     if runtime.leases else [], settings.partitions, settings.timer_period_s)
    runtime.background = (*runtime.background, timer.run)
    http = build_http_app(runtime, [build_router(application, planner, board)],
                          title="Hotro SLA")
    http.state.timer = timer
    http.state.board = board
    return http

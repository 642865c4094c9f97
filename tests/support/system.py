"""All four services in the test's own event loop (fast), against a real nats-server."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from hotro.services.intake.main import create_app as intake_app
from hotro.services.intake.settings import IntakeSettings
from hotro.services.notify.main import create_app as notify_app
from hotro.services.notify.settings import NotifySettings
from hotro.services.routing.main import create_app as routing_app
from hotro.services.routing.settings import RoutingSettings
from hotro.services.sla.main import create_app as sla_app
from hotro.services.sla.settings import SlaSettings
from hotro.shared.runtime.host import ServiceRuntime
from tests.support.staff import auth, write_users_file

SERVICES = ("intake", "routing", "sla", "notify")


@dataclass
class InProcessSystem:
    apps: dict[str, FastAPI] = field(default_factory=dict)

    def runtime(self, service: str) -> ServiceRuntime:
        return self.apps[service].state.runtime  # type: ignore[no-any-return]

    def application(self, service: str) -> Any:
        return self.runtime(service).app

    def client(self, service: str, *, role: str | None = None) -> httpx.AsyncClient:
        """An HTTP client of one service; with ``role``, as that test staff user."""
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.apps[service]),
                                 base_url=f"http://{service}",
                                 headers=auth(role) if role else None)


def settings_for(service: str, nats_url: str, store_url: str, data_dir: Path,
                 partitions: int, lease_ttl_s: float, **extra: Any) -> Any:
    common: dict[str, Any] = dict(nats_url=nats_url, store_url=store_url,
                                  partitions=partitions, lease_ttl_s=lease_ttl_s,
                                  data_dir=str(data_dir), retry_backoff_s=(0.05, 0.1, 0.2),
                                  allow_memory_store=store_url.startswith("memory:"))
    common.update(extra)
    classes = {"intake": IntakeSettings, "routing": RoutingSettings, "sla": SlaSettings,
               "notify": NotifySettings}
    if service == "notify":
        common.setdefault("send_backoff_s", (0.05, 0.1, 0.2))
    if service == "intake":
        common.setdefault("pii_hash_secret", "test-pii-hash-secret")
    # the tests' staff users (tests/support/staff.py) on every service
    common.setdefault("users_file", str(write_users_file(data_dir / "staff-users.toml")))
    return classes[service](**common)


FACTORIES: dict[str, Callable[..., FastAPI]] = {
    "intake": intake_app, "routing": routing_app, "sla": sla_app, "notify": notify_app}


@contextlib.asynccontextmanager
async def running_system(nats_url: str, store_url: Callable[[str], str], data_dir: Path, *,
                         partitions: int, lease_ttl_s: float,
                         clock: Callable[[], datetime] | None = None,
                         settings_extra: dict[str, dict[str, Any]] | None = None,
                         factory_extra: dict[str, dict[str, Any]] | None = None,
                         services: tuple[str, ...] = SERVICES
                         ) -> AsyncIterator[InProcessSystem]:
    system = InProcessSystem()
    started: list[ServiceRuntime] = []
    try:
        for service in services:
            settings = settings_for(service, nats_url, store_url(service), data_dir,
                                    partitions, lease_ttl_s,
                                    **(settings_extra or {}).get(service, {}))
            kwargs = dict((factory_extra or {}).get(service, {}))
            if clock is not None:
                kwargs.setdefault("clock", clock)
            app = FACTORIES[service](settings, **kwargs)
            system.apps[service] = app
            runtime: ServiceRuntime = app.state.runtime
            await runtime.start()
            started.append(runtime)
        yield system
    finally:
        for runtime in reversed(started):
            await runtime.stop()


async def settled(system: InProcessSystem, partitions: int) -> bool:
    """Every relay has published its whole log, no consumer has a message left, and notify
    has nothing pending: the system has finished reacting."""
    from hotro.shared.contracts.subjects import EVENTS_STREAM, durable_name

    for svc in system.apps:
        runtime = system.runtime(svc)
        if runtime.relay is None or \
                runtime.relay.position != system.application(svc).max_notification_id():
            return False
        if runtime.js is None or not runtime.app.subscriptions():
            continue  # every consumer counts, intake's included
        for p in range(partitions):
            info = await runtime.js.consumer_info(EVENTS_STREAM, durable_name(svc, p))
            if info.num_pending or info.num_ack_pending:
                return False
    notify = system.apps.get("notify")
    return notify is None or not notify.state.dispatch_log.entries(status="pending", limit=1)

"""Every service's HTTP app as its composition root builds it (``create_app``), on the
in-memory store, with the tests' staff users. The runtime (NATS) is not started: an ASGI
client does not run the lifespan, so the routes, policies, limits and documentation are
the real ones."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from hotro.services.intake.main import create_app as intake_app
from hotro.services.intake.settings import IntakeSettings
from hotro.services.notify.main import create_app as notify_app
from hotro.services.notify.settings import NotifySettings
from hotro.services.routing.main import create_app as routing_app
from hotro.services.routing.settings import RoutingSettings
from hotro.services.sla.main import create_app as sla_app
from hotro.services.sla.settings import SlaSettings
from hotro.shared.settings import ServiceSettings
from tests.support.staff import write_users_file

SERVICES = ("intake", "routing", "sla", "notify")
_BUILD: dict[str, tuple[type[ServiceSettings], Callable[..., FastAPI]]] = {
    "intake": (IntakeSettings, intake_app), "routing": (RoutingSettings, routing_app),
    "sla": (SlaSettings, sla_app), "notify": (NotifySettings, notify_app)}


def settings_of(service: str, data_dir: Path, **extra: Any) -> Any:
    kind = _BUILD[service][0]
    extra.setdefault("users_file", str(write_users_file(data_dir / "staff-users.toml")))
    if service == "intake":
        extra.setdefault("pii_hash_secret", "test-pii-hash-secret")
    extra.setdefault("nats_url", "nats://127.0.0.1:1")  # never connected unless started
    return kind(store_url="memory:", allow_memory_store=True, data_dir=str(data_dir), **extra)


def service_app(service: str, data_dir: Path, **extra: Any) -> FastAPI:
    (data_dir / service).mkdir(parents=True, exist_ok=True)
    return _BUILD[service][1](settings_of(service, data_dir / service, **extra))

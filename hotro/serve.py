"""`hotro serve SERVICE`: run one service process (what compose and `hotro up` start).

The service's Settings class is the only reader of the environment: it is validated here,
before anything starts, and gives the logging, host and port."""

from __future__ import annotations

import socket

import uvicorn

from hotro.services.console.settings import ConsoleSettings
from hotro.services.intake.settings import IntakeSettings
from hotro.services.notify.settings import NotifySettings
from hotro.services.routing.settings import RoutingSettings
from hotro.services.sla.settings import SlaSettings
from hotro.shared.observability.logs import configure_logging
from hotro.shared.runtime.http_server import uvicorn_options
from hotro.shared.settings import ServiceSettings

SETTINGS: dict[str, type[ServiceSettings]] = {
    "intake": IntakeSettings, "routing": RoutingSettings, "sla": SlaSettings,
    "notify": NotifySettings,
}
SERVICES = tuple(SETTINGS)
#: what `hotro serve` runs: the four services and the web console (no event store)
SERVABLE: dict[str, type[ServiceSettings] | type[ConsoleSettings]] = {
    **SETTINGS, "console": ConsoleSettings}


def prepare(service: str) -> ServiceSettings | ConsoleSettings:
    """Validate the service's settings and configure logging from them."""
    if service not in SERVABLE:
        raise SystemExit(f"unknown service {service!r}; one of {', '.join(SERVABLE)}")
    settings = SERVABLE[service]()
    configure_logging(service, settings.replica_id, settings.log_level, settings.log_json)
    return settings


def serve(service: str, port: int | None = None, fd: int | None = None) -> None:
    settings = prepare(service)
    if fd is not None:
        # A listening socket handed over by the supervisor (`hotro up`): it bound the port
        # itself, so there is no check-then-bind race, and the port stays ours across
        # restarts of this process.
        config = uvicorn.Config(f"hotro.services.{service}.main:create_app", factory=True,
                                log_level="warning", access_log=False, lifespan="on",
                                log_config=None, **uvicorn_options(settings))
        uvicorn.Server(config).run(sockets=[socket.socket(fileno=fd)])
        return
    uvicorn.run(f"hotro.services.{service}.main:create_app", factory=True,
                host=settings.http_host, port=settings.http_port if port is None else port,
                log_level="warning", access_log=False, lifespan="on", log_config=None,
                **uvicorn_options(settings))

"""`hotro serve SERVICE`: run one service process (what compose and `hotro up` start).

The service's Settings class is the only reader of the environment: it is validated here,
before anything starts, and gives the logging, host and port."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from types import FrameType

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


class QuietServer(uvicorn.Server):
    """uvicorn's server, waking once a second while idle instead of ten times.

    uvicorn's main loop wakes every 0.1 s to refresh its Date header (one-second
    resolution) and to notice a shutdown: here that was a quarter of an idle service's CPU
    (0.27% of a core, of about 1%). This one refreshes the header every ``tick_s`` and is
    woken at once by the shutdown signal, so stopping is as prompt as before."""

    tick_s = 1.0
    _wake: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    async def main_loop(self) -> None:
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 10) % 864000  # a multiple of 10: on_tick refreshes Date
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.tick_s)
            should_exit = await self.on_tick(counter)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)


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
        QuietServer(config).run(sockets=[socket.socket(fileno=fd)])
        return
    QuietServer(uvicorn.Config(
        f"hotro.services.{service}.main:create_app", factory=True, host=settings.http_host,
        port=settings.http_port if port is None else port, log_level="warning",
        access_log=False, lifespan="on", log_config=None, **uvicorn_options(settings))).run()

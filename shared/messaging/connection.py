"""NATS connections that never give up reconnecting, and end the process if closed for good.

nats-py's pull loop spins once the client stops reconnecting and freezes the event loop
(faststream issue 2632), so: reconnect forever, and treat an unexpected close as fatal.

Every connection authenticates as its own NATS user (``credentials.py``), over TLS when
the credentials name a CA or client certificate, or the URL is ``tls://``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable

import nats
from faststream.nats import NatsBroker
from faststream.nats.security import NatsSecurity, NatsUserPassword
from nats.aio.client import Client

from hotro.shared.messaging.credentials import NatsCredentials

log = logging.getLogger(__name__)

EXIT_NATS_CLOSED = 70


class NatsConnection:
    def __init__(self, servers: list[str], name: str,
                 on_fatal: Callable[[], None] | None = None, *,
                 credentials: NatsCredentials | None = None) -> None:
        self.servers = servers
        self.name = name
        self._closing = False
        self._on_fatal = on_fatal or self._exit_process
        self.connected = asyncio.Event()
        options = (credentials or NatsCredentials()).connect_options(servers)
        tls = options.pop("tls", None)
        security: NatsSecurity | None = (
            NatsUserPassword(options.pop("user"), options.pop("password"), ssl_context=tls)
            if "user" in options
            else NatsSecurity(ssl_context=tls) if tls is not None else None)
        self.broker = NatsBroker(
            servers,
            name=name,
            security=security,
            inbox_prefix=options.get("inbox_prefix", "_INBOX"),
            max_reconnect_attempts=-1,
            # faststream annotates int; nats-py takes seconds as a float
            reconnect_time_wait=0.5,  # type: ignore[arg-type]
            connect_timeout=2,
            allow_reconnect=True,
            closed_cb=self._closed,
            disconnected_cb=self._disconnected,
            reconnected_cb=self._reconnected,
            error_cb=self._error,
        )
        self.client: Client | None = None

    async def connect(self, attempts_timeout_s: float = 60.0) -> Client:
        """First connection: retried until it succeeds or the timeout passes (nats-py
        itself retries a refused connection for ever, hence the overall bound)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + attempts_timeout_s
        delay = 0.2
        while True:
            try:
                self.client = await asyncio.wait_for(
                    self.broker.connect(), timeout=max(deadline - loop.time(), 0.1))
                self.connected.set()
                return self.client
            except (TimeoutError, OSError, nats.errors.NoServersError) as exc:
                if loop.time() > deadline:
                    raise TimeoutError(
                        f"NATS ({', '.join(self.servers)}) not reachable within "
                        f"{attempts_timeout_s:g}s (HOTRO_START_TIMEOUT_S): {exc!r}") from exc
                log.warning("NATS not reachable yet (%s); retrying", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def close(self) -> None:
        self._closing = True
        try:
            await self.broker.stop()
        except Exception:
            log.debug("error while closing NATS", exc_info=True)

    async def _closed(self) -> None:
        if self._closing:
            return
        log.critical("NATS connection closed for good; exiting so a supervisor restarts us")
        self._on_fatal()

    async def _disconnected(self) -> None:
        self.connected.clear()
        log.warning("NATS disconnected")

    async def _reconnected(self) -> None:
        self.connected.set()
        log.info("NATS reconnected")

    async def _error(self, exc: Exception) -> None:
        if "permissions violation" in str(exc).lower():
            # the server refused a publish or subscription this user is not allowed:
            # a bug or a missing grant in deploy/nats/permissions.conf — never silent
            log.error("NATS refused: %s", exc)
            return
        if self.client is None:  # the first connection, retried by nats-py: say why
            log.warning("NATS not reachable yet (%s); retrying", exc)
            return
        log.debug("NATS client error: %s", exc)

    @staticmethod
    def _exit_process() -> None:
        os._exit(EXIT_NATS_CLOSED)

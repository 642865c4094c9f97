"""The services' HTTP server wakes once a second while idle (not ten times, as uvicorn's
own loop does), yet a shutdown signal still stops it at once."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Generator

import uvicorn
from starlette.applications import Starlette

from hotro.serve import QuietServer
from tests.support.waiting import eventually


class _NoSignals(QuietServer):
    """Signal handlers stay pytest's (uvicorn re-raises what it captured on exit)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def test_a_shutdown_signal_stops_the_server_without_waiting_for_its_tick() -> None:
    server = _NoSignals(uvicorn.Config(Starlette(), host="127.0.0.1", port=0,
                                       log_level="warning", lifespan="off"))
    server.tick_s = 3600.0  # left to its tick, it would notice in an hour
    serving = asyncio.ensure_future(server.serve())
    try:
        await eventually(lambda: server.started, timeout=10, message="server started")
        server.handle_exit(signal.SIGTERM, None)
        await asyncio.wait_for(asyncio.shield(serving), timeout=30)
    finally:
        server.should_exit = server.force_exit = True
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(serving, timeout=5)
    assert serving.done() and serving.exception() is None

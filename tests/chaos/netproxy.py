"""A TCP proxy that can slow or stall the network between the services and a server
(nats-server, PostgreSQL) on command: the network-delay faults of the chaos schedule.

It runs on its own event loop in a thread, so the driver's load does not add to the delay
it is told to inject. ``delay_s`` holds every chunk that long in each direction (order
kept, throughput not capped: a chunk waits for its own deadline only); ``stall()`` stops
reading in both directions — TCP backpressure, as a link that stops carrying packets —
until ``flow()``. A connection whose other end closes or cannot be reached is closed, so a
killed server looks to the clients as it would without the proxy."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

from hotro.natsbin import free_port

T = TypeVar("T")
_CHUNK = 64 * 1024


class DelayProxy:
    def __init__(self, target_host: str, target_port: int, *, name: str = "",
                 listen_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.name = name or f"{target_host}:{target_port}"
        self.host = listen_host
        self.port = free_port(listen_host)
        self.delay_s = 0.0
        self.connections = 0
        self._loop = asyncio.new_event_loop()  # closed by stop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name=f"delay-proxy-{self.name}")
        self._flowing: asyncio.Event | None = None
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.Task[None]] = set()

    # -- control (any thread) ------------------------------------------------------------

    def start(self) -> DelayProxy:
        self._thread.start()
        self._call(self._start())
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._call(self._stop())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        if not self._loop.is_running():
            self._loop.close()

    def stall(self) -> None:
        """Returns once in force: nothing read from now on is forwarded."""
        self._call(self._switch(False))

    def flow(self) -> None:
        self._call(self._switch(True))

    def clear(self) -> None:
        """No delay, no stall."""
        self.delay_s = 0.0
        self.flow()

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    def _event(self) -> asyncio.Event:
        assert self._flowing is not None, "proxy not started"
        return self._flowing

    # -- the loop's side -----------------------------------------------------------------

    async def _start(self) -> None:
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server = await asyncio.start_server(self._accepted, self.host, self.port)

    async def _switch(self, flowing: bool) -> None:
        if flowing:
            self._event().set()
        else:
            self._event().clear()

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._open):
            task.cancel()
        for task in list(self._open):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server is not None:
            await self._server.wait_closed()
        await asyncio.sleep(0.05)  # the closed transports' callbacks run on this loop

    async def _accepted(self, client_r: asyncio.StreamReader,
                        client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._open.add(task)
        self.connections += 1
        try:
            try:
                server_r, server_w = await asyncio.wait_for(
                    asyncio.open_connection(*self.target), timeout=5)
            except (OSError, TimeoutError):
                return  # the server is down: the client sees its connection closed
            pumps = [asyncio.ensure_future(self._pump(client_r, server_w)),
                     asyncio.ensure_future(self._pump(server_r, client_w))]
            try:
                await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            finally:
                await _cancel(*pumps)
                _close(server_w)
        finally:
            _close(client_w)
            self._open.discard(task)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                if not data:
                    return
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                await self._event().wait()  # a chunk read before a stall waits it out
                writer.write(data)
                await writer.drain()

        sender = asyncio.ensure_future(deliver())
        try:
            while True:
                await self._event().wait()
                data = await reader.read(_CHUNK)
                await queue.put((time.monotonic() + self.delay_s, data))
                if not data:
                    break
            await sender
        finally:
            await _cancel(sender)


def _close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        writer.close()


async def _cancel(*tasks: asyncio.Future[None]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task

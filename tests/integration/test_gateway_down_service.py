"""The gateway in front of a service that is down behind a held socket (what `hotro up`
does: the supervisor keeps the listening socket, so connections queue in the backlog
instead of being refused): told by the supervisor, it answers 503 with Retry-After at
once — also for a request already waiting when the service dies. And `hotro up`'s own
gateway server never takes a client's X-Forwarded-For as the client's address."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hotro.gateway import GatewayLimits, build_gateway
from hotro.up import gateway_server
from tests.support.waiting import eventually

LIMITS = GatewayLimits(upstream_timeout_s=30.0)


@pytest.fixture
def held_socket() -> Iterator[socket.socket]:
    """A listening socket nobody accepts on: a dead service's port under `hotro up`."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    try:
        yield sock
    finally:
        sock.close()


@contextlib.asynccontextmanager
async def _serve(server: uvicorn.Server) -> AsyncIterator[int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    task = asyncio.create_task(server.serve(sockets=[sock]))
    await eventually(lambda: server.started, timeout=10, message="server started")
    try:
        yield int(sock.getsockname()[1])
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
        sock.close()


def _server(app: Starlette) -> uvicorn.Server:
    return uvicorn.Server(uvicorn.Config(app, log_level="warning", proxy_headers=False))


class _Supervisor:
    def __init__(self) -> None:
        self.down: set[str] = set()

    def unavailable(self, service: str) -> bool:
        return service in self.down


async def test_a_service_known_down_is_503_at_once(held_socket: socket.socket) -> None:
    supervisor = _Supervisor()
    supervisor.down.add("routing")
    port = held_socket.getsockname()[1]
    gateway = build_gateway({"routing": f"http://127.0.0.1:{port}"}, LIMITS,
                            unavailable=supervisor.unavailable)
    async with _serve(_server(gateway)) as gw, httpx.AsyncClient(timeout=60) as client:
        began = time.monotonic()
        r = await client.get(f"http://127.0.0.1:{gw}/api/cases")
        assert r.status_code == 503 and r.headers["retry-after"] == "5"
        assert time.monotonic() - began < 1.0


async def test_a_request_waiting_in_the_backlog_when_its_service_dies_is_503_quickly(
        held_socket: socket.socket) -> None:
    supervisor = _Supervisor()
    port = held_socket.getsockname()[1]
    gateway = build_gateway({"routing": f"http://127.0.0.1:{port}"}, LIMITS,
                            unavailable=supervisor.unavailable)
    async with _serve(_server(gateway)) as gw, httpx.AsyncClient(timeout=60) as client:
        waiting = asyncio.ensure_future(client.get(f"http://127.0.0.1:{gw}/api/cases"))
        done, _ = await asyncio.wait({waiting}, timeout=1.0)
        assert not done  # queued in the backlog: no answer, as with a hung service
        died = time.monotonic()
        supervisor.down.add("routing")
        r = await waiting
        assert r.status_code == 503 and r.headers["retry-after"] == "5"
        assert time.monotonic() - died < 2.0  # not a 504 after the 30 s upstream timeout


async def test_a_service_dying_on_a_kept_alive_connection_is_503_not_502() -> None:
    """The process is killed: the kernel closes its connections a moment before the
    supervisor can see it exited."""
    supervisor = _Supervisor()
    loop = asyncio.get_running_loop()

    async def dies(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.close()  # no answer: the connection breaks ...
        loop.call_later(0.1, supervisor.down.add, "routing")  # ... then it is seen dead

    dying = await asyncio.start_server(dies, "127.0.0.1", 0)
    port = dying.sockets[0].getsockname()[1]
    gateway = build_gateway({"routing": f"http://127.0.0.1:{port}"}, LIMITS,
                            unavailable=supervisor.unavailable)
    try:
        async with _serve(_server(gateway)) as gw, httpx.AsyncClient(timeout=60) as client:
            began = time.monotonic()
            r = await client.get(f"http://127.0.0.1:{gw}/api/cases")
            assert r.status_code == 503 and r.headers["retry-after"] == "5"
            assert time.monotonic() - began < 2.0
    finally:
        dying.close()


async def test_hotro_ups_gateway_does_not_trust_a_clients_x_forwarded_for() -> None:
    async def echo(request: Request) -> Response:
        return JSONResponse({"forwarded_for": request.headers.getlist("x-forwarded-for")})

    upstream = Starlette(routes=[Route("/{path:path}", echo)])
    async with _serve(_server(upstream)) as intake:
        gateway = build_gateway({"intake": f"http://127.0.0.1:{intake}"}, LIMITS)
        async with _serve(gateway_server(gateway)) as gw, httpx.AsyncClient() as client:
            r = await client.get(f"http://127.0.0.1:{gw}/api/complaints",
                                 headers={"X-Forwarded-For": "203.0.113.9",
                                          "Forwarded": "for=203.0.113.9"})
    # the address the services see is the connection's own (uvicorn's proxy_headers would
    # have taken 203.0.113.9 from a client on 127.0.0.1, a "trusted proxy" by default)
    assert r.status_code == 200 and r.json() == {"forwarded_for": ["127.0.0.1"]}

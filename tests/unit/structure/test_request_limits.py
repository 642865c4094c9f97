"""Request limits of a service's HTTP API over real sockets, served the way ``hotro serve``
serves it (uvicorn with ``uvicorn_options``): 413 before a too-large body is read, 413 when
a chunked body passes the limit, 408 for a trickled body, a connection cut when its headers
trickle, bounded headers — and requests within the limits reach the route."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from hotro.natsbin import free_port
from hotro.services.routing.main import create_app
from hotro.shared.runtime.http_server import HeaderTimeoutH11Protocol, uvicorn_options
from hotro.shared.runtime.limits import RequestLimits
from hotro.shared.settings import ServiceSettings
from tests.support.staff import auth
from tests.support.waiting import eventually
from tests.unit.structure.service_apps import settings_of

LIMIT_BYTES = 64 * 1024
BODY_TIMEOUT_S = 1.0
HEADER_TIMEOUT_S = 1.0
NOTE = "/api/cases/6b0c2a8e-0000-4000-8000-000000000001/actions/add_note"


@contextlib.asynccontextmanager
async def _serve(app: FastAPI, settings: ServiceSettings) -> AsyncIterator[int]:
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            lifespan="off", **uvicorn_options(settings))
    server = uvicorn.Server(config)
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started, timeout=10, message="server started")
    try:
        yield port
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)


@pytest.fixture
async def routing(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[int]:
    data = tmp_path_factory.mktemp("limits")
    settings = settings_of("routing", data, http_max_body_mb=LIMIT_BYTES / (1024 * 1024),
                           http_body_timeout_s=BODY_TIMEOUT_S,
                           http_header_timeout_s=HEADER_TIMEOUT_S, http_max_header_kb=8)
    assert settings.http_max_body_bytes() == LIMIT_BYTES
    async with _serve(create_app(settings), settings) as port:
        yield port


@contextlib.contextmanager
def _connection(port: int) -> Iterator[socket.socket]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        yield s


def _exchange(port: int, data: bytes) -> bytes:
    """Send ``data``, read the answer until the server closes (or 5 s pass)."""
    with _connection(port) as s:
        s.sendall(data)
        s.settimeout(5)
        answer = b""
        with contextlib.suppress(OSError):
            while chunk := s.recv(65536):
                answer += chunk
        return answer


def _head(length: int | str, path: str = NOTE) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Authorization: {auth('support')['Authorization']}\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()


async def test_a_declared_body_over_the_limit_is_413_before_it_is_read(routing: int) -> None:
    # Only the headers go out: the refusal must not wait for (or buffer) 50 MB.
    answer = await asyncio.to_thread(_exchange, routing, _head(50 * 1024 * 1024))
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"connection: close" in answer.lower()
    assert b'{"detail":"the request body is larger than 65536 bytes"}' in answer


async def test_a_chunked_body_over_the_limit_is_413(routing: int) -> None:
    def send_chunks() -> tuple[bytes, int]:
        """Chunks of 8 KiB until the server answers: how much went out before it did."""
        with _connection(routing) as s:
            s.sendall(_head("0").replace(b"Content-Length: 0", b"Transfer-Encoding: chunked"))
            s.settimeout(0.05)
            sent = 0
            for _ in range(200):
                with contextlib.suppress(OSError):
                    s.sendall(b"2000\r\n" + b" " * 8192 + b"\r\n")
                    sent += 8192
                try:
                    return s.recv(65536), sent
                except TimeoutError:
                    continue
            return b"", sent

    answer, sent = await asyncio.to_thread(send_chunks)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 40 * 8192  # refused early, not after reading everything


async def test_a_trickled_body_is_cut_off_at_the_body_timeout(routing: int) -> None:
    def trickle() -> tuple[bytes, float]:
        with _connection(routing) as s:
            s.sendall(_head(50_000))
            start = time.monotonic()
            s.settimeout(0.2)
            while time.monotonic() - start < 8:
                with contextlib.suppress(OSError):
                    s.sendall(b" ")
                try:
                    answer = s.recv(65536)
                except TimeoutError:
                    continue
                return answer, time.monotonic() - start
            return b"", time.monotonic() - start

    answer, waited = await asyncio.to_thread(trickle)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert waited < BODY_TIMEOUT_S + 2


async def test_trickled_headers_are_cut_off_at_the_header_timeout(routing: int) -> None:
    def trickle_headers() -> tuple[bytes, float]:
        with _connection(routing) as s:
            s.sendall(b"GET /api/cases HTTP/1.1\r\n")
            start = time.monotonic()
            s.settimeout(0.2)
            while time.monotonic() - start < 8:
                try:
                    s.sendall(b"X")  # one header byte at a time, never the end
                    answer = s.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return b"", time.monotonic() - start  # reset: cut off
                return answer, time.monotonic() - start  # b"": closed
            return b"still open", time.monotonic() - start

    answer, waited = await asyncio.to_thread(trickle_headers)
    assert answer == b"", answer[:200]
    assert waited < HEADER_TIMEOUT_S + 2


async def test_oversized_headers_are_refused(routing: int) -> None:
    head = (b"GET /api/cases HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 16_000 + b"\r\n\r\n")
    answer = await asyncio.to_thread(_exchange, routing, head)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]


async def test_requests_within_the_limits_reach_the_route_and_keep_alive(
        routing: int) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{routing}") as client:
        # a body just under the limit is read and validated by the route (422: bad field)
        near = await client.post(NOTE, json={"txt": "x" * (LIMIT_BYTES - 100)},
                                 headers=auth("support"))
        assert near.status_code == 422
        missing = await client.post(NOTE, json={"text": "ghi chú"}, headers=auth("support"))
        assert missing.status_code == 404  # no such case: the route ran
        again = await client.get("/api/cases", headers=auth("support"))
        assert again.status_code == 200 and again.json() == []


async def test_the_middleware_alone_answers_outside_fastapi() -> None:
    async def raw_app(scope: Scope, receive: Receive, send: Send) -> None:
        while (await receive()).get("more_body"):  # reads the whole body, whatever it is
            pass
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = RequestLimits(raw_app, max_body_bytes=10, body_timeout_s=5)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://x") as client:
        assert (await client.post("/", content=b"0123456789")).status_code == 204
        big = await client.post("/", content=b"0123456789+")
        assert big.status_code == 413
        assert big.json() == {"detail": "the request body is larger than 10 bytes"}
    with pytest.raises(ValueError):
        RequestLimits(raw_app, max_body_bytes=10, body_timeout_s=0)


def test_hotro_serve_runs_uvicorn_with_the_settings_limits(tmp_path: Path) -> None:
    settings = settings_of("sla", tmp_path, http_keep_alive_s=7, http_max_header_kb=12,
                           http_max_connections=50, http_header_timeout_s=3)
    options = uvicorn_options(settings)
    assert options["timeout_keep_alive"] == 7
    assert options["h11_max_incomplete_event_size"] == 12 * 1024
    assert options["limit_concurrency"] == 50
    protocol = options["http"]
    assert issubclass(protocol, HeaderTimeoutH11Protocol)
    assert (protocol.header_timeout_s, protocol.max_header_bytes) == (3, 12 * 1024)
    # the body limit: 1 MB unless set (a service with uploads raises its own default)
    assert settings_of("sla", tmp_path).http_max_body_bytes() == 1024 * 1024
    assert settings_of("sla", tmp_path, http_max_body_mb=2.5).http_max_body_bytes() == \
        int(2.5 * 1024 * 1024)

"""The public gateway over real sockets: it forwards the public API faithfully and refuses
everything else with a 4xx that says why — never a 500, never an operator endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hotro.gateway import GatewayLimits, build_gateway
from hotro.natsbin import free_port
from tests.support.waiting import eventually

LIMITS = GatewayLimits(max_body_bytes=1024 * 1024, body_timeout_s=1.0, upstream_timeout_s=2.0)


def _upstream(name: str) -> Starlette:
    async def echo(request: Request) -> Response:
        body = await request.body()
        if request.url.path == "/two-cookies":
            response = Response("ok")
            response.set_cookie("first", "1", httponly=True)
            response.set_cookie("second", "2", httponly=True)
            return response
        return JSONResponse({"service": name, "path": request.url.path,
                             "raw_path": request.scope["raw_path"].decode(),
                             "query": request.url.query, "size": len(body),
                             "header": request.headers.get("x-test", ""),
                             "via": request.headers.getlist("via"),
                             "forwarded_for": request.headers.getlist("x-forwarded-for")})

    return Starlette(routes=[Route("/{path:path}", echo, methods=["GET", "POST"])])


@dataclass
class Running:
    port: int
    server: uvicorn.Server
    task: asyncio.Task[None]


@contextlib.asynccontextmanager
async def _serve(app: Starlette) -> AsyncIterator[Running]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on",
                                           proxy_headers=False))
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started, timeout=10, message="server started")
    try:
        yield Running(port, server, task)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)


@pytest.fixture
async def gateway() -> AsyncIterator[str]:
    async with _serve(_upstream("intake")) as intake, _serve(_upstream("sla")) as sla, \
            _serve(_upstream("console")) as console:
        down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
        upstreams = {"intake": f"http://127.0.0.1:{intake.port}",
                     "sla": f"http://127.0.0.1:{sla.port}", "routing": down, "notify": down,
                     "console": f"http://127.0.0.1:{console.port}"}
        async with _serve(build_gateway(upstreams, LIMITS)) as gw:
            yield f"http://127.0.0.1:{gw.port}"


async def test_public_routes_are_forwarded_with_path_query_and_headers(gateway: str) -> None:
    async with httpx.AsyncClient(base_url=gateway) as client:
        r = await client.post("/api/complaints/KN-2026-000001/info?x=1&y=%C3%A1",
                              content=b"abc", headers={"X-Test": "ok", "Via": "1.1 forged",
                                                       "X-Forwarded-For": "10.9.9.9"})
        assert r.status_code == 200
        assert r.json() == {"service": "intake", "path": "/api/complaints/KN-2026-000001/info",
                            "raw_path": "/api/complaints/KN-2026-000001/info",
                            "query": "x=1&y=%C3%A1", "size": 3, "header": "ok",
                            "via": ["1.1 hotro-gateway"], "forwarded_for": ["127.0.0.1"]}
        r = await client.get("/api/calendar/2026")
        assert r.json()["service"] == "sla"
        r = await client.get("/services/sla/openapi.json")
        assert (r.status_code, r.json()["path"]) == (200, "/openapi.json")


async def test_pages_go_to_the_console_api_paths_never_do(gateway: str) -> None:
    async with httpx.AsyncClient(base_url=gateway) as client:
        for path in ("/", "/queue", "/c/cap1.abc.def", "/static/app.css"):
            r = await client.get(path)
            assert (r.status_code, r.json()["service"], r.json()["path"]) == (
                200, "console", path)
        assert (await client.get("/api/nothing-here")).status_code == 404


@pytest.mark.parametrize("path", ["/services/intake/ops/relay/replay?from_position=0",
                                  "/services/intake/metrics", "/services/sla/readyz",
                                  "/metrics", "/healthz", "/readyz", "/ops/relay/replay",
                                  "/services/nobody/docs"])
async def test_operator_metrics_and_health_endpoints_are_not_public(gateway: str,
                                                                     path: str) -> None:
    async with httpx.AsyncClient(base_url=gateway) as client:
        for method in ("GET", "POST"):
            r = await client.request(method, path)
            assert r.status_code == 404, (method, path)


async def test_an_upstream_that_is_down_is_503_not_500(gateway: str) -> None:
    async with httpx.AsyncClient(base_url=gateway) as client:
        r = await client.get("/api/cases")
    assert r.status_code == 503 and r.headers["retry-after"] == "5"


def _raw_request(port: int, head: bytes, body: bytes = b"") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head + body)
        return s.recv(65536)


@pytest.mark.parametrize("target", [b"/api/cases/%00abc", b"/api/cases/a%0Db",
                                    b"/api/cases/\xc3\xa1"])
async def test_bad_paths_are_400(gateway: str, target: bytes) -> None:
    port = int(gateway.rsplit(":", 1)[1])
    answer = await asyncio.to_thread(
        _raw_request, port, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]


async def test_a_non_ascii_header_value_is_forwarded_not_a_500(gateway: str) -> None:
    port = int(gateway.rsplit(":", 1)[1])
    answer = await asyncio.to_thread(
        _raw_request, port,
        b"GET /api/complaints HTTP/1.1\r\nHost: x\r\nX-Test: Nguy\xe1\xbb\x85n\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]


async def test_a_body_over_the_limit_is_413_before_it_is_sent(gateway: str) -> None:
    port = int(gateway.rsplit(":", 1)[1])
    head = (b"POST /api/complaints HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 52428800\r\n\r\n")
    # Only the headers go out: the refusal must not wait for (or buffer) 50 MB.
    answer = await asyncio.to_thread(_raw_request, port, head)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


async def test_a_chunked_body_over_the_limit_is_413(gateway: str) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b"x" * 65536

    async with httpx.AsyncClient(base_url=gateway) as client:
        r = await client.post("/api/complaints", content=chunks())
    assert r.status_code == 413


async def test_a_trickled_body_is_cut_off_at_the_body_timeout(gateway: str) -> None:
    port = int(gateway.rsplit(":", 1)[1])

    def trickle() -> tuple[bytes, float]:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"POST /api/complaints HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Length: 1000000\r\n\r\n")
            start = time.monotonic()
            s.settimeout(0.2)
            while time.monotonic() - start < 8:
                with contextlib.suppress(OSError):
                    s.sendall(b"x")
                try:
                    answer = s.recv(65536)
                except TimeoutError:
                    continue
                return answer, time.monotonic() - start
            return b"", time.monotonic() - start

    answer, waited = await asyncio.to_thread(trickle)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert waited < LIMITS.body_timeout_s + 2


async def test_each_cookie_an_upstream_sets_reaches_the_browser_as_its_own_header(
        gateway: str) -> None:
    async with httpx.AsyncClient(base_url=gateway) as client:
        r = await client.get("/two-cookies")
    assert r.status_code == 200
    cookies = r.headers.get_list("set-cookie")
    assert len(cookies) == 2, cookies
    assert {c.split("=", 1)[0] for c in cookies} == {"first", "second"}

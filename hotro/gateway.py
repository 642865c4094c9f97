"""One address for the whole HTTP API: forwards by path prefix to each service."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ROUTES: tuple[tuple[str, str], ...] = (
    ("/api/complaints", "intake"),
    ("/api/intake", "intake"),
    ("/api/cases", "routing"),
    ("/api/departments", "routing"),
    ("/api/triage", "routing"),
    ("/api/clocks", "sla"),
    ("/api/calendar", "sla"),
    ("/api/deliveries", "notify"),
    ("/api/letters", "notify"),
)
_HOP = {"host", "content-length", "connection", "transfer-encoding", "keep-alive"}


def build_gateway(upstreams: Mapping[str, str]) -> Starlette:
    client = httpx.AsyncClient(timeout=30)

    async def forward(request: Request) -> Response:
        path = request.url.path
        for prefix, service in ROUTES:
            if path == prefix or path.startswith(prefix + "/"):
                target = upstreams[service]
                break
        else:
            if path.startswith("/services/"):
                _, _, service, *rest = path.split("/")
                if service not in upstreams:
                    return JSONResponse({"detail": f"unknown service {service}"}, 404)
                target, path = upstreams[service], "/" + "/".join(rest)
            else:
                return JSONResponse({"detail": "no such route", "routes": dict(ROUTES)}, 404)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        upstream = await client.request(request.method, target + path,
                                        params=request.query_params, headers=headers,
                                        content=await request.body())
        out_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP
                       and k.lower() != "content-encoding"}
        return Response(upstream.content, upstream.status_code, out_headers)

    async def index(_: Request) -> Response:
        return JSONResponse({"service": "hotro", "routes": dict(ROUTES),
                             "docs": {s: f"/services/{s}/docs" for s in upstreams}})

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await client.aclose()

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    return Starlette(routes=[Route("/", index),
                             Route("/{path:path}", forward, methods=methods)],
                     lifespan=lifespan)

"""One public address for the HTTP API: forwards by path prefix to each service.

Only the public API is reachable through it: the services' operator endpoints (`/ops/…`),
metrics and health checks are not (operators reach a service's own listener). It refuses
what it cannot forward faithfully (400), bodies over its limit (413, before reading them)
and bodies that do not arrive in time (408); an upstream that is down is 503, one that
fails or times out is 502/504 — never a 500 of the gateway's own.

Behind `hotro up` a dead service does not refuse connections — the supervisor holds its
listening socket, so they queue in the backlog until the restarted process accepts them.
The supervisor therefore tells the gateway which services are down (``unavailable``): a
request to one is answered 503 with Retry-After at once, and one already waiting when its
service dies is answered 503 as soon as the supervisor sees it — not a 504 after the
upstream timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hotro.shared.runtime.keep_alive import CLIENT_KEEPALIVE_EXPIRY_S

log = logging.getLogger(__name__)

ROUTES: tuple[tuple[str, str], ...] = (
    ("/api/complaints", "intake"),
    ("/api/intake", "intake"),
    ("/api/customer", "intake"),
    ("/api/cases", "routing"),
    ("/api/case-queue", "routing"),
    ("/api/case-stats", "routing"),
    ("/api/departments", "routing"),
    ("/api/triage", "routing"),
    ("/api/clocks", "sla"),
    ("/api/calendar", "sla"),
    ("/api/reports", "sla"),
    ("/api/deliveries", "notify"),
    ("/api/letters", "notify"),
)
#: what `/services/<name>/…` may reach: each service's API documentation, nothing else
SERVICE_DOCS = ("/docs", "/openapi.json", "/docs/oauth2-redirect")
#: a service's own listener only (health, readiness, metrics): never forwarded
INTERNAL_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
#: added to every forwarded request, so a service can tell proxied calls from direct ones
VIA = (b"via", b"1.1 hotro-gateway")
#: what a client is told to wait when its service is down (a restart takes seconds)
RETRY_AFTER_S = 5
#: how often a forwarded request checks whether its service died meanwhile
DOWN_CHECK_S = 0.2
#: after a broken upstream connection: how long the supervisor is given to see a death
DIED_CHECKS = 10
DIED_CHECK_S = 0.05
_HOP = {"host", "content-length", "connection", "transfer-encoding", "keep-alive",
        "upgrade", "proxy-connection", "te", "trailer"}


@dataclass(frozen=True)
class GatewayLimits:
    max_body_bytes: int = 32 * 1024 * 1024
    #: the whole request body must arrive within this time (slow senders are cut off)
    body_timeout_s: float = 30.0
    upstream_timeout_s: float = 30.0


class Refused(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _has_control(text: str) -> bool:
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)


def _target(path: str, upstreams: Mapping[str, str]) -> tuple[str, str]:
    """(upstream base URL, path on the upstream) for a public path."""
    for prefix, service in ROUTES:
        if path == prefix or path.startswith(prefix + "/"):
            return upstreams[service], path
    if path.startswith("/services/"):
        _, _, service, *rest = path.split("/")
        inner = "/" + "/".join(rest)
        if service in upstreams and inner in SERVICE_DOCS:
            return upstreams[service], inner
        raise Refused(404, "no such route")
    if "console" in upstreams and not path.startswith(("/api/", "/ops/")) \
            and path not in INTERNAL_PATHS:
        return upstreams["console"], path  # the web console serves every other page
    raise Refused(404, "no such route")


def _raw_path(request: Request) -> str:
    # scope["path"], not request.url.path: URL parsing silently drops CR, LF and TAB.
    decoded: str = request.scope["path"]
    raw: bytes = request.scope.get("raw_path") or decoded.encode()
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise Refused(400, "the path must be ASCII (percent-encode other characters)") from None
    if _has_control(decoded) or _has_control(text):
        raise Refused(400, "control characters are not allowed in the path")
    return text


def _forwarded_headers(request: Request) -> list[tuple[bytes, bytes]]:
    headers = []
    for name, value in request.headers.raw:
        lowered = name.decode("latin-1").lower()
        if lowered in _HOP or lowered in ("via", "x-forwarded-for", "forwarded"):
            continue  # ours alone: a client cannot choose the address the services see
        if any((b < 0x20 and b != 0x09) or b == 0x7F for b in value):
            raise Refused(400, f"control characters in header {name.decode('latin-1')!r}")
        headers.append((name, value))
    headers.append(VIA)
    if request.client is not None:
        headers.append((b"x-forwarded-for", request.client.host.encode("ascii")))
    return headers


async def _body(request: Request, limits: GatewayLimits) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise Refused(400, "invalid Content-Length")
        if int(declared) > limits.max_body_bytes:
            raise Refused(413, f"the body is larger than {limits.max_body_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(limits.body_timeout_s):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limits.max_body_bytes:
                    raise Refused(413, f"the body is larger than {limits.max_body_bytes} bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise Refused(408, f"the body did not arrive within {limits.body_timeout_s:g} s") from None
    return b"".join(chunks)


def _unavailable_response() -> Response:
    return JSONResponse({"detail": "the service is unavailable; try again shortly"},
                        503, headers={"Retry-After": str(RETRY_AFTER_S)})


async def _unless_down(call: asyncio.Future[httpx.Response], down: Callable[[], bool]
                       ) -> httpx.Response | None:
    """The upstream's response, or None as soon as ``down()`` says its service died."""
    try:
        while True:
            done, _ = await asyncio.wait({call}, timeout=DOWN_CHECK_S)
            if done:
                return call.result()
            if down():
                return None
    finally:
        if not call.done():  # its service died, or our client went away
            call.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await call


async def _died(down: Callable[[], bool]) -> bool:
    """Did the upstream die? A process being killed closes its sockets a moment before
    its supervisor can see it exited, so the answer is waited for briefly."""
    for _ in range(DIED_CHECKS):
        if down():
            return True
        await asyncio.sleep(DIED_CHECK_S)
    return down()


def build_gateway(upstreams: Mapping[str, str], limits: GatewayLimits | None = None,
                  transport: httpx.AsyncBaseTransport | None = None, *,
                  unavailable: Callable[[str], bool] | None = None) -> Starlette:
    """``unavailable(service)``: True while the service is known to be down (``hotro up``'s
    supervisor knows); such requests get 503 at once instead of waiting in a backlog."""
    limits = limits or GatewayLimits()
    # No cookie jar: httpx keeps the cookies of responses and sends them with every later
    # request, so one person's session cookie would sign in everyone after them.
    client = httpx.AsyncClient(timeout=limits.upstream_timeout_s, transport=transport,
                               cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
                               limits=httpx.Limits(keepalive_expiry=CLIENT_KEEPALIVE_EXPIRY_S))
    service_of = {base: service for service, base in upstreams.items()}

    async def forward(request: Request) -> Response:
        try:
            path: str = request.scope["path"]
            base, inner = _target(path, upstreams)
            raw_path = _raw_path(request)
            if inner != path:  # /services/<name>/docs → /docs
                raw_path = inner
            headers = _forwarded_headers(request)
            body = await _body(request, limits)
        except Refused as refused:
            return JSONResponse({"detail": refused.detail}, refused.status)
        query = request.scope.get("query_string", b"").decode("latin-1")
        url = base + raw_path + (f"?{query}" if query else "")
        service = service_of.get(base, "")
        if unavailable is not None and unavailable(service):
            return _unavailable_response()
        try:
            call = asyncio.ensure_future(
                client.request(request.method, url, headers=headers, content=body))
            if unavailable is None:
                upstream = await call
            else:
                answered = await _unless_down(call, lambda: unavailable(service))
                if answered is None:
                    return _unavailable_response()
                upstream = answered
        except httpx.ConnectError:
            return _unavailable_response()
        except httpx.TimeoutException:
            return JSONResponse({"detail": "the service did not answer in time"}, 504)
        except httpx.InvalidURL as error:  # e.g. longer than httpx forwards: the client's
            return JSONResponse({"detail": f"the request URL cannot be forwarded: {error}"},
                                400)
        except httpx.HTTPError as error:
            if unavailable is not None and await _died(lambda: unavailable(service)):
                return _unavailable_response()  # it broke our kept-alive connection dying
            log.warning("gateway could not forward %s %s: %s", request.method, base, error)
            return JSONResponse({"detail": "the service could not be reached"}, 502)
        response = Response(upstream.content, upstream.status_code)
        # multi_items: each Set-Cookie stays its own header (items() joins them with ", ",
        # which a browser reads as one broken cookie).
        for name, value in upstream.headers.multi_items():
            if name.lower() not in _HOP and name.lower() != "content-encoding":
                response.headers.append(name, value)
        return response

    async def index(request: Request) -> Response:
        if "console" in upstreams:
            return await forward(request)
        return JSONResponse({"service": "hotro", "routes": dict(ROUTES),
                             "docs": {s: f"/services/{s}/docs" for s in upstreams}})

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await client.aclose()

    async def unrouted(request: Request, _: Exception) -> Response:
        # a path no route pattern matches (one with a line break: the patterns' "." does
        # not match it) is still ours to answer: forward refuses it with 400, in JSON
        return await forward(request)

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    return Starlette(routes=[Route("/", index),
                             Route("/{path:path}", forward, methods=methods)],
                     exception_handlers={404: unrouted}, lifespan=lifespan)

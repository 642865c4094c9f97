"""Composition root of the console: settings → users directory, assertion keys, session
store, service clients, reference data → the FastAPI app with its pages.

``create_app(settings=None)`` is what ``hotro serve console`` (uvicorn factory) runs."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response

from hotro.services.console.problems import describe, refusal_text
from hotro.services.console.reference import load_reference
from hotro.services.console.routes_oidc import build_oidc_router
from hotro.services.console.routes_public import build_public_router
from hotro.services.console.routes_records import build_records_router
from hotro.services.console.routes_staff import build_staff_router
from hotro.services.console.security import (
    BadForm,
    NotAllowed,
    SignInRequired,
    SignInThrottle,
    Viewer,
    current_viewer,
)
from hotro.services.console.settings import ConsoleSettings
from hotro.services.console.upstream import Caller, UpstreamError, Upstreams
from hotro.services.console.web import HERE, ConsoleState, render
from hotro.shared.clock import system_clock
from hotro.shared.runtime.heap import settle_heap
from hotro.shared.runtime.shared_window import LimitsBucket
from hotro.shared.staff import assertions
from hotro.shared.staff.http import Policy, PolicyKind, mark_endpoint
from hotro.shared.staff.sessions import (
    KvSessionStore,
    MemorySessionStore,
    SessionStore,
)
from hotro.shared.staff.signing import load_keys
from hotro.shared.staff.users import Directory, DirectoryFile

log = logging.getLogger(__name__)

#: a service's refusal of what was asked (not a failure) -> the console's answer status
REFUSED_INPUT = {400: 400, 409: 409, 413: 413, 422: 400, 429: 429}

#: what every response says to the browser: our own scripts and styles only, no framing
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; connect-src 'self'; "
                               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; "
                               "object-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def create_app(settings: ConsoleSettings | None = None, *,
               clock: Callable[[], datetime] | None = None,
               transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
               sessions: SessionStore | None = None,
               staff_bearer: Callable[[Caller], str] | None = None) -> FastAPI:
    settings = settings or ConsoleSettings()
    now = clock or system_clock
    directory: Callable[[], Directory]
    if settings.users_file:
        directory = DirectoryFile(settings.users_file)
    else:
        empty = Directory(())
        directory = lambda: empty  # noqa: E731 - nobody can sign in
    keys = load_keys(settings.auth_keys_file, assertions.PURPOSE) \
        if settings.auth_keys_file else None
    upstreams = Upstreams(settings.upstreams(), keys=keys, clock=now,
                          timeout_s=settings.upstream_timeout_s, transports=transports,
                          staff_bearer=staff_bearer)
    # sign-in attempts are counted by every console replica together, in NATS KV
    jetstream: Any = None
    nats_client: Any = None
    shared_counts = LimitsBucket("console", lambda: jetstream,
                                 connected=lambda: bool(nats_client and
                                                        nats_client.is_connected)) \
        if sessions is None and settings.nats_url else None
    throttle = SignInThrottle(failures_per_user=settings.signin_failures_per_user,
                              attempts_per_address=settings.signin_attempts_per_address,
                              window_s=settings.signin_window_s, bucket=shared_counts)
    reference = load_reference(settings.catalogue_file, settings.deadline_policy_file,
                               settings.channel_rules_path)
    state = ConsoleState(settings=settings, directory=directory,
                         sessions=sessions or MemorySessionStore(clock=now),
                         upstreams=upstreams, throttle=throttle, reference=reference,
                         clock=now)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        nonlocal jetstream, nats_client
        nc: Any = None
        if sessions is None and settings.nats_url:
            from hotro.shared.messaging.credentials import connect

            nc = await connect(settings.nats_servers(), settings.nats_credentials(),
                               connect_timeout=5, max_reconnect_attempts=-1)
            jetstream, nats_client = nc.jetstream(timeout=5), nc
            state.sessions = await KvSessionStore.attach(jetstream, clock=now)
            if shared_counts is not None:
                await shared_counts.kv()  # bound now; per process (logged) if it fails
        elif sessions is None and not settings.allow_memory_sessions:
            raise RuntimeError("no session store: set HOTRO_NATS_URL")
        settle_heap()
        try:
            yield
        finally:
            await upstreams.aclose()
            if nc is not None:
                await nc.close()

    app = FastAPI(title="Hotro console", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.console = state
    static = StaticFiles(directory=str(HERE / "static"))
    mark_endpoint(Policy(PolicyKind.PUBLIC, reason="scripts, styles, licences"))(static)
    app.mount("/static", static, name="static")
    app.include_router(build_public_router())
    app.include_router(build_staff_router())
    app.include_router(build_records_router())
    app.include_router(build_oidc_router(settings, now))

    @app.middleware("http")
    async def headers(request: Request, call_next: Callable[[Request], Any]) -> Response:
        response: Response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    async def viewer_of(request: Request) -> Viewer:
        found = getattr(request.state, "viewer", None)
        return found if isinstance(found, Viewer) else await current_viewer(request)

    @app.exception_handler(SignInRequired)
    async def sign_in_required(request: Request, _: Exception) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        location = f"/sign-in?next={httpx.URL(target)}" if request.method == "GET" \
            else "/sign-in?ended=expired"
        if request.headers.get("HX-Request"):
            return Response(status_code=401, headers={"HX-Redirect": location})
        return RedirectResponse(location, 303)

    @app.exception_handler(NotAllowed)
    async def not_allowed(request: Request, _: Exception) -> Response:
        viewer = await viewer_of(request)
        return render(request, viewer, "error.html", status=403,
                      message=viewer.t("error.forbidden"))

    @app.exception_handler(BadForm)
    async def bad_form(request: Request, _: Exception) -> Response:
        viewer = await viewer_of(request)
        return render(request, viewer, "error.html", status=403, message=viewer.t("error.csrf"),
                      back=request.headers.get("referer") if False else None)

    @app.exception_handler(StarletteHTTPException)
    async def no_such_page(request: Request, exc: Exception) -> Response:
        """The framework's own refusals (no such page, a method the page does not take)
        as pages, with the headers they carry (``Allow``)."""
        assert isinstance(exc, StarletteHTTPException)
        viewer = await viewer_of(request)
        message = viewer.t("error.not_found") if exc.status_code == 404 else \
            viewer.t("error.bad_request", detail=str(exc.detail)[:300])
        response = render(request, viewer, "error.html", status=exc.status_code,
                          message=message)
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, exc: Exception) -> Response:
        """A page's address that does not parse: an id in the path names nothing (404), a
        query value of the wrong type is the asker's to correct (400, which and why).
        Pages answer with a page, not the framework's JSON."""
        assert isinstance(exc, RequestValidationError)
        viewer = await viewer_of(request)
        problems = list(exc.errors())
        if any(tuple(p.get("loc", ()))[:1] == ("path",) for p in problems):
            return render(request, viewer, "error.html", status=404,
                          message=viewer.t("error.not_found"))
        return render(request, viewer, "error.html", status=400,
                      message=viewer.t("error.bad_request",
                                       detail=describe(problems, viewer.language)[:300]))

    @app.exception_handler(UpstreamError)
    async def upstream_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, UpstreamError)
        viewer = await viewer_of(request)
        if exc.status == 401:
            log.warning("console: %s refused the console's credential: %s", exc.service,
                        exc.detail)
        if exc.status in (403, 404):
            key = "error.forbidden" if exc.status == 403 else "error.not_found"
            return render(request, viewer, "error.html", status=exc.status,
                          message=viewer.t(key))
        if exc.status in REFUSED_INPUT:
            # what the person asked for (a filter typed into the address, say) was refused:
            # their mistake to correct, with the service's reason, not a failure of ours
            why = refusal_text(exc, viewer.language)[:300]
            return render(request, viewer, "error.html", status=REFUSED_INPUT[exc.status],
                          message=viewer.t("error.bad_request", detail=why))
        log.warning("console: upstream failure %s", exc)
        return render(request, viewer, "error.html", status=502,
                      message=viewer.t("error.upstream"))

    return app

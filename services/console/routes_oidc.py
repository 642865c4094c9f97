"""Sign-in through the OIDC provider: ``/sign-in/oidc`` leaves for the provider,
``/sign-in/oidc/callback`` comes back with a code, which is redeemed and verified
(shared/staff/oidc.py); the identity must be an enabled staff member of the directory
(shared/staff/oidc_login.py). The session is the one password sign-in creates: same
store, cookie, lifetimes and revocation.

A browser-binding cookie (random, HttpOnly, SameSite=Lax so it comes back on the
provider's top-level redirect) ties the callback to the browser that started the sign-in:
a callback URL sent to someone else (login CSRF) finds no binding and is refused."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from hotro.services.console.security import current_viewer, safe_next
from hotro.services.console.settings import ConsoleSettings
from hotro.services.console.web import home_for, render, state_of
from hotro.shared.clock import Clock
from hotro.shared.runtime.throttle import client_address
from hotro.shared.staff.http import public
from hotro.shared.staff.oidc import IdTokenInvalid, OidcClient, ProviderUnavailable
from hotro.shared.staff.oidc_login import (
    PENDING_LIFETIME,
    KvPendingLogins,
    LoginRefused,
    MemoryPendingLogins,
    PendingLogin,
    PendingLogins,
    digest,
    new_secret,
    staff_user_for,
)
from hotro.shared.staff.roles import CASE_ROLES
from hotro.shared.staff.sessions import KvSessionStore, set_session_cookie

log = logging.getLogger(__name__)

START = "/sign-in/oidc"
CALLBACK = "/sign-in/oidc/callback"


def binding_cookie(secure: bool) -> str:
    return "__Host-hotro_oidc" if secure else "hotro_oidc"


def build_oidc_router(settings: ConsoleSettings, clock: Clock) -> APIRouter:
    """The two routes; without ``HOTRO_OIDC_ISSUER`` they answer 404."""
    router = APIRouter()
    client = OidcClient(settings.oidc_config(), clock=clock) if settings.oidc_enabled \
        else None
    mapping = settings.oidc_mapping()
    memory = MemoryPendingLogins(clock=clock)
    cookie = binding_cookie(settings.secure_cookies)

    def pending_store(request: Request) -> PendingLogins:
        sessions = state_of(request).sessions
        if isinstance(sessions, KvSessionStore):  # shared by every console replica
            return KvPendingLogins(sessions.kv, clock=clock)
        return memory

    async def refused(request: Request, status: int, key: str, next_path: str = "/",
                      **values: str) -> Response:
        viewer = await current_viewer(request)
        message = viewer.t(key, provider=settings.oidc_provider_name, **values)
        response = render(request, viewer, "signin.html", status=status, next=next_path,
                          error=message)
        response.delete_cookie(cookie, path="/", secure=settings.secure_cookies,
                               httponly=True, samesite="lax")
        return response

    @router.get(START, dependencies=[Depends(public(
        "sign-in through the OIDC provider: starts the redirect, grants nothing"))])
    async def start(request: Request, next: str = "/") -> Response:
        target = safe_next(next)
        if client is None:
            return await refused(request, 404, "signin.oidc_off", target)
        state = state_of(request)
        address = client_address(request, settings.trusted_proxies)
        if await state.throttle.retry_after("oidc:start", address) is not None:
            return await refused(request, 429, "signin.oidc_throttled", target)
        binding = request.cookies.get(cookie) or new_secret()
        request_state, nonce, verifier = new_secret(), new_secret(), new_secret()
        try:
            authorization = await client.authorization_request(
                state=request_state, nonce=nonce, code_verifier=verifier)
        except ProviderUnavailable as exc:
            log.warning("console: OIDC provider unavailable: %s", exc)
            return await refused(request, 502, "signin.oidc_unavailable", target)
        await pending_store(request).put(request_state, PendingLogin(
            nonce=nonce, code_verifier=verifier, binding_digest=digest(binding),
            next=target, created_at=clock()))
        response = RedirectResponse(authorization.url, 303)
        response.set_cookie(cookie, binding, max_age=int(PENDING_LIFETIME.total_seconds()),
                            path="/", secure=settings.secure_cookies, httponly=True,
                            samesite="lax")
        return response

    @router.get(CALLBACK, dependencies=[Depends(public(
        "the OIDC provider's redirect back: state, PKCE, nonce and ID token are verified "
        "before a session exists"))])
    async def callback(request: Request) -> Response:
        if client is None:
            return await refused(request, 404, "signin.oidc_off")
        params = request.query_params
        request_state = params.get("state") or ""
        login = await pending_store(request).take(request_state) \
            if 16 <= len(request_state) <= 256 else None
        if login is None or not login.bound_to(request.cookies.get(cookie)):
            log.warning("console: OIDC callback with an unknown, used, expired or "
                        "foreign state")
            return await refused(request, 400, "signin.oidc_stale")
        error = params.get("error")
        if error:
            log.warning("console: the OIDC provider refused the sign-in: %.100s", error)
            return await refused(request, 401, "signin.oidc_denied", login.next)
        code = params.get("code")
        if not code or len(code) > 4096:
            return await refused(request, 400, "signin.oidc_failed", login.next)
        try:
            await client.check_response_issuer(params.get("iss"))
            claims = await client.redeem(code, login.code_verifier, login.nonce)
        except ProviderUnavailable as exc:
            log.warning("console: OIDC provider unavailable: %s", exc)
            return await refused(request, 502, "signin.oidc_unavailable", login.next)
        except IdTokenInvalid as exc:
            log.warning("console: OIDC sign-in refused: %s", exc)
            return await refused(request, 401, "signin.oidc_failed", login.next)
        state = state_of(request)
        try:
            user = staff_user_for(claims, mapping, state.directory())
            if user.role not in CASE_ROLES:
                raise LoginRefused(user.id, f"role {user.role.value} has no console pages")
        except LoginRefused as exc:
            log.warning("console: OIDC sign-in of %r refused: %s", exc.identity, exc.reason)
            return await refused(request, 403, "signin.oidc_unknown", login.next,
                                 identity=exc.identity or "?")
        session = await state.sessions.create(user.id)  # a new id at every sign-in
        log.info("console: %s signed in through %s", user.id, settings.oidc_provider_name)
        response = RedirectResponse(login.next if login.next != "/" else
                                    home_for(user.role), 303)
        set_session_cookie(response, session, secure=settings.secure_cookies)
        response.delete_cookie(cookie, path="/", secure=settings.secure_cookies,
                               httponly=True, samesite="lax")
        return response

    return router

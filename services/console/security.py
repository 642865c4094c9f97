"""Who is looking at a page: the session behind the cookie, the user it belongs to (read
from the users directory on every request, so a disabled or demoted user loses access at
once), the language, CSRF checks and sign-in throttling.

Every console route declares its policy with these dependencies (or the shared
``public(…)``): ``staff_page(*roles)`` for pages, ``staff_action(*roles)`` for unsafe
requests (adds the CSRF check), ``form_guard()`` for the public forms (a double-submit
token, as no session exists yet). ``route_policies`` (shared/staff/http.py) sees them."""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from hotro.services.console.i18n import LANGUAGE_COOKIE, pick_language, translator
from hotro.services.console.upstream import Caller
from hotro.shared.runtime.shared_window import LimitsBucket, Taken, Window
from hotro.shared.staff.http import Policy, PolicyKind, mark_endpoint
from hotro.shared.staff.roles import Role
from hotro.shared.staff.sessions import (
    CsrfError,
    Session,
    SessionStore,
    csrf_token_from,
    require_csrf,
    session_id_from,
)
from hotro.shared.staff.users import Directory, StaffUser

FORM_COOKIE = "hotro_form"
FORM_FIELD = "form_token"


class SignInRequired(Exception):
    """No live session: pages redirect to the sign-in page."""


class NotAllowed(Exception):
    """Signed in, but this role may not see the page (403)."""


class BadForm(Exception):
    """CSRF token missing or wrong (403)."""


@dataclass
class Viewer:
    """The person behind a request (``user`` None: a customer or a stranger)."""

    language: str
    user: StaffUser | None = None
    session: Session | None = None
    form_token: str | None = None
    t: Callable[..., str] = field(default=translator("vi"))

    @property
    def caller(self) -> Caller:
        if self.user is None or self.session is None:
            return Caller()
        return Caller(user=self.user, session_id=self.session.id)

    @property
    def csrf_token(self) -> str:
        if self.session is not None:
            return self.session.csrf_token
        return self.form_token or ""

    def has(self, *roles: Role) -> bool:
        return self.user is not None and self.user.role in roles


def _language(request: Request) -> str:
    default: str = request.app.state.console.settings.default_language
    return pick_language(request.cookies.get(LANGUAGE_COOKIE), default)


async def current_viewer(request: Request) -> Viewer:
    """The viewer of any page (signed in or not); never raises."""
    state = request.app.state.console
    language = _language(request)
    viewer = Viewer(language=language, t=translator(language),
                    form_token=request.cookies.get(FORM_COOKIE))
    session_id = session_id_from(request, secure=state.settings.secure_cookies)
    if session_id is not None:
        store: SessionStore = state.sessions
        session = await store.get(session_id)
        if session is not None:
            directory: Directory = state.directory()
            user = directory.active(session.user_id)
            if user is not None:
                viewer.user, viewer.session = user, session
    request.state.viewer = viewer
    return viewer


def staff_page(*roles: Role) -> Callable[[Request], Awaitable[Viewer]]:
    """A signed-in staff member of one of ``roles`` (pages: GET)."""
    allowed = frozenset(roles)

    async def signed_in(request: Request) -> Viewer:
        viewer = await current_viewer(request)
        if viewer.user is None:
            raise SignInRequired()
        if viewer.user.role not in allowed:
            raise NotAllowed()
        return viewer

    return mark_endpoint(Policy(PolicyKind.STAFF, roles=allowed))(signed_in)


def staff_action(*roles: Role) -> Callable[[Request], Awaitable[Viewer]]:
    """As ``staff_page``, for unsafe requests: the session's CSRF token must come back."""
    allowed = frozenset(roles)
    page = staff_page(*roles)

    async def acting(request: Request) -> Viewer:
        viewer = await page(request)
        assert viewer.session is not None
        try:
            await require_csrf(request, viewer.session)
        except CsrfError:
            raise BadForm() from None
        return viewer

    return mark_endpoint(Policy(PolicyKind.STAFF, roles=allowed))(acting)


def public_form(reason: str) -> Callable[[Request], Awaitable[Viewer]]:
    """A public page or form (sign-in, the web form, the customer's page). For unsafe
    methods, the double-submit token (cookie ``hotro_form`` = field ``form_token``)."""

    async def anyone(request: Request) -> Viewer:
        viewer = await current_viewer(request)
        if request.method.upper() not in ("GET", "HEAD", "OPTIONS"):
            cookie = request.cookies.get(FORM_COOKIE)
            presented = await _form_token(request)
            if not cookie or not presented or not hmac.compare_digest(
                    cookie.encode(), presented.encode()):
                raise BadForm()
        return viewer

    return mark_endpoint(Policy(PolicyKind.PUBLIC, reason=reason))(anyone)


def customer_page() -> Callable[[Request], Awaitable[Viewer]]:
    """The customer's page: the link's token is the customer's capability, checked by the
    service holding the case (intake) on every call the page makes."""
    inner = public_form("customer link")

    async def customer(request: Request) -> Viewer:
        return await inner(request)

    return mark_endpoint(Policy(PolicyKind.CUSTOMER, reason="capability in the path, "
                                                              "verified by intake"))(customer)


async def _form_token(request: Request) -> str | None:
    header = request.headers.get("X-Form-Token")
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(FORM_FIELD)
        return value if isinstance(value, str) else None
    return await csrf_token_from(request)


def new_form_token() -> str:
    return secrets.token_urlsafe(24)


# --- sign-in throttling ------------------------------------------------------------------


class SignInThrottle:
    """Sliding windows: failed attempts per user id, attempts per client address, counted
    by every console replica together (``shared_window``; in this process while NATS KV is
    away, or with no bucket). Each password check costs ~45 ms of CPU and 19 MiB
    (argon2id), so both bound what one guesser can make the console do."""

    def __init__(self, *, failures_per_user: int, attempts_per_address: int,
                 window_s: float, bucket: LimitsBucket | None = None,
                 wall: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._failures = Window("failures", failures_per_user, window_s, bucket=bucket,
                                wall=wall, monotonic=monotonic)
        self._attempts = Window("attempts", attempts_per_address, window_s, bucket=bucket,
                                wall=wall, monotonic=monotonic)

    @staticmethod
    def user_key(user_id: str) -> str:
        """A user id as its failures are counted (without case)."""
        return user_id.casefold()

    async def retry_after(self, user_id: str, address: str) -> float | None:
        """Seconds to wait before this attempt may be made, or None (and count it)."""
        wait = await self._failures.retry_after(self.user_key(user_id))
        if wait is not None:
            return wait
        taken = await self._attempts.take(address)
        return None if isinstance(taken, Taken) else taken

    async def failed(self, user_id: str) -> None:
        await self._failures.count(self.user_key(user_id))

    async def succeeded(self, user_id: str) -> None:
        await self._failures.forget(self.user_key(user_id))


def safe_next(target: Any) -> str:
    """Only a local path (never //host or a scheme): no open redirect after sign-in."""
    if isinstance(target, str) and target.startswith("/") and not target.startswith("//") \
            and "\\" not in target and "\n" not in target and "\r" not in target:
        return target
    return "/"

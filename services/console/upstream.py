"""Calls to the services' HTTP APIs with the signed-in person's rights.

Every call carries a fresh staff assertion (``hs1.…``, shared/staff/assertions.py) for the
session's user with the directory's current role and department; it is never given to the
browser. Customers' calls carry their own capability (``cap1.…``) instead, and the public
web form carries nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from hotro.shared.runtime.keep_alive import CLIENT_KEEPALIVE_EXPIRY_S
from hotro.shared.staff.assertions import issue_assertion
from hotro.shared.staff.signing import KeyRing
from hotro.shared.staff.users import StaffUser

SERVICES = ("intake", "routing", "sla", "notify")


@dataclass(frozen=True)
class Caller:
    """Who a call is made for: a staff member of a session, a customer link, or nobody."""

    user: StaffUser | None = None
    session_id: str | None = None
    capability: str | None = None


ANONYMOUS = Caller()


class UpstreamError(Exception):
    """A service refused or failed: ``status`` is its HTTP status (0: unreachable)."""

    def __init__(self, service: str, status: int, detail: Any) -> None:
        super().__init__(f"{service}: {status} {detail}")
        self.service = service
        self.status = status
        self.detail = detail

    def field_errors(self) -> list[dict[str, str]]:
        """Intake's 422 answers list ``errors`` with ``field``/``message_vi``/``message_en``."""
        if isinstance(self.detail, Mapping) and isinstance(self.detail.get("errors"), list):
            return [{str(k): str(v) for k, v in e.items()}
                    for e in self.detail["errors"] if isinstance(e, Mapping)]
        return []

    def message(self) -> str:
        detail = self.detail.get("detail") if isinstance(self.detail, Mapping) else self.detail
        if isinstance(detail, list):  # pydantic's list of problems
            return "; ".join(str(d.get("msg", d)) if isinstance(d, Mapping) else str(d)
                             for d in detail)
        return str(detail)


class Upstreams:
    """One pooled httpx client per service. ``transport`` (tests) replaces the network:
    a mapping service name → ASGI transport, or one transport for all."""

    def __init__(self, bases: Mapping[str, str], *, keys: KeyRing | None,
                 clock: Callable[[], datetime], timeout_s: float = 15.0,
                 transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
                 staff_bearer: Callable[[Caller], str] | None = None) -> None:
        self.bases = dict(bases)
        #: how a staff caller's bearer is made: a fresh assertion (the default)
        self.staff_bearer = staff_bearer or self.assertion
        self.keys = keys
        self.clock = clock
        self._clients = {
            service: httpx.AsyncClient(
                base_url=base, timeout=timeout_s,
                transport=(transports or {}).get(service),
                limits=httpx.Limits(max_connections=64, max_keepalive_connections=32,
                                    keepalive_expiry=CLIENT_KEEPALIVE_EXPIRY_S))
            for service, base in self.bases.items()}

    async def aclose(self) -> None:
        await asyncio.gather(*(c.aclose() for c in self._clients.values()))

    def _headers(self, caller: Caller) -> dict[str, str]:
        if caller.capability is not None:
            return {"Authorization": f"Bearer {caller.capability}"}
        if caller.user is None:
            return {}
        return {"Authorization": f"Bearer {self.staff_bearer(caller)}"}

    def assertion(self, caller: Caller) -> str:
        """A staff assertion for the caller's user and session, minted for this call."""
        if self.keys is None or caller.user is None or caller.session_id is None:
            raise UpstreamError("console", 503, "no assertion keyring (HOTRO_AUTH_KEYS_FILE)")
        user = caller.user
        return issue_assertion(user_id=user.id, role=user.role, department=user.department,
                               session_id=caller.session_id, keys=self.keys, now=self.clock())

    async def request(self, service: str, method: str, path: str, caller: Caller, *,
                      params: Mapping[str, Any] | None = None, json: Any = None,
                      files: Any = None, data: Any = None,
                      headers: Mapping[str, str] | None = None) -> httpx.Response:
        client = self._clients[service]
        sent = {**self._headers(caller), **(headers or {})}
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        try:
            response = await client.request(method, path, params=clean, json=json,
                                            files=files, data=data, headers=sent)
        except httpx.HTTPError as exc:
            raise UpstreamError(service, 0, f"unreachable: {type(exc).__name__}") from None
        if response.status_code >= 400:
            try:
                detail: Any = response.json()
            except ValueError:
                detail = response.text[:500]
            raise UpstreamError(service, response.status_code, detail)
        return response

    async def get_json(self, service: str, path: str, caller: Caller, **kw: Any) -> Any:
        return (await self.request(service, "GET", path, caller, **kw)).json()

    async def post_json(self, service: str, path: str, caller: Caller, body: Any = None,
                        **kw: Any) -> Any:
        response = await self.request(service, "POST", path, caller, json=body, **kw)
        return response.json() if response.content else None

    async def maybe(self, service: str, path: str, caller: Caller, default: Any = None,
                    **kw: Any) -> Any:
        """GET, or ``default`` when the service answers 403/404 or is unreachable (a part
        of a page the person may not see, or that a down service cannot give)."""
        try:
            return await self.get_json(service, path, caller, **kw)
        except UpstreamError as exc:
            if exc.status in (0, 403, 404, 503):
                return default
            raise

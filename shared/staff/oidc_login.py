"""What a sign-in through OIDC keeps between leaving for the provider and coming back, and
which staff member the provider's identity is.

A pending sign-in (nonce, PKCE verifier, where to go next, a digest of the browser's
binding cookie) is stored server-side under a digest of its ``state`` and taken **once**:
a replayed or forged callback finds nothing. ``KvPendingLogins`` keeps them in the session
bucket (``hotro_sessions``, keys ``o.<digest>``) so any console replica can finish a
sign-in another one started; taking is a delete conditional on the read revision, so two
replicas cannot both take one. ``MemoryPendingLogins`` serves tests and a single process.

The directory is the only source of roles: the provider names *who* signs in (one claim,
e.g. ``preferred_username`` or ``email``); an optional roles claim can only confirm the
directory's role, never grant another."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from hotro.shared.clock import Clock, system_clock
from hotro.shared.staff.signing import b64encode
from hotro.shared.staff.users import Directory, StaffUser

#: a sign-in must come back from the provider within this time
PENDING_LIFETIME = timedelta(minutes=10)


@dataclass(frozen=True)
class PendingLogin:
    nonce: str = field(repr=False)
    code_verifier: str = field(repr=False)
    #: SHA-256 of the browser-binding cookie the sign-in started with
    binding_digest: str = field(repr=False)
    next: str
    created_at: datetime

    def encode(self) -> bytes:
        return json.dumps({"nonce": self.nonce, "code_verifier": self.code_verifier,
                           "binding_digest": self.binding_digest, "next": self.next,
                           "created_at": self.created_at.isoformat()}).encode("utf-8")

    @classmethod
    def decode(cls, value: bytes) -> PendingLogin:
        data = json.loads(value)
        return cls(nonce=data["nonce"], code_verifier=data["code_verifier"],
                   binding_digest=data["binding_digest"], next=data["next"],
                   created_at=datetime.fromisoformat(data["created_at"]))

    def bound_to(self, binding: str | None) -> bool:
        return binding is not None and hmac.compare_digest(self.binding_digest,
                                                           digest(binding))


def new_secret() -> str:
    """State, nonce, binding and PKCE verifier: 256 bits (43 characters, RFC 7636's range)."""
    return secrets.token_urlsafe(32)


def digest(value: str) -> str:
    return b64encode(hashlib.sha256(value.encode("utf-8")).digest())


class PendingLogins(Protocol):
    async def put(self, state: str, login: PendingLogin) -> None: ...

    async def take(self, state: str) -> PendingLogin | None:
        """The pending sign-in of ``state``, removed; None if unknown, taken or expired."""
        ...


class MemoryPendingLogins:
    def __init__(self, *, clock: Clock = system_clock, limit: int = 10_000) -> None:
        self.clock = clock
        self.limit = limit
        self._logins: dict[str, PendingLogin] = {}
        self._lock = asyncio.Lock()

    async def put(self, state: str, login: PendingLogin) -> None:
        async with self._lock:
            now = self.clock()
            for key in [k for k, v in self._logins.items()
                        if now - v.created_at >= PENDING_LIFETIME]:
                del self._logins[key]
            if len(self._logins) >= self.limit:  # bounded under a spray of sign-in starts
                del self._logins[next(iter(self._logins))]
            self._logins[digest(state)] = login

    async def take(self, state: str) -> PendingLogin | None:
        async with self._lock:
            login = self._logins.pop(digest(state), None)
        return login if login is not None and _live(login, self.clock()) else None


class KvPendingLogins:
    """In the session bucket (the console's NATS user may already write it)."""

    def __init__(self, kv: Any, *, clock: Clock = system_clock) -> None:
        self.kv = kv
        self.clock = clock

    async def put(self, state: str, login: PendingLogin) -> None:
        await self.kv.create(f"o.{digest(state)}", login.encode())

    async def take(self, state: str) -> PendingLogin | None:
        from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError

        key = f"o.{digest(state)}"
        try:
            entry = await self.kv.get(key)
        except KeyNotFoundError:  # also KeyDeletedError: taken before
            return None
        if not entry.value:
            return None
        try:
            await self.kv.delete(key, last=entry.revision)
        except KeyWrongLastSequenceError:  # another replica took it first
            return None
        login = PendingLogin.decode(entry.value)
        return login if _live(login, self.clock()) else None


def _live(login: PendingLogin, now: datetime) -> bool:
    return now - login.created_at < PENDING_LIFETIME


# --- the provider's identity → a staff member -----------------------------------------------


class LoginRefused(Exception):
    """The provider vouched for someone Hotro does not let in. ``identity`` is what the
    provider said (shown to the person: they signed in as it); ``reason`` is for logs."""

    def __init__(self, identity: str, reason: str) -> None:
        super().__init__(reason)
        self.identity = identity
        self.reason = reason


@dataclass(frozen=True)
class IdentityMapping:
    #: the claim holding the staff user id (``email``: matched to the users' emails)
    user_claim: str = "preferred_username"
    #: optional: a claim (dotted path, e.g. ``realm_access.roles``) listing the person's
    #: roles at the provider; when set, one of them must map to the directory's role
    roles_claim: str | None = None
    #: provider role value → Hotro role name (unlisted values are taken as Hotro names)
    role_values: Mapping[str, str] = field(default_factory=dict)


def identity_of(claims: Mapping[str, Any], mapping: IdentityMapping) -> str:
    value = claims.get(mapping.user_claim)
    if not isinstance(value, str) or not value.strip():
        raise LoginRefused("", f"the ID token has no {mapping.user_claim!r} claim")
    if mapping.user_claim == "email" and claims.get("email_verified") is not True:
        # An unverified address proves nothing: anyone may type anyone's address at many
        # providers.
        raise LoginRefused(value, "the provider does not vouch for the email address")
    return value.strip()


def staff_user_for(claims: Mapping[str, Any], mapping: IdentityMapping,
                   directory: Directory) -> StaffUser:
    """The enabled staff member the ID token's claims name, else ``LoginRefused``."""
    identity = identity_of(claims, mapping)
    if mapping.user_claim == "email":
        matches = [u for u in directory.users
                   if u.email is not None and u.email.casefold() == identity.casefold()]
        if len(matches) > 1:
            raise LoginRefused(identity, "several staff users have this email")
        user = matches[0] if matches else None
    else:
        user = directory.get(identity)
    if user is None:
        raise LoginRefused(identity, "no staff user has this identity")
    if user.disabled:
        raise LoginRefused(identity, f"staff user {user.id} is disabled")
    if mapping.roles_claim is not None:
        granted = {mapping.role_values.get(v, v) for v in _claim_values(claims,
                                                                        mapping.roles_claim)}
        if user.role.value not in granted:
            raise LoginRefused(identity, f"the provider's {mapping.roles_claim!r} does not "
                                         f"grant the role {user.role.value!r}")
    return user


def _claim_values(claims: Mapping[str, Any], path: str) -> list[str]:
    value: Any = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []

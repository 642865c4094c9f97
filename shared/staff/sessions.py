"""Server-side browser sessions for the staff console, their cookie and CSRF protection.

A session is a random id (``secrets.token_urlsafe(32)``, 256 bits) in an HttpOnly,
SameSite=Lax cookie (``__Host-hotro_session``, Secure, when the console is served over
TLS; ``hotro_session`` on a plain-HTTP local run), and a record on the server: the user, a
CSRF token (synchronizer token, rendered into forms and compared with what comes back), and
its times. A session ends at the first of: its absolute lifetime, its idle timeout, its
revocation (signing out, ``revoke_user`` when a user is disabled or changes password).

Stores key sessions by a SHA-256 digest of their id, so a copy of the store (a KV dump, a
backup) holds no usable cookie. ``MemorySessionStore`` serves tests and a single process;
``KvSessionStore`` keeps sessions in the NATS JetStream KV bucket ``hotro_sessions`` so
every console replica sees them.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response

from hotro.shared.clock import Clock, system_clock
from hotro.shared.staff.signing import b64encode

SESSIONS_BUCKET = "hotro_sessions"
COOKIE_SECURE = "__Host-hotro_session"
COOKIE_PLAIN = "hotro_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class SessionPolicy:
    #: a session unused this long ends
    idle_timeout: timedelta = timedelta(minutes=30)
    #: a session ends this long after sign-in, used or not (a working day)
    absolute_lifetime: timedelta = timedelta(hours=12)
    #: ``last_seen_at`` is written at most this often (a store write per request is waste);
    #: the idle timeout is exact to within this interval
    touch_interval: timedelta = timedelta(seconds=60)

    def __post_init__(self) -> None:
        if not timedelta(0) < self.idle_timeout <= self.absolute_lifetime:
            raise ValueError("0 < idle_timeout <= absolute_lifetime")
        if not timedelta(0) <= self.touch_interval < self.idle_timeout:
            raise ValueError("0 <= touch_interval < idle_timeout")


@dataclass(frozen=True)
class Session:
    id: str = field(repr=False)
    user_id: str
    csrf_token: str = field(repr=False)
    created_at: datetime
    last_seen_at: datetime
    #: the absolute end (created_at + absolute lifetime)
    expires_at: datetime

    def ends_at(self, policy: SessionPolicy) -> datetime:
        """When the session ends if not used again."""
        return min(self.expires_at, self.last_seen_at + policy.idle_timeout)

    def live_at(self, now: datetime, policy: SessionPolicy) -> bool:
        return now < self.ends_at(policy)


class SessionStore(Protocol):
    policy: SessionPolicy

    async def create(self, user_id: str) -> Session:
        """A new session (new id, new CSRF token): call at every sign-in, never reuse an id
        (session fixation)."""
        ...

    async def get(self, session_id: str, *, touch: bool = True) -> Session | None:
        """The live session with this id (its use recorded when ``touch``), else None."""
        ...

    async def revoke(self, session_id: str) -> None:
        ...

    async def revoke_user(self, user_id: str) -> int:
        """End every session of the user; how many there were."""
        ...

    async def sessions_of(self, user_id: str) -> list[Session]:
        ...


def session_key(session_id: str) -> str:
    """The store key of a session: a digest, never the id itself."""
    return b64encode(hashlib.sha256(session_id.encode("utf-8")).digest())


def _new_session(user_id: str, now: datetime, policy: SessionPolicy) -> Session:
    if not user_id:
        raise ValueError("a session needs a user")
    return Session(id=secrets.token_urlsafe(32), user_id=user_id,
                   csrf_token=secrets.token_urlsafe(32), created_at=now, last_seen_at=now,
                   expires_at=now + policy.absolute_lifetime)


def _plausible_id(session_id: str) -> bool:
    return 16 <= len(session_id) <= 128


class MemorySessionStore:
    """Sessions in this process's memory (tests, a single-process console)."""

    def __init__(self, policy: SessionPolicy | None = None, *,
                 clock: Clock = system_clock) -> None:
        self.policy = policy or SessionPolicy()
        self.clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = asyncio.Lock()

    async def create(self, user_id: str) -> Session:
        session = _new_session(user_id, self.clock(), self.policy)
        async with self._lock:
            self._prune()
            self._sessions[session_key(session.id)] = session
        return session

    async def get(self, session_id: str, *, touch: bool = True) -> Session | None:
        if not _plausible_id(session_id):
            return None
        key = session_key(session_id)
        now = self.clock()
        async with self._lock:
            session = self._sessions.get(key)
            if session is None:
                return None
            if not session.live_at(now, self.policy):
                del self._sessions[key]
                return None
            if touch and now - session.last_seen_at >= self.policy.touch_interval:
                session = replace(session, last_seen_at=now)
                self._sessions[key] = session
            return session

    async def revoke(self, session_id: str) -> None:
        async with self._lock:
            self._sessions.pop(session_key(session_id), None)

    async def revoke_user(self, user_id: str) -> int:
        async with self._lock:
            keys = [k for k, s in self._sessions.items() if s.user_id == user_id]
            for key in keys:
                del self._sessions[key]
            return len(keys)

    async def sessions_of(self, user_id: str) -> list[Session]:
        now = self.clock()
        async with self._lock:
            return [s for s in self._sessions.values()
                    if s.user_id == user_id and s.live_at(now, self.policy)]

    def _prune(self) -> None:
        now = self.clock()
        for key in [k for k, s in self._sessions.items() if not s.live_at(now, self.policy)]:
            del self._sessions[key]


class KvSessionStore:
    """Sessions in the JetStream KV bucket ``hotro_sessions``.

    Keys: ``s.<digest of id>`` holds the session (JSON, without its id);
    ``u.<hex of user id>.<digest of id>`` is an empty index entry so ``revoke_user`` finds
    a user's sessions with one subject-filtered watch instead of reading every session.
    The bucket's TTL is the absolute lifetime: a session written (created or touched) at t
    is removed by the server by t + lifetime at the latest; whether it is live is always
    decided here from its recorded times. Touches use ``update`` at the read revision: two
    replicas touching at once cannot resurrect a revoked session (a lost touch is harmless).
    """

    def __init__(self, kv: Any, policy: SessionPolicy | None = None, *,
                 clock: Clock = system_clock) -> None:
        self.kv = kv
        self.policy = policy or SessionPolicy()
        self.clock = clock

    @classmethod
    async def attach(cls, js: Any, policy: SessionPolicy | None = None, *,
                     clock: Clock = system_clock) -> KvSessionStore:
        """Bind to the provisioned bucket (fails if provisioning has not created it)."""
        return cls(await js.key_value(SESSIONS_BUCKET), policy, clock=clock)

    async def create(self, user_id: str) -> Session:
        session = _new_session(user_id, self.clock(), self.policy)
        digest = session_key(session.id)
        await self.kv.put(_index_key(user_id, digest), b"")
        await self.kv.create(f"s.{digest}", _encode(session))
        return session

    async def get(self, session_id: str, *, touch: bool = True) -> Session | None:
        from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError

        if not _plausible_id(session_id):
            return None
        digest = session_key(session_id)
        try:
            entry = await self.kv.get(f"s.{digest}")
        except KeyNotFoundError:
            return None
        if not entry.value:
            return None
        session = _decode(session_id, entry.value)
        now = self.clock()
        if not session.live_at(now, self.policy):
            await self._remove(digest, session.user_id)
            return None
        if touch and now - session.last_seen_at >= self.policy.touch_interval:
            session = replace(session, last_seen_at=now)
            try:
                await self.kv.update(f"s.{digest}", _encode(session), last=entry.revision)
            except KeyWrongLastSequenceError:
                # Touched by another replica (fine) or revoked meanwhile: read again.
                return await self.get(session_id, touch=False)
        return session

    async def revoke(self, session_id: str) -> None:
        from nats.js.errors import KeyNotFoundError

        digest = session_key(session_id)
        try:
            entry = await self.kv.get(f"s.{digest}")
        except KeyNotFoundError:
            return
        user_id = json.loads(entry.value)["user_id"] if entry.value else None
        await self._remove(digest, user_id)

    async def revoke_user(self, user_id: str) -> int:
        digests = await self._indexed(user_id)
        for digest in digests:
            await self._remove(digest, user_id)
        return len(digests)

    async def sessions_of(self, user_id: str) -> list[Session]:
        """The user's live sessions (their ids are not known here: ``id`` is empty)."""
        from nats.js.errors import KeyNotFoundError

        now = self.clock()
        found = []
        for digest in await self._indexed(user_id):
            try:
                entry = await self.kv.get(f"s.{digest}")
            except KeyNotFoundError:
                continue
            if entry.value:
                session = _decode("", entry.value)
                if session.live_at(now, self.policy):
                    found.append(session)
        return found

    async def _indexed(self, user_id: str) -> list[str]:
        prefix = f"u.{user_id.encode('utf-8').hex()}."
        watcher = await self.kv.watch(prefix + "*", ignore_deletes=True, meta_only=True)
        digests = []
        try:
            while True:
                entry = await watcher.updates(timeout=5.0)
                if entry is None:
                    break
                digests.append(entry.key[len(prefix):])
                if entry.delta == 0:
                    break
        finally:
            await watcher.stop()
        return digests

    async def _remove(self, digest: str, user_id: str | None) -> None:
        await self.kv.purge(f"s.{digest}")
        if user_id is not None:
            await self.kv.purge(_index_key(user_id, digest))


def _index_key(user_id: str, digest: str) -> str:
    return f"u.{user_id.encode('utf-8').hex()}.{digest}"


def _encode(session: Session) -> bytes:
    return json.dumps({"user_id": session.user_id, "csrf_token": session.csrf_token,
                       "created_at": session.created_at.isoformat(),
                       "last_seen_at": session.last_seen_at.isoformat(),
                       "expires_at": session.expires_at.isoformat()}).encode("utf-8")


def _decode(session_id: str, value: bytes) -> Session:
    data = json.loads(value)
    return Session(id=session_id, user_id=data["user_id"], csrf_token=data["csrf_token"],
                   created_at=datetime.fromisoformat(data["created_at"]),
                   last_seen_at=datetime.fromisoformat(data["last_seen_at"]),
                   expires_at=datetime.fromisoformat(data["expires_at"]))


async def provision_sessions_bucket(js: Any, policy: SessionPolicy | None = None, *,
                                    replicas: int = 1) -> str:
    """Create the bucket (for ``hotro provision``, the only code that creates buckets)."""
    from nats.js import api as js_api

    lifetime = (policy or SessionPolicy()).absolute_lifetime.total_seconds()
    try:
        await js.key_value(SESSIONS_BUCKET)
        return f"kv {SESSIONS_BUCKET} (exists)"
    except Exception:  # not found (nats-py raises several types for it)
        await js.create_key_value(js_api.KeyValueConfig(
            bucket=SESSIONS_BUCKET, history=1, ttl=lifetime,
            storage=js_api.StorageType.FILE, replicas=replicas))
        return f"kv {SESSIONS_BUCKET} (created, ttl {lifetime:.0f}s)"


# --- cookie and CSRF ----------------------------------------------------------------------


def cookie_name(secure: bool) -> str:
    """``__Host-`` binds the cookie to this exact origin (Secure, Path=/, no Domain)."""
    return COOKIE_SECURE if secure else COOKIE_PLAIN


def set_session_cookie(response: Response, session: Session, *, secure: bool) -> None:
    """A browser-session cookie (no Max-Age: the server decides when a session ends)."""
    response.set_cookie(cookie_name(secure), session.id, path="/", secure=secure,
                        httponly=True, samesite="lax")


def clear_session_cookie(response: Response, *, secure: bool) -> None:
    response.delete_cookie(cookie_name(secure), path="/", secure=secure, httponly=True,
                           samesite="lax")


def session_id_from(request: Request, *, secure: bool) -> str | None:
    """The session id the browser sent (only the cookie name of this mode counts)."""
    value = request.cookies.get(cookie_name(secure))
    return value if value and _plausible_id(value) else None


class CsrfError(Exception):
    """The request's CSRF token is missing or not the session's: answer 403."""


def check_csrf(session: Session, presented: str | None) -> None:
    """Raise CsrfError unless ``presented`` is the session's CSRF token (constant time)."""
    if not presented or not hmac.compare_digest(presented.encode("utf-8"),
                                                session.csrf_token.encode("utf-8")):
        raise CsrfError("missing or wrong CSRF token")


async def csrf_token_from(request: Request) -> str | None:
    """The CSRF token sent with a request: the ``X-CSRF-Token`` header (htmx), else the
    ``csrf_token`` field of a urlencoded or multipart form."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


async def require_csrf(request: Request, session: Session) -> None:
    """For unsafe methods (POST, PUT, PATCH, DELETE): the synchronizer token must match."""
    if request.method.upper() in SAFE_METHODS:
        return
    check_csrf(session, await csrf_token_from(request))

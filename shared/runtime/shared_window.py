"""Sliding windows every replica counts in together, kept in the JetStream KV bucket
``hotro_limits``; each window falls back to counting in its own process while the bucket
cannot be reached.

A key's value is the times (epoch seconds) of its counted events within the window, at
most ``limit`` of them, and every change is a compare-and-set on the revision read: two
replicas counting the same key at once cannot both take its last place. Keys are stored as
``<service>.<window>.<digest>`` (SHA-256 of the counted key, so the bucket names no
address or user in clear; the service's NATS user may write only its own prefix). The
bucket's TTL removes a key a day after its last change, which is longer than any window
(a window longer than that is refused).

While NATS, the bucket or its stream leader is away, a window counts in this process
(``SlidingWindow``): N replicas then allow up to N times the limit, as before this bucket
existed, rather than refusing everyone or letting everyone through. A warning says so, at
most once a minute per window.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import concurrent.futures
import hashlib
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

from hotro.shared.runtime.periodic import wait_or_stop
from hotro.shared.runtime.throttle import SlidingWindow

log = logging.getLogger(__name__)

LIMITS_BUCKET = "hotro_limits"
#: a key unchanged this long is removed by the server; no window may be longer
LIMITS_TTL_S = 24 * 3600.0
#: the bucket's size bound: a spray of keys beyond it makes writes fail, and the windows
#: fall back to counting per process
LIMITS_MAX_BYTES = 256 * 1024 * 1024
#: compare-and-set attempts before a contended key is counted locally for this call
_CAS_ATTEMPTS = 10
_WARN_EVERY_S = 60.0


T = TypeVar("T")


class _Local(Enum):
    """The bucket could not be used for this call: count in this process."""

    HERE = 0


class Contended(RuntimeError):
    """A key changed under every compare-and-set attempt: counted locally this once,
    without taking the bucket out of use (it answers; the key is busy)."""


@dataclass(frozen=True)
class Taken:
    """One counted event, so that it can be given back (``Window.give_back``)."""

    key: str
    at: float
    shared: bool


class LimitsBucket:
    """The bucket's handle, bound on the event loop that owns the NATS connection.
    ``js`` returns that connection's JetStream context (None while there is none);
    ``connected`` (optional) says whether the connection is up, so that a window counts
    in its process at once, rather than after a timeout, while NATS is away. After a
    failure the bucket is left alone for ``retry_s`` (every call meanwhile counts in its
    process), so an outage costs one request a timeout per ``retry_s``, not every one."""

    def __init__(self, service: str, js: Callable[[], Any], *,
                 connected: Callable[[], bool] | None = None, timeout_s: float = 1.0,
                 retry_s: float = 5.0, monotonic: Callable[[], float] = time.monotonic
                 ) -> None:
        if not service or "." in service:
            raise ValueError(f"a service name without dots is needed, got {service!r}")
        self.service = service
        self.timeout_s = timeout_s
        self._js = js
        self._connected = connected
        self._retry_s = retry_s
        self._monotonic = monotonic
        self._kv: Any = None
        self._retry_at = 0.0
        self.loop: asyncio.AbstractEventLoop | None = None

    async def kv(self) -> Any:
        """The bound bucket, or None (not reachable now)."""
        if self._monotonic() < self._retry_at:
            return None
        if self._connected is not None and not self._connected():
            return None
        if self._kv is not None:
            return self._kv
        js = self._js()
        if js is None:
            return None
        try:
            self._kv = await asyncio.wait_for(js.key_value(LIMITS_BUCKET), self.timeout_s)
        except Exception as exc:  # not provisioned, NATS away, no leader
            self.failed()
            log.warning("limits bucket %s not reachable (%s: %s): counting in this process",
                        LIMITS_BUCKET, type(exc).__name__, exc)
            return None
        self.loop = asyncio.get_running_loop()
        return self._kv

    def failed(self) -> None:
        """A call did not get an answer: leave the bucket alone for ``retry_s``."""
        self._retry_at = self._monotonic() + self._retry_s

    def bind_job(self) -> Callable[[asyncio.Event], Awaitable[None]]:
        """A runtime background job binding the bucket at start (so that worker threads,
        which cannot bind it themselves, find it bound), retried until it is."""
        async def job(stop: asyncio.Event) -> None:
            while not stop.is_set() and await self.kv() is None:
                if await wait_or_stop(stop, self._retry_s):
                    return
        return job


def stored_key(service: str, window: str, key: str) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(key.encode("utf-8")).digest())
    return f"{service}.{window}.{digest.decode('ascii').rstrip('=')}"


class Window:
    """At most ``limit`` counted events per key within the last ``window_s`` seconds, shared
    by every replica through ``bucket`` (None: this process only)."""

    def __init__(self, name: str, limit: int, window_s: float, *,
                 bucket: LimitsBucket | None = None, wall: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if not name or "." in name:
            raise ValueError(f"a window name without dots is needed, got {name!r}")
        if bucket is not None and window_s > LIMITS_TTL_S:
            raise ValueError(f"a shared window may last at most {LIMITS_TTL_S:.0f} s, "
                             f"got {window_s}")
        self.name = name
        self.limit = limit
        self.window_s = window_s
        self.bucket = bucket
        self.local = SlidingWindow(limit, window_s, monotonic)
        self._wall = wall
        self._warned_at: float | None = None
        self._here = threading.Lock()  # the local count, also used from worker threads

    # --- asynchronous (on the loop that owns the NATS connection) ------------------------

    async def retry_after(self, key: str) -> float | None:
        """Seconds until ``key`` may act again, or None (nothing counted)."""
        shared = await self._shared(lambda kv: self._read_wait(kv, key))
        if isinstance(shared, _Local):
            with self._here:
                return self.local.retry_after(key)
        return shared

    async def take(self, key: str) -> Taken | float:
        """Count one event for ``key`` if the window has room (``Taken``), else the seconds
        to wait (nothing counted)."""
        shared = await self._shared(lambda kv: self._cas_take(kv, key, force=False))
        return self._take_here(key) if isinstance(shared, _Local) else shared

    async def count(self, key: str) -> None:
        """Count one event whatever the window holds (a failure after the fact)."""
        shared = await self._shared(lambda kv: self._cas_take(kv, key, force=True))
        if isinstance(shared, _Local):
            with self._here:
                self.local.count(key)

    async def give_back(self, taken: Taken) -> None:
        if not taken.shared:
            with self._here:
                self.local.give_back(taken.key, taken.at)
            return
        await self._shared(lambda kv: self._cas_remove(kv, taken))

    async def forget(self, key: str) -> None:
        with self._here:
            self.local.forget(key)
        await self._shared(lambda kv: self._purge(kv, key))

    # --- from a worker thread ------------------------------------------------------------

    def take_blocking(self, key: str) -> Taken | float:
        """``take`` for code running in a worker thread: done on the bucket's loop, or in
        this process when there is no bound bucket or no answer in time."""
        return self._on_loop(lambda: self.take(key), lambda: self._take_here(key))

    def give_back_blocking(self, taken: Taken) -> None:
        """``give_back`` for code running in a worker thread."""
        if taken.shared:
            self._on_loop(lambda: self.give_back(taken), lambda: None)
            return
        with self._here:
            self.local.give_back(taken.key, taken.at)

    def _on_loop(self, make: Callable[[], Coroutine[Any, Any, T]], here: Callable[[], T]) -> T:
        loop = self.bucket.loop if self.bucket is not None else None
        if loop is not None and not loop.is_closed():
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is not loop:
                assert self.bucket is not None
                future = asyncio.run_coroutine_threadsafe(make(), loop)
                try:
                    return future.result(self.bucket.timeout_s * 3)
                except (concurrent.futures.TimeoutError, TimeoutError):
                    future.cancel()
                    self._warn(TimeoutError("no answer from the event loop in time"))
        return here()

    def _take_here(self, key: str) -> Taken | float:
        with self._here:
            wait = self.local.retry_after(key)
            if wait is not None:
                return wait
            at = self.local.monotonic()
            self.local.count(key, at)
            return Taken(key, at, shared=False)

    # --- the bucket -----------------------------------------------------------------------

    async def _shared(self, operation: Callable[[Any], Awaitable[T]]) -> T | _Local:
        if self.bucket is None:
            return _Local.HERE
        kv = await self.bucket.kv()
        if kv is None:
            return _Local.HERE
        try:
            return await asyncio.wait_for(operation(kv), self.bucket.timeout_s * 2)
        except Contended as exc:
            self._warn(exc)
            return _Local.HERE
        except Exception as exc:  # NATS away, bucket full, no leader, no answer in time
            self.bucket.failed()
            self._warn(exc)
            return _Local.HERE

    def _warn(self, exc: BaseException) -> None:
        now = time.monotonic()
        if self._warned_at is None or now - self._warned_at >= _WARN_EVERY_S:
            self._warned_at = now
            log.warning("limit %s counted in this process: the shared bucket failed "
                        "(%s: %s)", self.name, type(exc).__name__, exc)

    def _key(self, key: str) -> str:
        assert self.bucket is not None
        return stored_key(self.bucket.service, self.name, key)

    async def _read(self, kv: Any, key: str) -> tuple[list[float], int]:
        from nats.js.errors import KeyNotFoundError

        try:
            entry = await kv.get(self._key(key))
        except KeyNotFoundError as missing:  # never written, or forgotten (a purge marker)
            marker = missing.entry
            return [], int(marker.revision) if marker is not None and marker.revision else 0
        now = self._wall()
        stamps = decode_stamps(entry.value)
        return [s for s in stamps if now - s < self.window_s], int(entry.revision)

    def _wait(self, stamps: list[float]) -> float | None:
        if len(stamps) < self.limit:
            return None
        oldest_counting = stamps[-self.limit]
        return max(0.0, self.window_s - (self._wall() - oldest_counting))

    async def _read_wait(self, kv: Any, key: str) -> float | None:
        stamps, _ = await self._read(kv, key)
        return self._wait(stamps)

    async def _cas_take(self, kv: Any, key: str, *, force: bool) -> Taken | float:
        from nats.js.errors import KeyWrongLastSequenceError

        for _ in range(_CAS_ATTEMPTS):
            stamps, revision = await self._read(kv, key)
            wait = self._wait(stamps)
            if wait is not None and not force:
                return wait
            at = round(self._wall(), 6)
            bisect.insort(stamps, at)
            try:
                await kv.update(self._key(key), _encode(stamps[-self.limit:]), last=revision)
            except KeyWrongLastSequenceError:
                continue  # another replica counted meanwhile: read again
            return Taken(key, at, shared=True)
        raise Contended(f"key changed under {_CAS_ATTEMPTS} attempts in a row")

    async def _cas_remove(self, kv: Any, taken: Taken) -> None:
        from nats.js.errors import KeyWrongLastSequenceError

        for _ in range(_CAS_ATTEMPTS):
            stamps, revision = await self._read(kv, taken.key)
            if taken.at not in stamps:
                return
            stamps.remove(taken.at)
            try:
                await kv.update(self._key(taken.key), _encode(stamps), last=revision)
            except KeyWrongLastSequenceError:
                continue
            return

    async def _purge(self, kv: Any, key: str) -> None:
        await kv.purge(self._key(key))


#: a window and the key to count in it
Place = tuple[Window, str]


async def take_each(places: Iterable[Place]) -> tuple[Window, float] | None:
    """A place in every window for its key, in order, or none at all: at the first
    refusal what was taken is given back, and that window and its wait are returned."""
    taken: list[tuple[Window, Taken]] = []
    for window, key in places:
        outcome = await window.take(key)
        if not isinstance(outcome, Taken):
            for earlier, place in taken:
                await earlier.give_back(place)
            return window, outcome
        taken.append((window, outcome))
    return None


def take_each_blocking(places: Iterable[Place]) -> tuple[Window, float] | None:
    """``take_each`` for code running in a worker thread."""
    taken: list[tuple[Window, Taken]] = []
    for window, key in places:
        outcome = window.take_blocking(key)
        if not isinstance(outcome, Taken):
            for earlier, place in taken:
                earlier.give_back_blocking(place)
            return window, outcome
        taken.append((window, outcome))
    return None


def _encode(stamps: list[float]) -> bytes:
    return json.dumps(stamps, separators=(",", ":")).encode("ascii")


def decode_stamps(value: bytes | None) -> list[float]:
    """A key's stored value: the times it counted (epoch seconds), oldest first."""
    return sorted(float(s) for s in json.loads(value or b"[]"))


async def provision_limits_bucket(js: Any, *, replicas: int = 1) -> str:
    """Create the bucket (for ``hotro provision``, the only code that creates buckets)."""
    from nats.js import api as js_api

    try:
        await js.key_value(LIMITS_BUCKET)
        return f"kv {LIMITS_BUCKET} (exists)"
    except Exception:  # not found (nats-py raises several types for it)
        await js.create_key_value(js_api.KeyValueConfig(
            bucket=LIMITS_BUCKET, history=1, ttl=LIMITS_TTL_S, max_bytes=LIMITS_MAX_BYTES,
            storage=js_api.StorageType.FILE, replicas=replicas,
            direct=True))  # reads by subject: a user's grant names its own keys only
        return f"kv {LIMITS_BUCKET} (created, ttl {LIMITS_TTL_S:.0f}s)"

"""Data keys in the NATS KV bucket ``hotro_pii_keys`` (one key per complaint id).

Erasure purges the key's history and leaves a tombstone, so the key can never be
re-created and every sealed copy stays unreadable."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hotro.shared.messaging.provision import PII_KEYS_BUCKET
from hotro.shared.privacy.sealing import KeyDestroyed

TOMBSTONE = b"erased"


async def bucket(js: Any) -> Any:
    return await js.key_value(PII_KEYS_BUCKET)


async def get_key(kv: Any, key_id: str) -> bytes | None:
    from nats.js.errors import KeyNotFoundError

    try:
        entry = await kv.get(key_id)
    except KeyNotFoundError:
        return None
    if not entry.value or entry.value == TOMBSTONE:
        return None
    return base64.b64decode(entry.value)


async def create_key(kv: Any, key_id: str) -> bytes:
    from nats.js.errors import KeyWrongLastSequenceError

    key = AESGCM.generate_key(bit_length=256)
    try:
        await kv.create(key_id, base64.b64encode(key))
        return key
    except KeyWrongLastSequenceError:
        existing = await kv.get(key_id)
        if existing.value == TOMBSTONE:
            raise KeyDestroyed(f"the key of {key_id} was destroyed (erasure)") from None
        return base64.b64decode(existing.value or b"")


async def destroy_key(kv: Any, key_id: str) -> bool:
    """Purge the key (all revisions) and leave a tombstone. True if a key existed."""
    existed = await get_key(kv, key_id) is not None
    await kv.purge(key_id)
    await kv.put(key_id, TOMBSTONE)
    return existed


class SnapshotKeyRing:
    """Keys fetched once (a CLI run): read-only."""

    def __init__(self, keys: dict[str, bytes | None]) -> None:
        self._keys = dict(keys)

    def key(self, key_id: str) -> bytes | None:
        return self._keys.get(key_id)

    def create(self, key_id: str) -> bytes:
        raise KeyDestroyed("a snapshot key ring creates no keys")

    def destroy(self, key_id: str) -> None:
        self._keys.pop(key_id, None)


async def snapshot(js: Any, key_ids: Iterable[str]) -> SnapshotKeyRing:
    kv = await bucket(js)
    return SnapshotKeyRing({k: await get_key(kv, k) for k in key_ids})


class KeyRingUnavailable(RuntimeError):
    """The key store cannot be reached now (not attached yet, NATS down): retry later.
    Never confused with an erased key (``key()`` -> None)."""


class NatsKeyRing:
    """A synchronous ``KeyRing`` over the async KV bucket, for worker threads.

    The services' blocking code (HTTP commands via ``asyncio.to_thread``, event handlers,
    the delivery loop) runs in worker threads; the NATS connection lives on the runtime's
    event loop. Each call is submitted to that loop with ``run_coroutine_threadsafe`` and
    waited for with a timeout. ``attach`` (run on the loop, by ``keyring_job``) binds the
    ring to the loop and the bucket; a call made before that waits up to ``timeout_s`` for
    it. Calling from the loop's own thread would deadlock, so it is refused.
    """

    def __init__(self, timeout_s: float = 5.0) -> None:
        import threading

        self.timeout_s = timeout_s
        self._loop: Any = None
        self._kv: Any = None
        self._attached = threading.Event()
        self._is_connected: Any = None

    async def attach(self, js: Any, is_connected: Any = None) -> None:
        """``is_connected`` (optional): a cheap check; while it says no, calls fail at once
        instead of waiting ``timeout_s`` for a broker that is away."""
        import asyncio

        self._is_connected = is_connected
        self._kv = await bucket(js)
        self._loop = asyncio.get_running_loop()
        self._attached.set()

    def detach(self) -> None:
        self._attached.clear()
        self._loop = None
        self._kv = None

    def _run(self, make: Any) -> Any:
        import asyncio
        import concurrent.futures

        if not self._attached.wait(self.timeout_s):
            raise KeyRingUnavailable("the data-key store (NATS KV) is not attached")
        loop, kv = self._loop, self._kv
        if loop is None or kv is None:
            raise KeyRingUnavailable("the data-key store (NATS KV) was detached")
        if self._is_connected is not None and not self._is_connected():
            raise KeyRingUnavailable("NATS is disconnected")
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            raise RuntimeError("NatsKeyRing called from its event loop's thread: "
                               "use a worker thread (asyncio.to_thread)")
        future = asyncio.run_coroutine_threadsafe(make(kv), loop)
        try:
            return future.result(self.timeout_s)
        except (concurrent.futures.TimeoutError, TimeoutError):
            future.cancel()
            raise KeyRingUnavailable("the data-key store (NATS KV) did not answer") from None

    def key(self, key_id: str) -> bytes | None:
        result: bytes | None = self._run(lambda kv: get_key(kv, key_id))
        return result

    def create(self, key_id: str) -> bytes:
        result: bytes = self._run(lambda kv: create_key(kv, key_id))
        return result

    def destroy(self, key_id: str) -> None:
        self._run(lambda kv: destroy_key(kv, key_id))


def keyring_job(runtime: Any, ring: NatsKeyRing) -> Any:
    """A runtime background job: attach ``ring`` to the runtime's NATS while it runs."""

    async def job(stop: Any) -> None:
        conn = getattr(runtime, "conn", None)
        await ring.attach(runtime.js, conn.connected.is_set if conn is not None else None)
        try:
            await stop.wait()
        finally:
            ring.detach()

    return job

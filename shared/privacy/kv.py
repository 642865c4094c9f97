"""Data keys in the NATS KV bucket ``hotro_pii_keys`` (one key per complaint id).

The bucket is provisioned here (``provision_key_bucket``) as a stream that makes every key
**write-once**: one message per key (``max_msgs_per_subject=1``) and ``discard new per
subject``, so the server refuses a second write to a key — an overwrite, a KV delete
marker — and rollup headers (KV purge) are not allowed. A service that may create keys
can therefore never replace, delete or purge one (docs/security.md, "Bus permissions").

Erasure (``destroy_key``) erases each message of the key with the stream API's message
delete, which by default *overwrites* the message in the file store (secure erase), and
then writes the tombstone: the key can never be re-created, and no byte of it is left in
any file of the NATS store (docs/security.md, "Data keys and erasure")."""

from __future__ import annotations

import base64
import contextlib
import logging
from collections.abc import Iterable
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hotro.shared.messaging.provision import PII_KEYS_BUCKET
from hotro.shared.privacy.sealing import KeyDestroyed

log = logging.getLogger(__name__)

TOMBSTONE = b"erased"
KEYS_STREAM = f"KV_{PII_KEYS_BUCKET}"
KEYS_PREFIX = f"$KV.{PII_KEYS_BUCKET}."
#: Where the keys wait while a bucket of the old shape is rebuilt (``provision_key_bucket``).
STAGING_BUCKET = f"{PII_KEYS_BUCKET}_migrating"
_KV_OPERATION = "KV-Operation"


async def bucket(js: Any) -> Any:
    return await js.key_value(PII_KEYS_BUCKET)


def key_bucket_config(replicas: int = 1, name: str = PII_KEYS_BUCKET) -> Any:
    """The data-key bucket as a JetStream stream (nats-py's ``create_key_value`` would set
    ``deny_delete``, which can never be lifted, and allow rollups)."""
    from nats.js import api as js_api

    return js_api.StreamConfig(
        name=f"KV_{name}",
        subjects=[f"$KV.{name}.>"],
        storage=js_api.StorageType.FILE,
        retention=js_api.RetentionPolicy.LIMITS,
        num_replicas=replicas,
        max_msgs_per_subject=1,          # KV history 1: a key is one message
        discard=js_api.DiscardPolicy.NEW,
        discard_new_per_subject=True,    # ... and a second write to it is refused
        max_msgs=-1, max_bytes=-1, max_age=0, max_msg_size=-1, max_consumers=-1,
        allow_rollup_hdrs=False,         # no KV purge (a rollup) by anybody
        deny_delete=False,               # erasure deletes (securely) by sequence
        deny_purge=True,                 # a purge only unlinks: never used
        allow_direct=True,               # a key is read by its subject alone
        duplicate_window=120.0,
    )


async def provision_key_bucket(js: Any, replicas: int = 1) -> list[str]:
    """Create the bucket, or bring one of the old shape (``deny_delete``, which a stream
    update cannot lift) to the new one: its keys and tombstones are copied to a staging
    bucket, the old stream is deleted (its files with it, including the bytes of keys that
    the old erasure only purged), the bucket is created anew and the keys copied back.
    Every step is idempotent, so a provisioning run that stops midway is finished by the
    next. Run it with the services stopped (compose and ``hotro up`` do)."""
    from nats.js.errors import NotFoundError

    done: list[str] = []
    info = await _stream_info(js, KEYS_STREAM)
    if info is not None and info.config.deny_delete:
        staging = await _stream_info(js, f"KV_{STAGING_BUCKET}")
        if staging is None:
            await js.add_stream(key_bucket_config(replicas, STAGING_BUCKET))
        copied = await _copy_keys(js, PII_KEYS_BUCKET, STAGING_BUCKET)
        await js.delete_stream(KEYS_STREAM)
        done.append(f"kv {PII_KEYS_BUCKET}: old shape (deny_delete) replaced; "
                    f"{copied} key(s) kept aside")
        info = None
    if info is None:
        await js.add_stream(key_bucket_config(replicas))
        done.append(f"kv {PII_KEYS_BUCKET} (created: write-once keys, secure erase)")
    else:
        await js.update_stream(key_bucket_config(replicas))
        done.append(f"kv {PII_KEYS_BUCKET} (exists)")
    if await _stream_info(js, f"KV_{STAGING_BUCKET}") is not None:
        copied = await _copy_keys(js, STAGING_BUCKET, PII_KEYS_BUCKET)
        with contextlib.suppress(NotFoundError):
            await js.delete_stream(f"KV_{STAGING_BUCKET}")
        done.append(f"kv {PII_KEYS_BUCKET}: {copied} key(s) moved back")
    return done


async def _stream_info(js: Any, name: str) -> Any:
    from nats.js.errors import NotFoundError

    try:
        return await js.stream_info(name)
    except NotFoundError:
        return None


async def _copy_keys(js: Any, source: str, target: str) -> int:
    """Every key of ``source`` into ``target`` (create; equal values are fine). A KV delete
    or purge marker — an erasure of the old code that stopped before its tombstone —
    is copied as the tombstone."""
    from nats.js.errors import KeyWrongLastSequenceError, NotFoundError

    stream, prefix = f"KV_{source}", f"$KV.{source}."
    into = await js.key_value(target)
    seq, copied = 1, 0
    while True:
        try:
            msg = await js.get_msg(stream, seq=seq, subject=f"{prefix}>", next=True)
        except NotFoundError:
            return copied
        seq = msg.seq + 1
        key_id = (msg.subject or "")[len(prefix):]
        marker = (msg.headers or {}).get(_KV_OPERATION) in ("DEL", "PURGE")
        value = TOMBSTONE if marker or not msg.data else msg.data
        try:
            await into.create(key_id, value)
        except KeyWrongLastSequenceError:
            existing = (await into.get(key_id)).value
            if existing != value:
                log.error("data key %s differs between %s and %s; %s's is kept (was a "
                          "service running during the migration?)", key_id, source, target,
                          target)
        copied += 1


async def revisions(js: Any, key_id: str, stream: str = KEYS_STREAM,
                    prefix: str = KEYS_PREFIX) -> list[Any]:
    """Every message the stream holds for the key (oldest first)."""
    from nats.js.errors import NotFoundError

    found: list[Any] = []
    seq = 1
    while True:
        try:
            msg = await js.get_msg(stream, seq=seq, subject=f"{prefix}{key_id}", next=True)
        except NotFoundError:
            return found
        found.append(msg)
        seq = msg.seq + 1


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
    """Erase the key for good and leave a tombstone. True if a key existed.

    Each message of the key is deleted with ``$JS.API.STREAM.MSG.DELETE`` *without*
    ``no_erase``: the server overwrites it in its files. Then the tombstone is written
    with ``create`` (the key's subject is empty now); should a service have created the
    key again in between, that key is erased too and the tombstone written after it."""
    from nats.js.errors import KeyWrongLastSequenceError

    js, stream, prefix = kv._js, kv._stream, kv._pre
    existed = False
    for _attempt in range(10):
        tombstoned = False
        for msg in await revisions(js, key_id, stream, prefix):
            if msg.data == TOMBSTONE and not (msg.headers or {}).get(_KV_OPERATION):
                tombstoned = True
                continue
            existed = existed or bool(msg.data)
            await js.delete_msg(stream, msg.seq)  # secure erase: overwritten in the files
        if tombstoned:
            return existed
        try:
            await kv.create(key_id, TOMBSTONE)
            return existed
        except KeyWrongLastSequenceError:
            continue  # created again meanwhile: erase that one too
    raise RuntimeError(f"the key of {key_id} keeps being re-created; erasure not finished")


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

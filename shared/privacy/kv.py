"""Data keys in the NATS KV bucket ``hotro_pii_keys`` (one key per complaint id).

The bucket is provisioned here (``provision_key_bucket``) as a stream that makes every key
**write-once**: one message per key (``max_msgs_per_subject=1``) and ``discard new per
subject``, so the server refuses a second write to a key — an overwrite, a KV delete
marker — and rollup headers (KV purge) are not allowed. A service that may create keys
can therefore never replace, delete or purge one (docs/security.md, "Bus permissions").

Erasure (``destroy_key``) erases each message of the key with the stream API's message
delete, which by default *overwrites* the message in the file store (secure erase), and
then writes the tombstone: the key can never be re-created, and no byte of it is left in
any file of the NATS store (docs/security.md, "Data keys and erasure").

Reading a key tells three answers apart (``lookup``): the key; erased (the tombstone, or a
KV delete/purge marker of the old erasure); and *absent* — which is never read as erased.
A direct get may be answered by a cluster replica that has not caught up with the leader,
so "not found" is asked again of the stream leader (``STREAM.MSG.GET``); a key absent even
there (not created yet: still pending in intake; or an erasure stopped midway) makes
``get_key`` raise ``KeyMissing``, a ``KeyRingUnavailable``: callers retry later. NATS
being away (no responders, no stream leader, a timeout) is ``KeyRingUnavailable`` too."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
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


class KeyRingUnavailable(RuntimeError):
    """The key store cannot be reached now (not attached yet, NATS down, no responders,
    no stream leader): retry later. Never confused with an erased key (``key()`` -> None)."""


class KeyMissing(KeyRingUnavailable):
    """Neither a key nor an erasure record, even on the stream leader: not created yet
    (intake still holds it as a pending key) or an erasure that stopped midway. Not
    "erased": retry later."""


@dataclass(frozen=True)
class KeyLookup:
    state: str  # "open" | "erased" | "absent"
    key: bytes | None = None


#: how often a key absent on the stream leader is asked again (a leader election, a key
#: being moved from intake's pending table right now)
LEADER_ATTEMPTS = 2
LEADER_RETRY_S = 0.25


def unavailable_errors() -> tuple[type[BaseException], ...]:
    """What nats-py raises when the key store cannot answer now (never "not found")."""
    import nats.errors
    from nats.js import errors as js_errors

    return (nats.errors.TimeoutError, nats.errors.NoRespondersError,
            nats.errors.ConnectionClosedError, nats.errors.StaleConnectionError,
            nats.errors.OutboundBufferLimitError, nats.errors.ConnectionReconnectingError,
            nats.errors.NoServersError, js_errors.ServiceUnavailableError,
            js_errors.ServerError, js_errors.NoStreamResponseError, TimeoutError)


async def _latest(kv: Any, key_id: str, *, direct: bool) -> Any:
    """The key's newest message, or None if the answering server has none."""
    from nats.js.errors import NotFoundError

    try:
        msg = await kv._js.get_msg(kv._stream, subject=f"{kv._pre}{key_id}", direct=direct)
    except NotFoundError:
        return None
    return msg if msg.subject == f"{kv._pre}{key_id}" else None


async def lookup(kv: Any, key_id: str) -> KeyLookup:
    """The key, its erasure, or its absence — absence confirmed by the stream leader.
    nats-py's errors pass through (``unavailable_errors``: NATS cannot answer now)."""
    msg = await _latest(kv, key_id, direct=bool(getattr(kv, "_direct", False)))
    for attempt in range(LEADER_ATTEMPTS if msg is None else 0):
        # a replica answering a direct get may lag the leader: the leader has every
        # acknowledged write (raft), so ask it
        if attempt:
            await asyncio.sleep(LEADER_RETRY_S)
        msg = await _latest(kv, key_id, direct=False)
        if msg is not None:
            break
    if msg is None:
        return KeyLookup("absent")
    marker = (msg.headers or {}).get(_KV_OPERATION) in ("DEL", "PURGE")
    if marker or not msg.data or msg.data == TOMBSTONE:
        return KeyLookup("erased")
    return KeyLookup("open", base64.b64decode(msg.data))


async def get_key(kv: Any, key_id: str) -> bytes | None:
    """The key, or None if it was erased. Raises ``KeyMissing`` if there is neither."""
    found = await lookup(kv, key_id)
    if found.state == "absent":
        raise KeyMissing(f"no data key for {key_id} and no erasure of it (not created yet, "
                         "or an erasure stopped midway)")
    return found.key


async def create_key(kv: Any, key_id: str, key: bytes | None = None) -> bytes:
    """The key of ``key_id``: ``key`` (default: a fresh one) stored, or the one stored."""
    from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError

    key = key or AESGCM.generate_key(bit_length=256)
    try:
        await kv.create(key_id, base64.b64encode(key))
        return key
    except (KeyWrongLastSequenceError, KeyNotFoundError):
        # refused: the key exists (nats-py's own read-back, a direct get, may reach a
        # replica that lags and then says "not found")
        existing = await lookup(kv, key_id)  # on the leader if a replica lags
        if existing.state == "erased":
            raise KeyDestroyed(f"the key of {key_id} was destroyed (erasure)") from None
        if existing.key is None:
            raise KeyRingUnavailable(f"the key of {key_id} exists but cannot be read "
                                     "now") from None
        return existing.key


async def destroy_key(kv: Any, key_id: str) -> bool:
    """Erase the key for good and leave a tombstone. True if a key existed.

    Each message of the key is deleted with ``$JS.API.STREAM.MSG.DELETE`` *without*
    ``no_erase``: the server overwrites it in its files. Then the tombstone is written
    with ``create`` (the key's subject is empty now); should a service have created the
    key again in between, that key is erased too and the tombstone written after it."""
    from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError

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
        except (KeyWrongLastSequenceError, KeyNotFoundError):
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


class NatsKeyRing:
    """A synchronous ``KeyRing`` over the async KV bucket, for worker threads.

    The services' blocking code (HTTP commands via ``asyncio.to_thread``, event handlers,
    the delivery loop) runs in worker threads; the NATS connection lives on the runtime's
    event loop. Each call is submitted to that loop with ``run_coroutine_threadsafe`` and
    waited for with a timeout. ``attach`` (run on the loop, by ``keyring_job``) binds the
    ring to the loop and the bucket; a call made before that waits up to ``timeout_s`` for
    it. Calling from the loop's own thread would deadlock, so it is refused.

    Every failure to reach the store (NATS away, no responders, no stream leader, no
    answer in time) is ``KeyRingUnavailable`` and asks ``keyring_job`` to bind the bucket
    again once NATS is back.
    """

    def __init__(self, timeout_s: float = 5.0) -> None:
        import threading

        self.timeout_s = timeout_s
        self._loop: Any = None
        self._kv: Any = None
        self._attached = threading.Event()
        self._is_connected: Any = None
        self._rebind: asyncio.Event | None = None

    async def attach(self, js: Any, is_connected: Any = None) -> None:
        """``is_connected`` (optional): a cheap check; while it says no, calls fail at once
        instead of waiting ``timeout_s`` for a broker that is away."""
        self._is_connected = is_connected
        self._kv = await bucket(js)
        self._loop = asyncio.get_running_loop()
        if self._rebind is None:
            self._rebind = asyncio.Event()
        self._rebind.clear()
        self._attached.set()

    def detach(self) -> None:
        self._attached.clear()
        self._loop = None
        self._kv = None

    async def rebind_wanted(self) -> None:
        """Returns when a call found the store unreachable (``keyring_job`` waits on it)."""
        if self._rebind is None:
            self._rebind = asyncio.Event()
        await self._rebind.wait()

    def _unreachable(self, loop: Any, why: str, cause: BaseException | None = None
                     ) -> KeyRingUnavailable:
        rebind = self._rebind
        if rebind is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(rebind.set)
        error = KeyRingUnavailable(why)
        error.__cause__ = cause
        return error

    def _run(self, make: Any) -> Any:
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
            raise self._unreachable(loop, "the data-key store (NATS KV) did not answer"
                                    ) from None
        except KeyMissing:
            raise
        except KeyRingUnavailable as exc:
            raise self._unreachable(loop, str(exc), exc) from exc
        except unavailable_errors() as exc:
            raise self._unreachable(loop, f"the data-key store (NATS KV) is unavailable: "
                                          f"{type(exc).__name__} {exc}", exc) from exc

    def key(self, key_id: str) -> bytes | None:
        result: bytes | None = self._run(lambda kv: get_key(kv, key_id))
        return result

    def create(self, key_id: str) -> bytes:
        result: bytes = self._run(lambda kv: create_key(kv, key_id))
        return result

    def create_with(self, key_id: str, key: bytes) -> bytes:
        """``create`` offering this key (``pending.FallbackKeyRing``)."""
        result: bytes = self._run(lambda kv: create_key(kv, key_id, key))
        return result

    def destroy(self, key_id: str) -> None:
        self._run(lambda kv: destroy_key(kv, key_id))


#: attach retries back off up to this (NATS away when the service starts, or the bucket's
#: stream without a leader)
ATTACH_RETRY_MAX_S = 5.0


def keyring_job(runtime: Any, ring: NatsKeyRing) -> Any:
    """A runtime background job: attach ``ring`` to the runtime's NATS while it runs —
    retried until it succeeds, and done again whenever a call found the store
    unreachable (after a NATS outage), so the ring never stays bound to a dead handle."""
    from hotro.shared.runtime.periodic import wait_or_stop

    async def attach_until_done(stop: asyncio.Event) -> None:
        conn = getattr(runtime, "conn", None)
        delay = 0.2
        while not stop.is_set():
            try:
                await ring.attach(runtime.js, conn.connected.is_set if conn is not None
                                  else None)
                return
            except Exception as exc:  # NATS away, no leader, no responders: try again
                log.warning("data-key store not reachable (%s: %s); retrying",
                            type(exc).__name__, exc)
            if await wait_or_stop(stop, delay):
                return
            delay = min(delay * 2, ATTACH_RETRY_MAX_S)

    async def job(stop: asyncio.Event) -> None:
        try:
            await attach_until_done(stop)
            while not stop.is_set():
                rebind = asyncio.ensure_future(ring.rebind_wanted())
                stopping = asyncio.ensure_future(stop.wait())
                try:
                    await asyncio.wait({rebind, stopping},
                                       return_when=asyncio.FIRST_COMPLETED)
                finally:
                    rebind.cancel()
                    stopping.cancel()
                if stop.is_set():
                    break
                conn = getattr(runtime, "conn", None)
                while conn is not None and not conn.connected.is_set() and \
                        not await wait_or_stop(stop, 0.2):
                    pass  # the client reconnects by itself; bind again once it has
                await attach_until_done(stop)
                if await wait_or_stop(stop, 1.0):  # failing calls rebind once a second
                    break
        finally:
            ring.detach()

    return job

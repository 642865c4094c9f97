"""Crypto-shredding: personal data is stored and sent only sealed with a per-complaint key.

A sealed value is a JSON-native dict ``{"key_id", "nonce", "ciphertext"}`` (AES-256-GCM,
base64; the key id is bound as associated data so a ciphertext cannot be moved to another
complaint's key). Destroying the key makes every copy unreadable — in every store, in the
stream, in backups — while the bytes (and the audit seals computed over them) stay as
they were.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ERASED = "[đã xoá / erased]"
SEALED_KEYS = frozenset({"key_id", "nonce", "ciphertext"})


class KeyRing(Protocol):
    def key(self, key_id: str) -> bytes | None:
        """The data key, or None if there is none (never created, or destroyed)."""

    def create(self, key_id: str) -> bytes:
        """The key for ``key_id``, created if it does not exist yet (idempotent)."""

    def destroy(self, key_id: str) -> None:
        """Forget the key for good."""


class KeyDestroyed(LookupError):
    pass


def is_sealed(value: Any) -> bool:
    return isinstance(value, Mapping) and set(value) == SEALED_KEYS


def seal(data: Mapping[str, Any], key: bytes, key_id: str) -> dict[str, str]:
    nonce = os.urandom(12)
    plaintext = json.dumps(dict(data), ensure_ascii=False, sort_keys=True).encode()
    ciphertext = AESGCM(key).encrypt(nonce, plaintext, key_id.encode())
    return {"key_id": key_id, "nonce": base64.b64encode(nonce).decode(),
            "ciphertext": base64.b64encode(ciphertext).decode()}


def unseal(sealed: Mapping[str, Any], key: bytes) -> dict[str, Any]:
    nonce = base64.b64decode(sealed["nonce"])
    ciphertext = base64.b64decode(sealed["ciphertext"])
    plaintext = AESGCM(key).decrypt(nonce, ciphertext, str(sealed["key_id"]).encode())
    data: dict[str, Any] = json.loads(plaintext)
    return data


def reveal(value: Any, keyring: KeyRing | None) -> dict[str, Any] | None:
    """Plain dicts pass through (data stored before sealing); a sealed dict is opened with
    its key; None means erased (no key) or unreadable."""
    if value is None:
        return None
    if not is_sealed(value):
        return dict(value) if isinstance(value, Mapping) else None
    if keyring is None:
        return None
    key = keyring.key(str(value["key_id"]))
    if key is None:
        return None
    try:
        return unseal(value, key)
    except (InvalidTag, ValueError, KeyError):
        return None


def seal_with(keyring: KeyRing, key_id: str, data: Mapping[str, Any]) -> dict[str, str]:
    return seal(data, keyring.create(key_id), key_id)


def keyed_hash(secret: bytes, value: str) -> str:
    """An index key for personal data (phone, email) that is not the data itself."""
    import hashlib
    import hmac

    return hmac.new(secret, value.strip().lower().encode(), hashlib.sha256).hexdigest()


class MemoryKeyRing:
    """Keys in a dict (tests, tools). Thread-safe."""

    def __init__(self) -> None:
        self._keys: dict[str, bytes] = {}
        self._destroyed: set[str] = set()
        self._lock = threading.Lock()

    def key(self, key_id: str) -> bytes | None:
        with self._lock:
            return self._keys.get(key_id)

    def create(self, key_id: str) -> bytes:
        with self._lock:
            if key_id in self._destroyed:
                raise KeyDestroyed(f"the key of {key_id} was destroyed (erasure)")
            return self._keys.setdefault(key_id, AESGCM.generate_key(bit_length=256))

    def destroy(self, key_id: str) -> None:
        with self._lock:
            self._keys.pop(key_id, None)
            self._destroyed.add(key_id)


class CachedKeyRing:
    """Remembers keys read from a slower key ring for ``ttl_s`` (never a destroyed one
    longer than that: erasure takes effect everywhere within the TTL)."""

    def __init__(self, inner: KeyRing, ttl_s: float = 30.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.inner = inner
        self.ttl_s = ttl_s
        self._now = monotonic
        self._cache: dict[str, tuple[float, bytes | None]] = {}
        self._pruned_at = monotonic()
        self._lock = threading.Lock()

    def key(self, key_id: str) -> bytes | None:
        now = self._now()
        with self._lock:
            hit = self._cache.get(key_id)
            if hit is not None and now - hit[0] < self.ttl_s:
                return hit[1]
        value = self.inner.key(key_id)
        self._remember(key_id, value, now)
        return value

    def create(self, key_id: str) -> bytes:
        value = self.inner.create(key_id)
        self._remember(key_id, value, self._now())
        return value

    def create_with(self, key_id: str, key: bytes) -> bytes:
        """``create`` offering this key, when the inner ring can (``kv.NatsKeyRing``)."""
        offer = getattr(self.inner, "create_with", None)
        value: bytes = offer(key_id, key) if offer is not None else self.inner.create(key_id)
        self._remember(key_id, value, self._now())
        return value

    def cached(self) -> int:
        """How many keys are held (not ``__len__``: an empty ring must stay truthy)."""
        with self._lock:
            return len(self._cache)

    def _remember(self, key_id: str, value: bytes | None, now: float) -> None:
        """Cache ``value``; once per TTL drop what has expired (every customer has a key:
        kept forever, the cache grew with the number of cases)."""
        with self._lock:
            self._cache[key_id] = (now, value)
            if now - self._pruned_at >= self.ttl_s:
                self._pruned_at = now
                for stale in [k for k, (at, _) in self._cache.items()
                              if now - at >= self.ttl_s]:
                    del self._cache[stale]

    def destroy(self, key_id: str) -> None:
        self.inner.destroy(key_id)
        with self._lock:
            self._cache.pop(key_id, None)


_process_ring: MemoryKeyRing | None = None
_process_ring_lock = threading.Lock()


def process_keyring() -> MemoryKeyRing:
    """One in-memory key ring per process: the default of applications built without a
    key store (unit tests, in-process tools), so the services of one process can open
    each other's sealed data. Services with NATS use ``kv.NatsKeyRing`` instead."""
    global _process_ring
    with _process_ring_lock:
        if _process_ring is None:
            _process_ring = MemoryKeyRing()
        return _process_ring


def seal_existing(keyring: KeyRing, key_id: str, data: Mapping[str, Any]
                  ) -> dict[str, str] | None:
    """Seal under an existing key only (consumers never create keys): None if the key is
    gone (erased) — the caller then stores nothing personal."""
    key = keyring.key(key_id)
    return None if key is None else seal(data, key, key_id)

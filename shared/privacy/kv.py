"""Data keys in the NATS KV bucket ``hotro_pii_keys`` (one key per complaint id).

Erasure purges the key's history and leaves a tombstone, so the key can never be
re-created and every sealed copy stays unreadable."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.messaging.provision import PII_KEYS_BUCKET
from shared.privacy.sealing import KeyDestroyed

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

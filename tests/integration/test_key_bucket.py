"""The data-key bucket: write-once keys, secure erasure, and provisioning that brings a
bucket of the old shape (``deny_delete``, which no stream update can lift) to the new one
without losing a key or an erasure."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import nats
import pytest
from nats.js import api as js_api

from hotro.natsbin import NatsServerProcess
from hotro.provisioning import provision_all
from hotro.shared.privacy.kv import (
    KEYS_STREAM,
    STAGING_BUCKET,
    TOMBSTONE,
    bucket,
    create_key,
    destroy_key,
    get_key,
)
from hotro.shared.privacy.sealing import KeyDestroyed
from tests.conftest import TEST_PARTITIONS


def _files_holding(root: Path, needle: bytes) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and needle in p.read_bytes())


async def test_old_bucket_is_rebuilt_keeping_keys_and_erasures_and_shedding_old_bytes(
        nats_server: NatsServerProcess, tmp_path: Path) -> None:
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream(timeout=5)
    try:
        old = await js.create_key_value(js_api.KeyValueConfig(
            bucket="hotro_pii_keys", history=1, storage=js_api.StorageType.FILE))
        live, erased, half = os.urandom(32), os.urandom(32), os.urandom(32)
        await old.create("live", base64.b64encode(live))
        await old.create("erased", base64.b64encode(erased))
        await old.purge("erased")  # the old erasure: purge, then the tombstone
        await old.put("erased", TOMBSTONE)
        await old.create("half", base64.b64encode(half))
        await old.purge("half")  # an old erasure that stopped before its tombstone
        assert _files_holding(tmp_path / "nats", base64.b64encode(erased))  # left behind

        await provision_all(nats_server.url, partitions=TEST_PARTITIONS)
        config = (await js.stream_info(KEYS_STREAM)).config
        assert not config.deny_delete and config.discard_new_per_subject
        assert not config.allow_rollup_hdrs and config.max_msgs_per_subject == 1
        with pytest.raises(nats.js.errors.NotFoundError):
            await js.stream_info(f"KV_{STAGING_BUCKET}")
        kv = await bucket(js)
        assert await get_key(kv, "live") == live
        for key_id in ("erased", "half"):
            assert (await kv.get(key_id)).value == TOMBSTONE
            with pytest.raises(KeyDestroyed):
                await create_key(kv, key_id)
        # the old store's files are gone with the old stream: so are the "erased" bytes
        for key in (erased, half):
            assert _files_holding(tmp_path / "nats", base64.b64encode(key)) == []
        assert _files_holding(tmp_path / "nats", base64.b64encode(live))

        # provisioning again changes nothing
        await provision_all(nats_server.url, partitions=TEST_PARTITIONS)
        assert await get_key(await bucket(js), "live") == live
    finally:
        await nc.close()


async def test_destroying_a_key_erases_every_message_and_is_harmless_twice(
        provisioned: NatsServerProcess, tmp_path: Path) -> None:
    nc = await nats.connect(provisioned.url)
    js = nc.jetstream(timeout=5)
    try:
        kv = await bucket(js)
        key = await create_key(kv, "c-1")
        assert await create_key(kv, "c-1") == key  # idempotent
        with pytest.raises(nats.js.errors.Error):
            await kv.put("c-1", b"another")  # write-once
        assert _files_holding(tmp_path / "nats", base64.b64encode(key))
        assert await destroy_key(kv, "c-1") is True
        assert await destroy_key(kv, "c-1") is False
        assert await destroy_key(kv, "never-made") is False  # a tombstone all the same
        with pytest.raises(KeyDestroyed):
            await create_key(kv, "never-made")
        assert await get_key(kv, "c-1") is None
        assert _files_holding(tmp_path / "nats", base64.b64encode(key)) == []
        assert _files_holding(tmp_path / "nats", key) == []
    finally:
        await nc.close()

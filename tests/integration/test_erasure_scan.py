"""Erasure that erases: after ``hotro erase`` and the documented compaction step
(``hotro compact``), no byte of the destroyed data key is left in ANY file of the system —
NATS's file store, the services' SQLite files (WAL included), logs, mail, the config.

The system is the ``hotro up`` layout in a temporary directory: the local nats-server
with authentication (``hotro.local_nats``), the four services in-process with their own
NATS users and SQLite stores. The erased complaint's key is made while NATS is down, so
it also passes through intake's pending-key table before it reaches the key bucket.
Controls prove the scan can fail: a key that was not erased is found (NATS store), a key
still pending is found (SQLite), and a key "erased" the old way (KV purge + tombstone in
a bucket of the old shape) is found too — what ``hotro erase`` left behind before."""

from __future__ import annotations

import asyncio
import base64
import uuid
from pathlib import Path
from typing import Any, cast

import pytest
from eventsourcing.application import Application
from nats.js import api as js_api

from hotro import local_nats
from hotro.cli import main as hotro
from hotro.natsbin import NatsServerProcess
from hotro.provisioning import provision_all
from hotro.shared.eventstore.persistence import persistence_env
from hotro.shared.messaging.credentials import connect
from hotro.shared.privacy.kv import TOMBSTONE, bucket
from hotro.shared.privacy.pending import pending_keys_for
from tests.conftest import TEST_LEASE_TTL_S, TEST_PARTITIONS
from tests.integration.test_pipeline import COMPLAINT
from tests.support.system import InProcessSystem, running_system, settled
from tests.support.waiting import eventually

SERVICES = ("intake", "routing", "sla", "notify")


def scan(root: Path, needles: dict[str, bytes]) -> dict[str, list[str]]:
    """{needle name: files (relative to root) holding it}, over every regular file."""
    found: dict[str, list[str]] = {name: [] for name in needles}
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        data = path.read_bytes()
        for name, needle in needles.items():
            if needle in data:
                found[name].append(str(path.relative_to(root)))
    return found


def forms(name: str, key: bytes) -> dict[str, bytes]:
    """The key as raw bytes and as the base64 text the bucket and tables hold."""
    return {f"{name} (raw)": key, f"{name} (base64)": base64.b64encode(key)}


async def _submit(system: InProcessSystem, customer: str) -> dict[str, Any]:
    async with system.client("intake") as client:
        person = dict(cast(dict[str, str], COMPLAINT["customer"]), name=customer)
        r = await client.post("/api/complaints", headers={"Idempotency-Key": str(uuid.uuid4())},
                              json={**COMPLAINT, "customer": person})
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


async def test_after_erasure_and_compaction_no_file_holds_a_byte_of_the_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "var"
    (root / "logs").mkdir(parents=True)
    server: NatsServerProcess = local_nats.local_server(
        root, 0, TEST_PARTITIONS, log_file=root / "logs" / "nats-server.log")
    server.start()
    try:
        operator = local_nats.operator_credentials(root)
        await provision_all(server.url, partitions=TEST_PARTITIONS,
                            lease_ttl_s=TEST_LEASE_TTL_S, credentials=operator)
        extra: dict[str, dict[str, Any]] = {}
        for service in SERVICES:
            creds = local_nats.credentials(root, service)
            extra[service] = {"nats_user": creds.user,
                              "nats_password_file": creds.password_file,
                              "pii_key_cache_s": 0}
        nc = await connect([server.url], operator)
        keys = await bucket(nc.jetstream(timeout=5))
        try:
            async with running_system(server.url,
                                      lambda s: f"sqlite:///{root / f'{s}.sqlite'}", root,
                                      partitions=TEST_PARTITIONS,
                                      lease_ttl_s=TEST_LEASE_TTL_S,
                                      settings_extra=extra) as system:
                intake = system.application("intake")
                control = await _submit(system, "Khách Đối Chứng")
                await eventually(lambda: settled(system, TEST_PARTITIONS), message="settled")

                # NATS goes away: the target's key is made by intake, kept in its table
                await nc.close()
                server.stop()
                conn = system.runtime("intake").conn
                assert conn is not None
                await eventually(lambda: not conn.connected.is_set(), message="disconnect")
                target = await _submit(system, "Khách Bị Xoá")
                pending_key = await asyncio.to_thread(intake.pending_keys.get, target["id"])
                assert pending_key is not None
                server.start()
                nc = await connect([server.url], operator)
                keys = await bucket(nc.jetstream(timeout=5))

                async def moved() -> bool:  # the relay moved it to the bucket
                    try:
                        entry = await keys.get(target["id"])
                    except Exception:
                        return False
                    return entry.value == base64.b64encode(pending_key) and \
                        not await asyncio.to_thread(intake.pending_keys.items)

                await eventually(moved, timeout=30, message="pending key moved to the KV")
                await eventually(lambda: settled(system, TEST_PARTITIONS), timeout=30,
                                 message="settled after the outage")
                control_key = base64.b64decode((await keys.get(control["id"])).value or b"")

                # before erasure the scan finds the target's key: in the bucket's files
                before = scan(root, forms("target", pending_key))
                assert any(before.values()), before

                # ---- erase, the way an operator does ----
                capsys.readouterr()
                code = await asyncio.to_thread(hotro, [
                    "erase", target["reference"], "--reason", "yêu cầu của khách hàng",
                    "--by", "dpo.test", f"--nats={server.url}", f"--data-dir={root}"])
                out = capsys.readouterr().out
                assert code == 0 and "1 data key(s) destroyed" in out, out
                assert (await keys.get(target["id"])).value == TOMBSTONE

        finally:
            await nc.close()
    finally:
        server.stop()

    # control for the SQLite files: a key still waiting in intake's table (put there
    # with the services stopped, so no relay moves it)
    store = Application[uuid.UUID](env=persistence_env(f"sqlite:///{root / 'intake.sqlite'}"))
    try:
        still_pending = pending_keys_for(store.recorder).put_new("control-still-pending")
    finally:
        store.close()

    # control: the old erasure (KV purge + tombstone, a bucket as nats-py makes it), on a
    # server of its own whose store is scanned too — what `hotro erase` left behind before
    legacy_server = NatsServerProcess(store_dir=root / "legacy-nats")
    legacy_server.start()
    try:
        legacy_nc = await connect([legacy_server.url])
        legacy = await legacy_nc.jetstream(timeout=5).create_key_value(js_api.KeyValueConfig(
            bucket="hotro_pii_keys", history=1, storage=js_api.StorageType.FILE))
        legacy_key = uuid.uuid4().bytes + uuid.uuid4().bytes
        await legacy.create("old", base64.b64encode(legacy_key))
        await legacy.purge("old")
        await legacy.put("old", TOMBSTONE)
        await legacy_nc.close()
    finally:
        legacy_server.stop()

    # ---- the documented compaction step, with everything stopped ----
    capsys.readouterr()
    assert await asyncio.to_thread(hotro, ["compact", f"--data-dir={root}"]) == 0
    assert "WAL truncated" in capsys.readouterr().out

    files = [p for p in root.rglob("*") if p.is_file()]
    assert any(p.suffix == ".blk" and "KV_hotro_pii_keys" in str(p) for p in files)
    assert any(p.name == "intake.sqlite" for p in files)
    assert any(p.name == "nats-server.log" for p in files)
    found = scan(root, {**forms("target", pending_key), **forms("control", control_key),
                        **forms("still pending", still_pending),
                        **forms("legacy erasure", legacy_key)})
    print(f"scanned {len(files)} files under {root}:")
    for name, where in found.items():
        print(f"  {name}: {where or 'nowhere'}")
    assert found["target (raw)"] == [] and found["target (base64)"] == [], found
    assert any("KV_hotro_pii_keys" in f for f in found["control (base64)"]), found
    assert any(f.startswith("intake.sqlite") for f in found["still pending (raw)"]), found
    assert any(f.startswith("legacy-nats") for f in found["legacy erasure (base64)"]), found

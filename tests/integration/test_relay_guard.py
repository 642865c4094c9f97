"""A store that is behind the stream (replaced, or restored from a backup) must not have
its events silently dropped as duplicates: its relay refuses, loudly."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from hotro.natsbin import NatsServerProcess
from tests.conftest import TEST_LEASE_TTL_S, TEST_PARTITIONS
from tests.integration.test_pipeline import COMPLAINT
from tests.support.system import running_system
from tests.support.waiting import eventually


async def test_relay_refuses_to_publish_a_store_that_is_behind_the_stream(
        provisioned: NatsServerProcess, tmp_path: Path) -> None:
    async def submit(store_dir: Path, count: int) -> httpx.Response:
        async with running_system(provisioned.url,
                                  lambda s: f"sqlite:///{store_dir}/{s}.sqlite", store_dir,
                                  partitions=TEST_PARTITIONS, lease_ttl_s=TEST_LEASE_TTL_S,
                                  services=("intake",)) as system:
            async with system.client("intake") as client:
                for _ in range(count):
                    r = await client.post("/api/complaints", json=COMPLAINT,
                                          headers={"Idempotency-Key": str(uuid.uuid4())})
                    assert r.status_code == 201
            relay = system.runtime("intake").relay
            assert relay is not None
            store = system.application("intake")

            def settled() -> str | bool:
                if relay.error:
                    return relay.error
                return bool(relay.position == store.max_notification_id())

            try:
                await eventually(settled, message="relay caught up or refused")
            except AssertionError as exc:
                raise AssertionError(f"{exc}: position {relay.position}, "
                                     f"store {store.max_notification_id()}") from None
            async with system.client("intake") as client:
                return await client.get("/readyz")

    first = await submit(tmp_path / "original", 5)
    assert first.status_code == 200
    replaced = await submit(tmp_path / "replaced", 1)  # a fresh, shorter log
    assert replaced.status_code == 503
    assert "another or a restored store" in replaced.json()["relay_error"]

"""A replica that cannot keep leases is not ready, and says why: with the leases' bucket
refusing writes (a full JetStream disk in the chaos runs) every replica held nothing and
still answered ready, so nothing looked wrong while nothing was consumed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nats

from hotro.natsbin import NatsServerProcess
from hotro.provisioning import provision_all
from hotro.shared.contracts.subjects import LEASES_BUCKET
from tests.conftest import TEST_LEASE_TTL_S, TEST_PARTITIONS
from tests.support.system import running_system
from tests.support.waiting import eventually


async def test_a_replica_whose_lease_rounds_fail_is_not_ready_until_they_work_again(
        provisioned: NatsServerProcess, tmp_path: Path) -> None:
    async with running_system(provisioned.url, lambda s: f"sqlite:///{tmp_path}/{s}.sqlite",
                              tmp_path, partitions=TEST_PARTITIONS,
                              lease_ttl_s=TEST_LEASE_TTL_S, services=("intake",)) as system, \
            system.client("intake") as client:

        async def readiness(status: int) -> dict[str, Any] | None:
            r = await client.get("/readyz")
            return r.json() if r.status_code == status else None

        await eventually(lambda: readiness(200), message="intake ready")
        nc = await nats.connect(provisioned.url)
        try:
            await nc.jetstream().delete_key_value(LEASES_BUCKET)
        finally:
            await nc.close()
        refused = await eventually(lambda: readiness(503), timeout=4 * TEST_LEASE_TTL_S,
                                   message="not ready without its leases")
        assert refused["nats_connected"] is True  # connected, and still not ready
        assert "no lease round completed" in refused["leases_error"]
        assert refused["partitions"] == []

        await provision_all(provisioned.url, partitions=TEST_PARTITIONS,
                            lease_ttl_s=TEST_LEASE_TTL_S, max_deliver=5, ack_wait_s=3.0)
        back = await eventually(lambda: readiness(200), timeout=6 * TEST_LEASE_TTL_S,
                                message="ready again once the bucket takes writes")
        assert back["leases_error"] is None

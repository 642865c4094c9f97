"""A three-node JetStream cluster (R3 streams, consumers and buckets) under the services:
they keep accepting and processing complaints when any one node is killed with SIGKILL,
and when the node leading the event stream is; nothing is lost, nothing applied twice."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from hotro.natsbin import NatsCluster, NatsServerProcess
from tests.conftest import TEST_LEASE_TTL_S, TEST_PARTITIONS
from tests.e2e.conftest import SERVICES, Cluster
from tests.e2e.effects import all_done, missing_or_doubled, stream_counts
from tests.e2e.submit import submit_many
from tests.support.nats_cluster import running_cluster, stream_leader, stream_replicas
from tests.support.postgres import PostgresSchemas
from tests.support.waiting import eventually

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

EXPECTED = {"routing": 1, "sla": 2, "notify": 1}


@pytest.fixture
async def r3(tmp_path: Path) -> AsyncIterator[NatsCluster]:
    async with running_cluster(tmp_path / "nats-cluster", partitions=TEST_PARTITIONS,
                               lease_ttl_s=TEST_LEASE_TTL_S) as cluster:
        yield cluster


@pytest.fixture
def on_r3(r3: NatsCluster, pg_schemas: PostgresSchemas, tmp_path: Path
          ) -> Iterator[Cluster]:
    c = Cluster(r3, pg_schemas, tmp_path)
    try:
        yield c
    finally:
        c.stop_all()


async def _wait_exactly_once(services: Cluster, complaints: list[uuid.UUID]) -> None:
    stores = {s: services.store(s) for s in EXPECTED}
    await eventually(lambda: all_done(stores, complaints), timeout=240, interval=0.5,
                     message=f"every service reacting to all {len(complaints)} complaints")
    for service, n in EXPECTED.items():
        problems = missing_or_doubled(stores[service], service, complaints, n)
        assert problems == {"missing": [], "doubled": []}, service


@pytest.mark.parametrize("victim", ["any node", "stream leader"])
async def test_services_carry_on_when_one_node_is_killed(on_r3: Cluster, victim: str) -> None:
    r3 = on_r3.nats
    assert isinstance(r3, NatsCluster)
    assert await stream_replicas(r3) == 3
    for service in SERVICES:
        on_r3.start(service)
    leader = await stream_leader(r3)
    target: NatsServerProcess = leader if victim == "stream leader" else \
        random.choice(r3.nodes)
    killed = asyncio.Event()
    killed_at = 0.0

    async def kill_once(accepted: int) -> None:
        nonlocal killed_at
        if accepted == 40 and not killed.is_set():
            killed.set()
            killed_at = time.monotonic()
            target.kill9()

    complaints = await submit_many(on_r3.url("intake"), 120, on_accepted=kill_once)
    assert killed.is_set() and len(set(complaints)) == 120
    await _wait_exactly_once(on_r3, complaints)
    print(f"\n{victim} ({target.server_name}) killed: all 120 complaints processed once, "
          f"{time.monotonic() - killed_at:.1f}s after the kill")
    if victim == "stream leader":
        assert (await stream_leader(r3)).server_name != target.server_name

    # the node comes back on its port and store, catches up, and work goes on
    target.start()
    more = await submit_many(on_r3.url("intake"), 30)
    await _wait_exactly_once(on_r3, complaints + more)
    counts = await stream_counts(r3.url)
    assert counts and max(counts.values()) == 1, "an event is twice in the stream"
    assert sum(1 for k in counts if k.startswith("intake:")) == len(complaints) + len(more)

"""A three-node JetStream cluster of nats-servers from the wheel, for tests: free client
and route ports, a store directory per node, streams, consumers and buckets provisioned
with three replicas. Nodes can be killed (SIGKILL) and restarted on their port and store."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import nats

from hotro.natsbin import NatsCluster, NatsServerProcess, wait_jetstream
from hotro.provisioning import provision_all
from hotro.shared.contracts.subjects import EVENTS_STREAM


@contextlib.asynccontextmanager
async def running_cluster(root: Path, *, partitions: int, lease_ttl_s: float,
                          max_deliver: int = 5, ack_wait_s: float = 3.0
                          ) -> AsyncIterator[NatsCluster]:
    cluster = NatsCluster(root)
    try:
        cluster.start()
        await wait_jetstream(cluster.urls, replicas=3, timeout=90)
        await provision_all(cluster.url, partitions=partitions, lease_ttl_s=lease_ttl_s,
                            replicas=3, max_deliver=max_deliver, ack_wait_s=ack_wait_s)
        yield cluster
    finally:
        cluster.stop()


async def stream_leader(cluster: NatsCluster, stream: str = EVENTS_STREAM
                        ) -> NatsServerProcess:
    """The node leading ``stream`` (stream info ``cluster.leader``), asked of live nodes."""
    nc = await nats.connect([n.url for n in cluster.nodes if n.running()],
                            connect_timeout=2, max_reconnect_attempts=2)
    try:
        info = await nc.jetstream(timeout=5).stream_info(stream)
    finally:
        await nc.close()
    assert info.cluster is not None and info.cluster.leader, info
    return cluster.node(info.cluster.leader)


async def stream_replicas(cluster: NatsCluster, stream: str = EVENTS_STREAM) -> int:
    nc = await nats.connect([n.url for n in cluster.nodes if n.running()],
                            connect_timeout=2, max_reconnect_attempts=2)
    try:
        info = await nc.jetstream(timeout=5).stream_info(stream)
    finally:
        await nc.close()
    return int(info.config.num_replicas or 1)

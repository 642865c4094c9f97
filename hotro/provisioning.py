"""`hotro provision`: the single place that creates streams, consumers and buckets."""

from __future__ import annotations

from hotro.shared.messaging.credentials import NatsCredentials, connect
from hotro.shared.messaging.provision import ProvisionSpec, provision
from hotro.shared.runtime.shared_window import provision_limits_bucket
from hotro.shared.staff.sessions import provision_sessions_bucket
from hotro.topology import TOPOLOGY


async def provision_all(nats_url: str, *, partitions: int, lease_ttl_s: float = 6.0,
                        replicas: int = 1, max_deliver: int = 8,
                        duplicate_window_s: float = 24 * 3600.0,
                        ack_wait_s: float = 10.0,
                        credentials: NatsCredentials | None = None) -> list[str]:
    """``credentials``: the operator user (``provision``) where the server requires one."""
    nc = await connect(nats_url.split(","), credentials, connect_timeout=5)
    try:
        spec = ProvisionSpec(
            partitions=partitions,
            subscriptions={svc: dict(subs) for svc, subs in TOPOLOGY.items()},
            lease_ttl_s=lease_ttl_s, replicas=replicas, max_deliver=max_deliver,
            duplicate_window_s=duplicate_window_s, ack_wait_s=ack_wait_s,
        )
        js = nc.jetstream(timeout=10)
        done = await provision(js, spec)
        # the console's sign-in sessions (shared by its replicas; revocable)
        done.append(await provision_sessions_bucket(js, replicas=replicas))
        # what strangers may do, counted by every replica together (public limits)
        done.append(await provision_limits_bucket(js, replicas=replicas))
        return done
    finally:
        await nc.close()

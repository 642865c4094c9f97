"""Streams, consumers and the leases bucket — created or updated here and nowhere else.

Services only bind to what exists (``declare=False``): a service started with an old
configuration can never rewrite the stream for everybody.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js.errors import NotFoundError

from hotro.shared.contracts.subjects import (
    DLQ_ROOT,
    DLQ_STREAM,
    EVENTS_ROOT,
    EVENTS_STREAM,
    LEASES_BUCKET,
    consumer_filters,
    durable_name,
)

# Names only (no code) from the audit package: streams are created here and nowhere else.
SEALS_STREAM = "HOTRO_SEALS"
SEALS_ROOT = "hotro.seal"
PII_KEYS_BUCKET = "hotro_pii_keys"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProvisionSpec:
    partitions: int
    #: {service: {producer: (EventType, ...)}}
    subscriptions: Mapping[str, Mapping[str, tuple[str, ...]]]
    duplicate_window_s: float = 24 * 3600.0
    replicas: int = 1
    max_deliver: int = 8
    ack_wait_s: float = 10.0
    #: One unacknowledged message per partition: a replica that dies holding a message
    #: blocks its partition until ack_wait expires, and the next owner then gets that same
    #: message first — so one complaint's events are never applied out of order.
    max_ack_pending: int = 1
    lease_ttl_s: float = 6.0


async def provision(js: JetStreamContext, spec: ProvisionSpec) -> list[str]:
    """Idempotent. Returns a line per object for the operator."""
    done: list[str] = []
    events = js_api.StreamConfig(
        name=EVENTS_STREAM,
        subjects=[f"{EVENTS_ROOT}.>"],
        storage=js_api.StorageType.FILE,
        retention=js_api.RetentionPolicy.LIMITS,
        max_age=0,  # no age limit: the stream is a replayable record of the whole flow
        duplicate_window=spec.duplicate_window_s,
        num_replicas=spec.replicas,
        deny_delete=True,
        deny_purge=True,
        allow_direct=True,
    )
    done.append(await _upsert_stream(js, events))
    dlq = js_api.StreamConfig(
        name=DLQ_STREAM,
        subjects=[f"{DLQ_ROOT}.>"],
        storage=js_api.StorageType.FILE,
        num_replicas=spec.replicas,
        duplicate_window=120.0,
        deny_delete=True,
    )
    done.append(await _upsert_stream(js, dlq))
    # Audit seals (shared/seals.py): append-only, one chain per service.
    seals = js_api.StreamConfig(
        name=SEALS_STREAM,
        subjects=[f"{SEALS_ROOT}.>"],
        storage=js_api.StorageType.FILE,
        retention=js_api.RetentionPolicy.LIMITS,
        max_age=0,
        duplicate_window=spec.duplicate_window_s,
        num_replicas=spec.replicas,
        deny_delete=True,
        deny_purge=True,
    )
    done.append(await _upsert_stream(js, seals))

    for service, subs in sorted(spec.subscriptions.items()):
        if not subs:
            continue
        for p in range(spec.partitions):
            config = js_api.ConsumerConfig(
                durable_name=durable_name(service, p),
                filter_subjects=consumer_filters(dict(subs), p),
                ack_policy=js_api.AckPolicy.EXPLICIT,
                deliver_policy=js_api.DeliverPolicy.ALL,
                max_deliver=spec.max_deliver,
                ack_wait=spec.ack_wait_s,
                max_ack_pending=spec.max_ack_pending,
                num_replicas=spec.replicas,
            )
            await js.add_consumer(EVENTS_STREAM, config)  # create or update in place
            done.append(f"consumer {EVENTS_STREAM}/{config.durable_name}")

    try:
        leases = await js.stream_info(f"KV_{LEASES_BUCKET}")
    except NotFoundError:
        await js.create_key_value(
            js_api.KeyValueConfig(bucket=LEASES_BUCKET, history=1, ttl=spec.lease_ttl_s,
                                  storage=js_api.StorageType.FILE, replicas=spec.replicas,
                                  direct=True)
        )
        done.append(f"kv {LEASES_BUCKET} (created, ttl {spec.lease_ttl_s}s)")
    else:
        if not leases.config.allow_direct:
            # a service reads its own lease keys by subject only (direct get), never the
            # bucket by sequence (docs/security.md, "Bus permissions")
            leases.config.allow_direct = True
            await js.update_stream(leases.config)
        done.append(f"kv {LEASES_BUCKET} (exists)")
    # Per-complaint data keys (shared/privacy/kv.py): write-once keys, secure erasure.
    from hotro.shared.privacy.kv import provision_key_bucket

    done += await provision_key_bucket(js, spec.replicas)
    return done


async def _upsert_stream(js: JetStreamContext, config: js_api.StreamConfig) -> str:
    try:
        await js.stream_info(config.name or "")
    except NotFoundError:
        await js.add_stream(config)
        return f"stream {config.name} (created)"
    await js.update_stream(config)
    return f"stream {config.name} (updated)"


async def check_provisioned(js: JetStreamContext, service: str, partitions: int,
                            needs_consumers: bool) -> None:
    """Raise if provisioning has not run (services never declare); at start a service
    calls it through ``wait_provisioned``, which retries for a bounded time.

    A service with consumers checks the stream through them: its NATS user has no stream
    info of ``HOTRO_EVENTS`` (which, with a subject filter, would list every complaint's
    subjects — docs/security.md, "Bus permissions")."""
    if needs_consumers:
        for p in range(partitions):
            await js.consumer_info(EVENTS_STREAM, durable_name(service, p))
    else:
        await js.stream_info(EVENTS_STREAM)
    await js.key_value(LEASES_BUCKET)


class NotProvisioned(RuntimeError):
    """The service's streams, consumers or leases bucket could not be found in time."""


async def wait_provisioned(js: JetStreamContext, service: str, partitions: int,
                           needs_consumers: bool, *, timeout_s: float = 60.0) -> None:
    """``check_provisioned``, retried with backoff for up to ``timeout_s``: a service that
    starts while the cluster has no stream leader (or NATS is restarting, or provisioning
    is still running) must wait for it rather than exit at the first timeout."""
    deadline = time.monotonic() + timeout_s
    delay = 0.2
    while True:
        try:
            await check_provisioned(js, service, partitions, needs_consumers)
            return
        except Exception as exc:
            left = deadline - time.monotonic()
            if left <= 0:
                raise NotProvisioned(
                    f"{service}: could not check its streams, consumers and leases bucket "
                    f"within {timeout_s:g}s (last error: {exc!r}); is NATS up with a "
                    "JetStream leader, and has `hotro provision` run? "
                    "(HOTRO_START_TIMEOUT_S sets the wait)") from exc
            log.warning("%s: provisioning not confirmed yet (%r); retrying in %.1fs "
                        "(giving up in %.0fs)", service, exc, min(delay, left), left)
            await asyncio.sleep(min(delay, left))
            delay = min(delay * 2, 5.0)

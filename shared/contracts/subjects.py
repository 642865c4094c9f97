"""Subject scheme (documented in docs/architecture.md).

    hotro.evt.<producer>.<EventType>.<partition>.<complaint_id>

* a consumer filters by type:      ``hotro.evt.*.ComplaintReceived.>``
* a partition consumer:            ``hotro.evt.*.ComplaintReceived.3.*``
* an auditor follows one complaint: ``hotro.evt.*.*.*.<complaint_id>``

Dead letters: ``hotro.dlq.<consumer service>.<producer>.<EventType>``.
"""

from __future__ import annotations

import uuid
import zlib

EVENTS_STREAM = "HOTRO_EVENTS"
DLQ_STREAM = "HOTRO_DLQ"
LEASES_BUCKET = "hotro_leases"
EVENTS_ROOT = "hotro.evt"
DLQ_ROOT = "hotro.dlq"
DEFAULT_PARTITIONS = 8


def partition_of(complaint_id: uuid.UUID, partitions: int) -> int:
    """Stable partition: every event of one complaint lands in the same partition."""
    return zlib.crc32(complaint_id.bytes) % partitions


def event_subject(producer: str, event_type: str, complaint_id: uuid.UUID, partitions: int) -> str:
    p = partition_of(complaint_id, partitions)
    return f"{EVENTS_ROOT}.{producer}.{event_type}.{p}.{complaint_id}"


def producer_filter(producer: str) -> str:
    return f"{EVENTS_ROOT}.{producer}.>"


def consumer_filters(event_types: dict[str, tuple[str, ...]], partition: int) -> list[str]:
    """Filter subjects of one partition consumer: ``{producer: (EventType, ...)}``."""
    return [
        f"{EVENTS_ROOT}.{producer}.{event_type}.{partition}.*"
        for producer, types in sorted(event_types.items())
        for event_type in types
    ]


def durable_name(service: str, partition: int) -> str:
    return f"{service}-p{partition}"


def dlq_subject(service: str, producer: str, event_type: str) -> str:
    return f"{DLQ_ROOT}.{service}.{producer}.{event_type}"

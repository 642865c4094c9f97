"""Count each service's effects per complaint, straight from its store."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from typing import Any

from tests.support.stores import event_counts


def effects(store: Any, service: str) -> Counter[uuid.UUID]:
    """One count per complaint of the event that is this service's reaction to it."""
    counts = event_counts(store)
    name = {"routing": "Case.Opened", "sla": "Clock.Set", "notify": "Contact.Recorded",
            "intake": "MessageIndex.Indexed"}[service]
    out: Counter[uuid.UUID] = Counter()
    for (complaint_id, event), n in counts.items():
        if event == name:
            out[complaint_id] += n
    return out


def missing_or_doubled(store: Any, service: str, complaints: list[uuid.UUID],
                       expected: int = 1) -> dict[str, list[uuid.UUID]]:
    counts = effects(store, service)
    return {
        "missing": [c for c in complaints if counts[c] < expected],
        "doubled": [c for c in complaints if counts[c] > expected],
    }


def all_done(stores: dict[str, Any], complaints: list[uuid.UUID]) -> bool:
    expected = {"routing": 1, "sla": 2, "notify": 1}
    return all(not missing_or_doubled(stores[s], s, complaints, n)["missing"]
               for s, n in expected.items())


async def stream_counts(url: str, deadline_s: float = 60) -> Counter[str]:
    """How many times each (producer, notification id) is in the event stream. ``url``:
    one server or a cluster's comma-separated list.

    A cluster just back from a node's restart can take seconds to place a consumer and
    answers a fetch with 503 until it has; the count then starts again with a new
    reader, until ``deadline_s``."""
    import nats
    from nats.js import errors as js_errors

    nc = await nats.connect(url.split(","))
    try:
        js = nc.jetstream(timeout=20)
        end = time.monotonic() + deadline_s
        while True:
            try:
                return await _count_once(js)
            except (TimeoutError, js_errors.ServiceUnavailableError):
                if time.monotonic() > end:
                    raise
    finally:
        await nc.close()


async def _count_once(js: Any) -> Counter[str]:
    """Read the whole stream once with a fresh light reader (one replica, in memory); done
    when a fetch comes back empty and the reader has nothing pending."""
    import json

    from nats.js import api as js_api

    from hotro.shared.contracts.subjects import EVENTS_STREAM

    config = js_api.ConsumerConfig(mem_storage=True, num_replicas=1)
    sub = await js.pull_subscribe("hotro.evt.>", stream=EVENTS_STREAM, config=config)
    try:
        seen: Counter[str] = Counter()
        while True:
            try:
                msgs = await sub.fetch(500, timeout=1)
            except TimeoutError:
                info = await sub.consumer_info()
                if info.num_pending == 0 and info.num_ack_pending == 0:
                    return seen
                continue
            for m in msgs:
                body = json.loads(m.data)
                seen[f"{body['producer']}:{body['notification_id']}"] += 1
                await m.ack()
    finally:
        await sub.unsubscribe()

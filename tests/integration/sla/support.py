"""Helpers for the SLA scenario tests: submit complaints, read sla's store and the stream."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import datetime
from typing import Any

import nats
from eventsourcing.domain import DomainEvent

from hotro.services.sla.domain.clock import Clock
from hotro.shared.clock import VIETNAM_TZ
from hotro.shared.contracts.subjects import EVENTS_STREAM
from tests.support.system import InProcessSystem


def ict(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=VIETNAM_TZ)


def complaint(n: int) -> dict[str, Any]:
    return {"kind": "complaint", "channel": "web",
            "customer": {"name": f"Khách {n}", "email": f"khach{n}@example.com"},
            "description": f"Sản phẩm số {n} bị lỗi."}


async def submit(system: InProcessSystem, count: int) -> list[uuid.UUID]:
    ids = []
    async with system.client("intake") as client:
        for n in range(count):
            response = await client.post("/api/complaints", json=complaint(n),
                                         headers={"Idempotency-Key": str(uuid.uuid4())})
            assert response.status_code == 201, response.text
            ids.append(uuid.UUID(response.json()["id"]))
    return ids


def stored(app: Any, event_class: type[DomainEvent]) -> Counter[uuid.UUID]:
    """How many events of ``event_class`` each clock has in sla's store."""
    seen: Counter[uuid.UUID] = Counter()
    for n in app.recorder.select_notifications(start=0, limit=1_000_000,
                                               inclusive_of_start=False):
        event = app.mapper.to_domain_event(n)
        if isinstance(event, event_class):
            seen[event.originator_id] += 1
    return seen


def clock_ids(complaints: list[uuid.UUID], kinds: tuple[str, ...]) -> set[uuid.UUID]:
    return {Clock.create_id(c, k) for c in complaints for k in kinds}


async def on_stream(url: str, event_type: str) -> Counter[uuid.UUID]:
    """How many ``event_type`` messages sla published per clock (complaint id + clock kind)."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe(f"hotro.evt.sla.{event_type}.>", stream=EVENTS_STREAM)
        seen: Counter[uuid.UUID] = Counter()
        while True:
            try:
                msgs = await sub.fetch(200, timeout=0.5)
            except TimeoutError:
                return seen
            for m in msgs:
                body = json.loads(m.data)
                seen[Clock.create_id(uuid.UUID(body["complaint_id"]),
                                     body["payload"]["clock"])] += 1
                await m.ack()
    finally:
        await nc.close()

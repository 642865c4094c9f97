"""A partition consumer asks its lease before each message: once the lease lapsed (the
old holder's renewals failing while a new owner may take over) it handles nothing more
of a batch it already fetched and hands the rest back, in order, for the next owner."""

from __future__ import annotations

import asyncio
from typing import Any

from hotro.shared.contracts.envelope import Envelope
from hotro.shared.messaging.consumer import PartitionConsumer
from hotro.shared.observability.metrics import ServiceMetrics


class FakeMsg:
    def __init__(self, n: int) -> None:
        self.data = b"{}"
        self.n = n
        self.outcome: str | None = None

    async def nak(self, delay: float | None = None) -> None:
        self.outcome = "nak"

    async def ack(self) -> None:
        self.outcome = "ack"


class App:
    name = "notify"


async def test_a_lapsed_lease_hands_the_fetched_batch_back_unhandled() -> None:
    handled: list[Envelope] = []
    valid = {"now": False}

    def handle(envelope: Envelope) -> bool:
        handled.append(envelope)
        return True

    app: Any = App()
    js: Any = None
    consumer = PartitionConsumer(app, js, 0, ServiceMetrics("notify"), handle=handle,
                                 holds=lambda: valid["now"])
    msgs: list[Any] = [FakeMsg(i) for i in range(3)]
    await consumer._process_batch(msgs, asyncio.Event())
    assert handled == []
    assert [m.outcome for m in msgs] == ["nak", "nak", "nak"]
    assert consumer.processed == 0

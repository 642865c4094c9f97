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


class CountingSub:
    """Counts fetches (each would bring the handed-back message again)."""

    def __init__(self) -> None:
        self.fetches = 0

    async def fetch(self, batch: int, timeout: float) -> list[Any]:
        self.fetches += 1
        await asyncio.sleep(0.01)
        return []

    async def unsubscribe(self) -> None:
        return None


async def test_a_lapsed_consumer_does_not_fetch_until_it_holds_the_lease_again() -> None:
    """Handing back on every fetch counts a delivery each time: spinning while the owner
    is still busy stopping another partition used the message's max_deliver up and the
    server then dropped it unprocessed (seen in the chaos runs)."""
    valid = {"now": False}
    app: Any = App()
    consumer = PartitionConsumer(app, None, 0, ServiceMetrics("notify"),  # type: ignore[arg-type]
                                 handle=lambda envelope: True, holds=lambda: valid["now"])
    sub = CountingSub()

    async def attach(stop: asyncio.Event) -> Any:
        return sub

    consumer._attach = attach  # type: ignore[method-assign]
    stop = asyncio.Event()
    running = asyncio.ensure_future(consumer.run(stop))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 0.3
    while loop.time() < deadline:  # lapsed for 0.3 s: not one fetch
        await asyncio.sleep(0.01)
    assert sub.fetches == 0
    valid["now"] = True
    deadline = loop.time() + 5
    while sub.fetches == 0 and loop.time() < deadline:
        await asyncio.sleep(0.01)
    assert sub.fetches > 0  # held again: it fetches
    stop.set()
    await asyncio.wait_for(running, timeout=5)

"""Stopping a service: every partition it holds is told to stop at once, so a stop takes
one partition's hand-back, not one per partition held (eight by default)."""

from __future__ import annotations

import asyncio
from typing import Any

from hotro.shared.observability.metrics import ServiceMetrics
from hotro.shared.runtime.host import ServiceRuntime, _Running
from hotro.shared.settings import ServiceSettings
from tests.support.waiting import eventually


class App:
    name = "routing"
    closed = False

    def close(self) -> None:
        self.closed = True


async def test_every_partition_is_told_to_stop_before_the_first_is_waited_for() -> None:
    partitions = 8
    app: Any = App()
    runtime = ServiceRuntime(ServiceSettings(nats_url="nats://nats:4222",
                                             store_url="sqlite:///unused.sqlite"), app,
                             ServiceMetrics("routing"))
    # The consumers end only when the test lets them: meanwhile a stop that waits for
    # one before telling the next has told only the first.
    release = asyncio.Event()

    async def consumer(stop: asyncio.Event) -> None:
        await stop.wait()
        await release.wait()

    stops = [asyncio.Event() for _ in range(partitions)]
    for p, stop in enumerate(stops):
        runtime._partitions[p] = _Running(stop, asyncio.ensure_future(consumer(stop)),
                                          consumer=None)  # type: ignore[arg-type]
    stopping = asyncio.ensure_future(runtime.stop())
    try:
        await eventually(lambda: all(s.is_set() for s in stops), timeout=3,
                         message="every partition told to stop")
    finally:
        release.set()
        await stopping
    assert runtime._partitions == {}
    assert app.closed

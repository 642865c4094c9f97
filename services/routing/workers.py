"""Routing's periodic background work."""

from __future__ import annotations

import asyncio

from hotro.services.routing.views import CaseQueues
from hotro.shared.runtime.host import Background
from hotro.shared.runtime.periodic import run_every


def follow_case_queues(queues: CaseQueues, period_s: float) -> Background:
    """Keep the case queues following routing's log, every ``period_s`` seconds."""
    async def run(stop: asyncio.Event) -> None:
        await run_every(period_s, lambda: asyncio.to_thread(queues.refresh), stop,
                        what="following the log for the case queues")
    return run

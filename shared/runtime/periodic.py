"""The periodic loop every background job runs on: one step, then wait for the period or
for the stop signal, whichever comes first. A failed step is logged and tried again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep ``seconds`` unless ``stop`` is set first. Returns True when stopped."""
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    return stop.is_set()


async def run_every(period_s: float | Callable[[], float], step: Callable[[], Awaitable[object]],
                    stop: asyncio.Event, *, what: str) -> None:
    """Run ``step`` every ``period_s`` seconds (a number, or a function giving the next
    period) until ``stop`` is set."""
    while not stop.is_set():
        try:
            await step()
        except Exception:
            log.warning("%s failed; trying again", what, exc_info=True)
        period = period_s() if callable(period_s) else period_s
        if await wait_or_stop(stop, period):
            return

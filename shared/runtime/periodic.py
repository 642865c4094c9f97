"""The periodic loop every background job runs on: one step, then wait for the period, a
wake-up or the stop signal, whichever comes first. A failed step is logged and tried again.

Jobs with work that arrives from a known place (a commit in this process, a clock that
was moved) are woken by it (``waker``) and keep a long period as a safety net: idle, they
cost nothing."""

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


async def wait_for_either(stop: asyncio.Event, wakeup: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds`` unless ``stop`` or ``wakeup`` is set first (neither is cleared)."""
    if stop.is_set() or wakeup.is_set():
        return
    waits = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wakeup.wait())}
    try:
        await asyncio.wait(waits, timeout=max(seconds, 0.0),
                           return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()


def waker(event: asyncio.Event) -> Callable[[], None]:
    """A function any thread may call to set ``event`` on the running loop (e.g. a commit
    listener: saves run in worker threads).

    Every waiter clears ``event`` before it reads what woke it, so an event still set has
    not been taken yet: whatever happened before this call is read after that clear, and
    the call can skip waking the loop (a write to its self-pipe) again."""
    loop = asyncio.get_running_loop()

    def wake() -> None:
        if event.is_set():
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody to wake
            loop.call_soon_threadsafe(event.set)
    return wake


async def run_every(period_s: float | Callable[[], float], step: Callable[[], Awaitable[object]],
                    stop: asyncio.Event, *, what: str,
                    wakeup: asyncio.Event | None = None, min_gap_s: float = 0.0) -> None:
    """Run ``step`` every ``period_s`` seconds (a number, or a function giving the next
    period) until ``stop`` is set; with ``wakeup``, also as soon as it is set (it is
    cleared before each step, so a wake-up during a step runs one more), but no sooner
    than ``min_gap_s`` after the previous step began: a burst of wake-ups (a commit each,
    under load) is taken by one step."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        began = loop.time()
        if wakeup is not None:
            wakeup.clear()
        try:
            await step()
        except Exception:
            log.warning("%s failed; trying again", what, exc_info=True)
        period = period_s() if callable(period_s) else period_s
        if wakeup is None:
            if await wait_or_stop(stop, period):
                return
        else:
            await wait_for_either(stop, wakeup, period)
            gap = min_gap_s - (loop.time() - began)
            if gap > 0 and await wait_or_stop(stop, gap):
                return

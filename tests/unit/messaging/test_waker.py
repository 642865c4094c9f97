"""A commit listener wakes its loop once per wake-up taken: while the event is still set
(the waiter has not cleared it to read), further commits do not write to the loop's
self-pipe again; once cleared, the next commit wakes it."""

from __future__ import annotations

import asyncio
from typing import Any

from hotro.shared.runtime.periodic import run_every, waker
from tests.support.waiting import eventually


async def test_a_wake_up_not_yet_taken_is_not_sent_again() -> None:
    event = asyncio.Event()
    loop = asyncio.get_running_loop()
    sent: list[Any] = []
    send = loop.call_soon_threadsafe

    def counted(callback: Any, *args: Any, **kwargs: Any) -> Any:
        if callback == event.set:
            sent.append(callback)
        return send(callback, *args, **kwargs)

    loop.call_soon_threadsafe = counted  # type: ignore[method-assign,assignment]
    try:
        wake = waker(event)
        await asyncio.to_thread(wake)
        await eventually(event.is_set, message="woken")
        await asyncio.to_thread(wake)
        await asyncio.to_thread(wake)
        assert len(sent) == 1  # still set: the waiter reads everything after it clears
        event.clear()
        await asyncio.to_thread(wake)
        await eventually(event.is_set, message="woken again")
        assert len(sent) == 2
    finally:
        del loop.call_soon_threadsafe


async def test_a_burst_of_wake_ups_within_the_minimum_gap_is_taken_by_one_step() -> None:
    """The sla timer is woken by every commit; under load the commits of one gap share a
    tick, and the last wake-up of the burst is not lost."""
    loop = asyncio.get_running_loop()
    stop, wakeup = asyncio.Event(), asyncio.Event()
    steps: list[float] = []

    async def step() -> None:
        steps.append(loop.time())

    task = asyncio.create_task(run_every(3600.0, step, stop, what="test", wakeup=wakeup,
                                         min_gap_s=0.3))
    try:
        await eventually(lambda: len(steps) == 1, message="the first step")
        for _ in range(20):
            wakeup.set()
            await asyncio.sleep(0)  # let the loop run: a step now would be counted
        assert len(steps) == 1
        await eventually(lambda: len(steps) == 2, message="the burst's step")
        assert steps[1] - steps[0] >= 0.3
    finally:
        stop.set()
        await task


async def test_without_a_gap_a_wake_up_steps_before_the_period() -> None:
    stop, wakeup = asyncio.Event(), asyncio.Event()
    steps: list[int] = []

    async def step() -> None:
        steps.append(1)

    task = asyncio.create_task(run_every(3600.0, step, stop, what="test", wakeup=wakeup))
    try:
        await eventually(lambda: len(steps) == 1, message="the first step")
        wakeup.set()
        await eventually(lambda: len(steps) == 2, message="woken")
    finally:
        stop.set()
        await task

"""A commit listener wakes its loop once per wake-up taken: while the event is still set
(the waiter has not cleared it to read), further commits do not write to the loop's
self-pipe again; once cleared, the next commit wakes it."""

from __future__ import annotations

import asyncio
from typing import Any

from hotro.shared.runtime.periodic import waker
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

"""A shared window without its bucket counts in its process, with the same rules; an
unreachable bucket is asked again only after a pause, and never while the connection is
known to be down (each request would otherwise wait for a timeout)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hotro.shared.runtime.shared_window import (
    LIMITS_TTL_S,
    LimitsBucket,
    Taken,
    Window,
    stored_key,
)
from tests.support.monotonic import SettableMonotonic


class _NoBucket:
    """A JetStream context whose bucket look-up fails, counting the attempts."""

    def __init__(self) -> None:
        self.asked = 0

    async def key_value(self, _bucket: str) -> Any:
        self.asked += 1
        raise TimeoutError("no answer")


async def test_without_a_bucket_a_window_takes_gives_back_and_forgets_in_process() -> None:
    clock = SettableMonotonic()
    window = Window("address", 2, 60.0, monotonic=clock)
    first, second = await window.take("a"), await window.take("a")
    assert isinstance(first, Taken) and isinstance(second, Taken) and not first.shared
    assert await window.take("a") == pytest.approx(60.0)
    await window.give_back(first)
    assert isinstance(await window.take("a"), Taken)
    await window.forget("a")
    assert await window.retry_after("a") is None
    await window.count("b")
    await window.count("b")
    await window.count("b")  # counted whatever the window holds (a failure after the fact)
    assert await window.retry_after("b") == pytest.approx(60.0)
    clock.now += 60.0
    assert await window.retry_after("b") is None


async def test_an_unreachable_bucket_is_asked_again_only_after_the_pause() -> None:
    clock = SettableMonotonic()
    js = _NoBucket()
    bucket = LimitsBucket("intake", lambda: js, retry_s=5.0, monotonic=clock)
    window = Window("address", 1, 60.0, bucket=bucket, monotonic=clock)
    assert isinstance(await window.take("a"), Taken)
    assert isinstance(await window.take("a"), float)  # counted here meanwhile
    assert js.asked == 1
    clock.now += 5.0
    await window.take("b")
    assert js.asked == 2


async def test_a_connection_known_to_be_down_is_not_asked() -> None:
    js = _NoBucket()
    bucket = LimitsBucket("intake", lambda: js, connected=lambda: False)
    window = Window("address", 1, 60.0, bucket=bucket)
    assert isinstance(await window.take("a"), Taken)
    assert js.asked == 0


async def test_a_worker_thread_counts_in_process_before_the_bucket_is_bound() -> None:
    window = Window("sender", 1, 60.0, bucket=LimitsBucket("intake", lambda: None))
    first = await asyncio.to_thread(window.take_blocking, "s")
    assert isinstance(first, Taken) and not first.shared
    assert isinstance(await asyncio.to_thread(window.take_blocking, "s"), float)


def test_names_and_lengths_are_checked() -> None:
    bucket = LimitsBucket("intake", lambda: None)
    with pytest.raises(ValueError):
        Window("a.b", 1, 60.0)
    with pytest.raises(ValueError):
        Window("address", 1, LIMITS_TTL_S + 1, bucket=bucket)
    with pytest.raises(ValueError):
        LimitsBucket("in.take", lambda: None)
    key = stored_key("intake", "address", "198.51.100.7")
    assert key.startswith("intake.address.") and "198" not in key.split(".", 2)[2]
    assert key == stored_key("intake", "address", "198.51.100.7")


class _BusyKv:
    """A bucket where every compare-and-set finds the key changed meanwhile."""

    def __init__(self) -> None:
        self.updates = 0

    async def get(self, _key: str) -> Any:
        from nats.js.errors import KeyNotFoundError

        raise KeyNotFoundError()

    async def update(self, _key: str, _value: bytes, last: int) -> int:
        from nats.js.errors import KeyWrongLastSequenceError

        self.updates += 1
        raise KeyWrongLastSequenceError()


class _BusyJs:
    def __init__(self) -> None:
        self.kv = _BusyKv()

    async def key_value(self, _bucket: str) -> Any:
        return self.kv


async def test_a_contended_key_is_counted_here_once_and_the_bucket_stays_in_use() -> None:
    js = _BusyJs()
    window = Window("address", 1, 60.0, bucket=LimitsBucket("intake", lambda: js))
    first = await window.take("a")
    assert isinstance(first, Taken) and not first.shared
    tried = js.kv.updates
    assert tried > 1  # it tried again before giving up
    await window.take("b")
    assert js.kv.updates == 2 * tried  # asked again at once: contention is not an outage

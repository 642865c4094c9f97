"""Injectable clocks: real time, a fixed/settable time for tests, a fast demo clock."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

Clock = Callable[[], datetime]

#: Vietnam's civil time: UTC+07:00 all year since 1975, no daylight saving, so a fixed
#: offset is exact for every date the system handles and needs no tz database.
VIETNAM_TZ = timezone(timedelta(hours=7), "ICT")


def system_clock() -> datetime:
    return datetime.now(UTC)


class SettableClock:
    """A clock tests move by hand. Thread-safe (services call it from worker threads)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("clock needs an aware datetime")
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when

    def advance(self, **delta: float) -> datetime:
        with self._lock:
            self._now += timedelta(**delta)
            return self._now


class ScaledClock:
    """Starts at ``start`` and runs ``speed`` times faster than real time (demos)."""

    def __init__(self, start: datetime, speed: float) -> None:
        self.start = start
        self.speed = speed
        self._t0 = time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self._t0) * self.speed)


def clock_from_settings(start: str | None, speed: float) -> Clock:
    if start is None and speed == 1.0:
        return system_clock
    begin = datetime.fromisoformat(start) if start else system_clock()
    if begin.tzinfo is None:
        raise ValueError(f"clock start must carry an offset: {start!r}")
    return ScaledClock(begin, speed)

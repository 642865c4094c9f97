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
    """A clock tests move by hand. Thread-safe (services call it from worker threads).
    Whoever waits for an instant on it (the SLA timer) ``subscribe``s to be told when it
    is moved, since it never gets there by itself."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("clock needs an aware datetime")
        self._now = start
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when
        self._moved()

    def advance(self, **delta: float) -> datetime:
        with self._lock:
            self._now += timedelta(**delta)
            now = self._now
        self._moved()
        return now

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` (in the mover's thread) whenever the clock is moved.
        Returns the unsubscriber."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)
        return unsubscribe

    def _moved(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener()


class ScaledClock:
    """Starts at ``start`` and runs ``speed`` times faster than real time (demos)."""

    def __init__(self, start: datetime, speed: float) -> None:
        self.start = start
        self.speed = speed
        self._t0 = time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self._t0) * self.speed)


def seconds_until(clock: Clock, instant: datetime) -> float:
    """Real seconds until ``clock`` shows ``instant`` (0 if it already does; infinite for
    a settable clock, which only moves when it is set — subscribe to it instead)."""
    now = clock()
    if now >= instant:
        return 0.0
    if isinstance(clock, SettableClock):
        return float("inf")
    left = (instant - now).total_seconds()
    return left / clock.speed if isinstance(clock, ScaledClock) and clock.speed > 0 else left


def on_moved(clock: Clock, listener: Callable[[], None]) -> Callable[[], None]:
    """Subscribe ``listener`` to a clock that can be moved by hand; a no-op otherwise.
    Returns the unsubscriber."""
    if isinstance(clock, SettableClock):
        return clock.subscribe(listener)
    return lambda: None


def clock_from_settings(start: str | None, speed: float) -> Clock:
    if start is None and speed == 1.0:
        return system_clock
    begin = datetime.fromisoformat(start) if start else system_clock()
    if begin.tzinfo is None:
        raise ValueError(f"clock start must carry an offset: {start!r}")
    return ScaledClock(begin, speed)

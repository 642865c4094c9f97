"""A monotonic clock a test moves by hand (``time.monotonic``'s stand-in)."""

from __future__ import annotations


class SettableMonotonic:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

"""What every channel raises, so the caller's retry policy needs no channel-specific knowledge."""

from __future__ import annotations


class DeliveryError(Exception):
    """A message could not be handed over. ``code`` is the SMTP or HTTP status when known."""

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class TransientDeliveryError(DeliveryError):
    """Trying again later may succeed: outage, timeout, 4xx SMTP reply, 5xx HTTP reply."""


class PermanentDeliveryError(DeliveryError):
    """Trying again will fail the same way: unknown mailbox, rejected message, bad request."""


def backoff_delays(attempts: int, base: float, cap: float) -> list[float]:
    """Seconds to wait before each retry: ``base * 2**n`` capped at ``cap``.

    No jitter: the caller adds it if many deliveries retry in lockstep.
    """
    if attempts < 0:
        raise ValueError("attempts must be >= 0")
    if base <= 0 or cap < base:
        raise ValueError("need 0 < base <= cap")
    return [min(cap, base * 2.0**n) for n in range(attempts)]

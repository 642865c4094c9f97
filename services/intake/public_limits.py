"""What one stranger may file: through the public web form, requests per contact (an
email address or phone number typed into the form) and per client address; by email, new
requests per sender (``SenderLimit``). Sliding windows; staff, and the system's own tools
calling from a trusted address, are not counted. Each replica counts on its own
(``shared/runtime/throttle.py``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from starlette.requests import Request

from hotro.shared.runtime.throttle import (
    Network,
    SlidingWindow,
    client_address,
    is_local_caller,
    trusted_networks,
)


@dataclass(frozen=True)
class TooMany:
    """Refused: which limit, and the seconds until it allows one more."""

    limit: str  # "contact" | "address"
    retry_after_s: float


class PublicLimits:
    def __init__(self, *, per_contact: int, per_address: int, window_s: float,
                 trusted: Iterable[str], monotonic: Callable[[], float] = time.monotonic
                 ) -> None:
        self.contacts = SlidingWindow(per_contact, window_s, monotonic)
        self.addresses = SlidingWindow(per_address, window_s, monotonic)
        self.trusted: tuple[Network, ...] = trusted_networks(trusted)

    def admit(self, request: Request, contact_keys: Iterable[str]) -> TooMany | None:
        """Count this stranger's request, or say why it must wait (then nothing is
        counted). Checked and counted with no await between: concurrent requests cannot
        all pass a check made before any of them was counted."""
        if is_local_caller(request, self.trusted):
            return None
        keys = list(contact_keys)
        for key in keys:
            wait = self.contacts.retry_after(key)
            if wait is not None:
                return TooMany("contact", wait)
        address = client_address(request, self.trusted)
        wait = self.addresses.retry_after(address)
        if wait is not None:
            return TooMany("address", wait)
        for key in keys:
            self.contacts.count(key)
        self.addresses.count(address)
        return None


class SenderLimit:
    """New requests by email per sender (the From address's keyed hash) in a sliding
    window. Beyond it a message is not refused but deferred: the sending server is told to
    try again later (SMTP 451), the IMAP poller leaves it unseen, so it is filed once the
    window allows, and the address in its From (perhaps forged) is not sent one
    acknowledgement per message. Mail is handled in worker threads, hence the lock."""

    def __init__(self, *, per_sender: int, window_s: float,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.senders = SlidingWindow(per_sender, window_s, monotonic)
        self._lock = threading.Lock()

    def admit(self, sender_key: str) -> float | None:
        """Count one new request from this sender, or the seconds it must wait (then
        nothing is counted)."""
        with self._lock:
            wait = self.senders.retry_after(sender_key)
            if wait is None:
                self.senders.count(sender_key)
            return wait

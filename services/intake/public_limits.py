"""What one stranger may file through the public web form: requests per contact (an
email address or phone number typed into the form) and per client address, in a sliding
window. Staff, and the system's own tools calling from a trusted address, are not
counted. Each replica counts on its own (``shared/runtime/throttle.py``)."""

from __future__ import annotations

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

"""What one stranger may file: through the public web form, requests per contact (an
email address or phone number typed into the form) and per client address; by email, new
requests per sender (``SenderLimit``). Sliding windows counted by every intake replica
together (``shared/runtime/shared_window.py``; per process while NATS KV is away); staff,
and the system's own tools calling from a trusted address, are not counted."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from starlette.requests import Request

from hotro.shared.runtime.shared_window import (
    LimitsBucket,
    Place,
    Window,
    take_each,
    take_each_blocking,
)
from hotro.shared.runtime.throttle import (
    Network,
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
                 trusted: Iterable[str], bucket: LimitsBucket | None = None,
                 wall: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.contacts = Window("contact", per_contact, window_s, bucket=bucket, wall=wall,
                               monotonic=monotonic)
        self.addresses = Window("address", per_address, window_s, bucket=bucket, wall=wall,
                                monotonic=monotonic)
        self.trusted: tuple[Network, ...] = trusted_networks(trusted)

    async def admit(self, request: Request, contact_keys: Iterable[str]) -> TooMany | None:
        """Count this stranger's request, or say why it must wait (then nothing is
        counted). Each place is taken by compare-and-set: concurrent requests, on one
        replica or several, cannot all take a window's last place."""
        if is_local_caller(request, self.trusted):
            return None
        refused = await take_each([*((self.contacts, k) for k in contact_keys),
                                   (self.addresses, client_address(request, self.trusted))])
        if refused is None:
            return None
        window, wait = refused
        return TooMany(window.name, wait)


class SenderLimit:
    """New requests by email per sender (the From address's keyed hash) in a sliding
    window, and fewer for a sender whose domain's DMARC check failed (the From address
    may be forged: every request filed is acknowledged to it, so a forger could make us
    mail someone else). Beyond either a message is not refused but deferred: the sending
    server is told to try again later (SMTP 451), the IMAP poller leaves it unseen, so it
    is filed once the window allows. Mail is handled in worker threads: the count is made
    on the bucket's event loop (``Window.take_blocking``)."""

    #: the one key of the window that counts unverified senders all together
    ALL = "all"

    def __init__(self, *, per_sender: int, window_s: float,
                 per_unverified_sender: int | None = None,
                 unverified_in_all: int | None = None,
                 bucket: LimitsBucket | None = None, wall: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.senders = Window("sender", per_sender, window_s, bucket=bucket, wall=wall,
                              monotonic=monotonic)
        self.unverified = Window("unverified", per_unverified_sender or per_sender,
                                 window_s, bucket=bucket, wall=wall, monotonic=monotonic)
        #: unverified senders together: a forger who varies the From address is bounded
        #: here, not only per address (unset: not counted)
        self.unverified_all = None if unverified_in_all is None else Window(
            "unverified_all", unverified_in_all, window_s, bucket=bucket, wall=wall,
            monotonic=monotonic)

    def admit(self, sender_key: str, *, verified: bool = True) -> float | None:
        """Count one new request from this sender, or the seconds it must wait (then
        nothing is counted). ``verified=False``: its DMARC check failed."""
        places: list[Place] = [(self.senders, sender_key)]
        if not verified:
            places.insert(0, (self.unverified, sender_key))
            if self.unverified_all is not None:
                places.insert(1, (self.unverified_all, self.ALL))
        refused = take_each_blocking(places)
        return None if refused is None else refused[1]

"""Counting what one source does in a sliding window, and naming the source.

``SlidingWindow`` counts in one process; ``shared_window.Window`` shares the counting
between replicas through NATS KV and falls back to a ``SlidingWindow``. The
limits bound what a stranger can make the system do (argon2 checks, cases, emails sent
to an address someone typed in), they are not quotas to the unit."""

from __future__ import annotations

import ipaddress
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Annotated

from pydantic import AfterValidator
from starlette.requests import Request

#: keys kept at most; beyond it the keys with nothing in their window are forgotten, so a
#: spray of addresses or names cannot grow a process without bound
MAX_KEYS = 100_000

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class SlidingWindow:
    """At most ``limit`` counted events per key within the last ``window_s`` seconds."""

    def __init__(self, limit: int, window_s: float,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError(f"a window needs a limit >= 1 and a length > 0, got {limit}, "
                             f"{window_s}")
        self.limit = limit
        self.window_s = window_s
        self.monotonic = monotonic
        self._events: dict[str, deque[float]] = {}

    def _recent(self, key: str) -> deque[float]:
        now = self.monotonic()
        events = self._events.setdefault(key, deque())
        while events and now - events[0] >= self.window_s:
            events.popleft()
        if len(self._events) > MAX_KEYS:
            for stale in [k for k, v in self._events.items() if not v][:MAX_KEYS // 2]:
                del self._events[stale]
        return events

    def retry_after(self, key: str) -> float | None:
        """Seconds until ``key`` may act again, or None when it may now (not counted)."""
        events = self._recent(key)
        if len(events) < self.limit:
            return None
        return max(0.0, self.window_s - (self.monotonic() - events[0]))

    def count(self, key: str, at: float | None = None) -> None:
        self._recent(key).append(self.monotonic() if at is None else at)

    def give_back(self, key: str, at: float) -> None:
        """Uncount the event counted at ``at`` (a request refused by another limit)."""
        events = self._events.get(key)
        if events is not None and at in events:
            events.remove(at)

    def forget(self, key: str) -> None:
        self._events.pop(key, None)


def trusted_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or networks (``10.0.0.0/8``) of the proxies whose forwarding is believed;
    ValueError names an entry that is neither."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries
                 if entry.strip())


def _checked(entries: frozenset[str]) -> frozenset[str]:
    trusted_networks(entries)  # refused at start, not at the first request
    return entries


#: a setting naming trusted proxies: addresses or networks, each checked
TrustedProxies = Annotated[frozenset[str], AfterValidator(_checked)]


def _is_trusted(peer: str, trusted: tuple[Network, ...] | frozenset[str]) -> bool:
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    networks = trusted if isinstance(trusted, tuple) else trusted_networks(trusted)
    return any(address in network for network in networks)


def forwarded_client(request: Request, trusted: tuple[Network, ...] | frozenset[str]
                     ) -> str | None:
    """The client a trusted proxy (the gateway, the console) names as the last address it
    appended to ``X-Forwarded-For``; None when the peer is not trusted or names nobody."""
    peer = request.client.host if request.client else ""
    forwarded = request.headers.get("x-forwarded-for")
    if not forwarded or not _is_trusted(peer, trusted):
        return None
    try:
        return str(ipaddress.ip_address(forwarded.split(",")[-1].strip()))
    except ValueError:
        return None


def client_address(request: Request, trusted: tuple[Network, ...] | frozenset[str]) -> str:
    """The peer's address; behind a trusted proxy, the client it forwarded for."""
    return forwarded_client(request, trusted) or \
        (request.client.host if request.client else "unknown")


def is_local_caller(request: Request, trusted: tuple[Network, ...] | frozenset[str]) -> bool:
    """A trusted peer that forwards for nobody: a process on the system's own side (a
    tool, a test, a bench talking to the service directly), not a member of the public."""
    peer = request.client.host if request.client else ""
    return _is_trusted(peer, trusted) and "x-forwarded-for" not in request.headers

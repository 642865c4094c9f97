"""Sliding windows (a limit per key that frees up as the window slides) and whose word on
the client's address is believed."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from hotro.shared.runtime.throttle import (
    SlidingWindow,
    client_address,
    forwarded_client,
    is_local_caller,
    trusted_networks,
)
from tests.support.monotonic import SettableMonotonic


def test_a_key_waits_until_its_oldest_event_leaves_the_window() -> None:
    ticks = SettableMonotonic()
    window = SlidingWindow(2, 60.0, ticks)
    assert window.retry_after("a") is None  # asking counts nothing
    window.count("a")
    ticks.now += 10
    window.count("a")
    assert window.retry_after("a") == pytest.approx(50.0)
    assert window.retry_after("b") is None  # keys are apart
    ticks.now += 50
    assert window.retry_after("a") is None  # the first left the window
    window.count("a")
    assert window.retry_after("a") == pytest.approx(10.0)
    window.forget("a")
    assert window.retry_after("a") is None


def test_a_spray_of_keys_does_not_grow_without_bound(monkeypatch: pytest.MonkeyPatch
                                                     ) -> None:
    monkeypatch.setattr("hotro.shared.runtime.throttle.MAX_KEYS", 100)
    ticks = SettableMonotonic()
    window = SlidingWindow(1, 1.0, ticks)
    for n in range(1000):
        window.count(f"k{n}")
        ticks.now += 2  # each one's window has passed when the next comes
    assert len(window._events) <= 101


def test_a_window_needs_a_limit_and_a_length() -> None:
    with pytest.raises(ValueError):
        SlidingWindow(0, 60)
    with pytest.raises(ValueError):
        SlidingWindow(1, 0)


def _request(peer: str, forwarded: str | None = None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded is not None else []
    return Request({"type": "http", "method": "POST", "path": "/", "headers": headers,
                    "client": (peer, 5000)})


def test_only_a_trusted_peer_names_the_client() -> None:
    trusted = trusted_networks(["127.0.0.1", "10.0.0.0/8", " ", "::1"])
    assert forwarded_client(_request("10.1.2.3", "198.51.100.7"), trusted) == "198.51.100.7"
    # the last address is the one our proxy appended; what the client wrote before is its own
    assert client_address(_request("127.0.0.1", "1.2.3.4, 198.51.100.7"), trusted) == \
        "198.51.100.7"
    assert client_address(_request("192.0.2.1", "198.51.100.7"), trusted) == "192.0.2.1"
    assert client_address(_request("127.0.0.1", "not an address"), trusted) == "127.0.0.1"
    assert client_address(_request("127.0.0.1", "198.51.100.7"), frozenset({"127.0.0.1"})) \
        == "198.51.100.7"


def test_a_trusted_peer_forwarding_for_nobody_is_the_systems_own_side() -> None:
    trusted = trusted_networks(["127.0.0.1"])
    assert is_local_caller(_request("127.0.0.1"), trusted)
    assert not is_local_caller(_request("127.0.0.1", "198.51.100.7"), trusted)
    assert not is_local_caller(_request("192.0.2.1"), trusted)


def test_a_trusted_entry_that_is_no_address_is_refused() -> None:
    with pytest.raises(ValueError):
        trusted_networks(["gateway.local"])

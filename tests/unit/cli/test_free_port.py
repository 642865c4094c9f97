"""Ports for the servers the tests and ``hotro up`` start: never one the kernel may hand
to an outgoing connection meanwhile (it did: "address already in use" in CI)."""

from __future__ import annotations

import random
import socket
from pathlib import Path

import pytest

from hotro import natsbin
from hotro.natsbin import ephemeral_range, free_port


def test_a_free_port_is_below_the_ephemeral_range_and_can_be_listened_on() -> None:
    low, _ = ephemeral_range()
    for _ in range(20):
        port = free_port()
        assert port < low
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", port))
            s.listen()


def test_a_port_someone_listens_on_is_passed_over(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", free_port()))
        taken.listen()
        busy = taken.getsockname()[1]
        monkeypatch.setattr(random, "sample", lambda pool, k: [busy, busy + 1])
        assert free_port() == busy + 1


def test_without_the_kernel_range_linux_defaults_are_assumed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    unreadable = tmp_path / "ip_local_port_range"
    unreadable.write_text("not numbers")
    monkeypatch.setattr(natsbin, "EPHEMERAL_PORTS", unreadable)
    assert ephemeral_range() == (32768, 60999)
    assert free_port() < 32768

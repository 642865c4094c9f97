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


def _lingering_port() -> int:
    """A port whose server (binding with SO_REUSEADDR, as ours do) closed its end of a
    connection first: the server's socket stays in TIME_WAIT on it after everything is
    closed."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = int(server.getsockname()[1])
        with socket.create_connection(("127.0.0.1", port)) as client:
            accepted, _ = server.accept()
            accepted.close()  # the server closes first: its side lingers
            client.recv(1)  # the client reads the end of the stream, then closes
    return port


def test_a_port_held_by_a_lingering_connection_is_free_only_for_reuse() -> None:
    port = _lingering_port()
    assert natsbin.port_is_free(port)  # `hotro up` rebinding its own port: fine
    assert not natsbin.port_is_free(port, lingering_ok=False)


def test_free_port_passes_over_a_lingering_port(monkeypatch: pytest.MonkeyPatch) -> None:
    lingering = _lingering_port()
    free = free_port()
    monkeypatch.setattr(random, "sample", lambda pool, k: [lingering, free])
    assert free_port() == free

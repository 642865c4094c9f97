"""`hotro up`'s building blocks: one run per data directory, ports bound (or reserved)
without a check-then-bind race, restart delays."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from hotro.up import (
    BACKOFF_CAP_S,
    AlreadyRunning,
    DataDirLock,
    backoff_delay,
    listen_socket,
    reserve_port,
)


def test_a_data_directory_has_one_run(tmp_path: Path) -> None:
    first = DataDirLock(tmp_path)
    first.acquire()
    try:
        with pytest.raises(AlreadyRunning, match=rf"pid {os.getpid()}\b.*{tmp_path.name}"):
            DataDirLock(tmp_path).acquire()
    finally:
        first.release()
    again = DataDirLock(tmp_path)
    again.acquire()  # released: the next run may start
    again.release()


def test_a_taken_port_is_replaced_by_a_bound_one() -> None:
    holder = listen_socket("gateway", 0, [])
    taken = holder.getsockname()[1]
    notes: list[str] = []
    try:
        sock = listen_socket("gateway", taken, notes)
        try:
            assert sock.getsockname()[1] != taken
            assert notes == [f"  ! port {taken} (gateway) is taken on this machine; using "
                             f"{sock.getsockname()[1]} instead"]
            # bound and listening already: nobody can take it between choice and use
            with socket.create_connection(("127.0.0.1", sock.getsockname()[1]), timeout=2):
                pass
        finally:
            sock.close()
    finally:
        holder.close()


def test_a_reserved_port_is_not_given_to_another_run() -> None:
    first = reserve_port("smtp", 0, [])
    try:
        notes: list[str] = []
        second = reserve_port("smtp", first.port, notes)
        try:
            assert second.port != first.port
            assert notes and "is taken" in notes[0]
        finally:
            second.release()
    finally:
        first.release()


def test_restart_delays_double_up_to_a_cap() -> None:
    delays = [backoff_delay(n) for n in range(1, 10)]
    assert delays[:4] == [0.5, 1.0, 2.0, 4.0]
    assert max(delays) == BACKOFF_CAP_S and delays == sorted(delays)

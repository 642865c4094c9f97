"""A cluster's ports are picked free, not held: when another process takes one before the
nodes bind it, the cluster starts on fresh ports instead of failing (seen once in the
chaos fixture: a route port "already in use")."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from hotro.natsbin import ExitedEarly, NatsCluster


def _take(port: int) -> socket.socket:
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", port))
    holder.listen()
    return holder


def test_a_route_port_taken_before_start_gives_fresh_ports(tmp_path: Path) -> None:
    cluster = NatsCluster(tmp_path / "cluster")
    taken = cluster.nodes[1].cluster_port
    holder = _take(taken)
    try:
        cluster.start()
        try:
            assert all(n.running() for n in cluster.nodes)
            assert taken not in {n.cluster_port for n in cluster.nodes}
            routes = {p for n in cluster.nodes for p in n.routes}
            assert routes == {n.cluster_port for n in cluster.nodes}
        finally:
            cluster.stop()
    finally:
        holder.close()
    assert not any(n.running() for n in cluster.nodes)


def test_ports_given_by_the_caller_are_not_changed(tmp_path: Path) -> None:
    picked = NatsCluster(tmp_path / "picked")
    given = NatsCluster(tmp_path / "given", nodes=picked.nodes)
    holder = _take(given.nodes[0].cluster_port)
    try:
        with pytest.raises(ExitedEarly, match="exited"):
            given.start()
        assert not any(n.running() for n in given.nodes)
    finally:
        holder.close()

"""Store URLs: which PostgreSQL host a service connects to."""

from __future__ import annotations

import pytest

from hotro.shared.eventstore.persistence import StoreConfigError, persistence_env


def test_a_tcp_host_from_the_url_and_localhost_by_default() -> None:
    assert persistence_env("postgresql://u@db.internal:5433/hotro")["POSTGRES_HOST"] == \
        "db.internal"
    assert persistence_env("postgresql://u@/hotro")["POSTGRES_HOST"] == "127.0.0.1"


def test_a_unix_socket_directory_given_as_host() -> None:
    env = persistence_env("postgresql://postgres@/test?host=/var/run/postgresql&schema=s")
    assert env["POSTGRES_HOST"] == "/var/run/postgresql"
    assert env["POSTGRES_SCHEMA"] == "s"


@pytest.mark.parametrize("url", [
    "postgresql://u@db:5432/hotro?host=/var/run/postgresql",  # two hosts: which one?
    "postgresql://u@/hotro?host=db.internal",  # not a socket directory
])
def test_ambiguous_or_relative_hosts_are_refused(url: str) -> None:
    with pytest.raises(StoreConfigError):
        persistence_env(url)

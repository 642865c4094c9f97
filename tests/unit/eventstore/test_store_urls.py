"""Store URLs: which PostgreSQL host a service connects to, and how many connections."""

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


@pytest.mark.parametrize("query", [
    "pool_size=1&max_overflow=0",  # creating the tables needs two connections at once
    "pool_size=0&max_overflow=5",
    "pool_size=two",
])
def test_a_pool_too_small_to_create_its_tables_is_refused_at_start(query: str) -> None:
    with pytest.raises(StoreConfigError, match="pool") as refused:
        persistence_env(f"postgresql://u:secret@db/hotro?{query}")
    assert "secret" not in str(refused.value)


def test_the_smallest_pool_that_can_start_is_accepted() -> None:
    env = persistence_env("postgresql://u@db/hotro?pool_size=1&max_overflow=1")
    assert (env["POSTGRES_POOL_SIZE"], env["POSTGRES_MAX_OVERFLOW"]) == ("1", "1")

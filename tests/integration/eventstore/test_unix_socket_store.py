"""A service's store on PostgreSQL's Unix socket (``?host=<socket directory>``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate

from hotro.shared.eventstore.persistence import persistence_env
from hotro.shared.eventstore.schema import ensure_store
from tests.support.postgres import PG_BASE, PostgresSchemas

SOCKET_DIR = "/var/run/postgresql"


def test_events_are_stored_and_read_back_through_the_socket(
        pg_schemas: PostgresSchemas) -> None:
    if not (Path(SOCKET_DIR) / ".s.PGSQL.5432").exists():
        pytest.skip(f"no PostgreSQL socket in {SOCKET_DIR} (the server is elsewhere)")
    base = urlparse(PG_BASE)
    url = pg_schemas.url("socket").replace(f"@{base.netloc.split('@')[-1]}", "@", 1)
    url = f"{url}&host={SOCKET_DIR}"
    ensure_store(url)  # the schema, made through the socket too
    app: Application[Any] = Application(env=persistence_env(url))
    try:
        aggregate = Aggregate()
        app.save(aggregate)
        assert app.repository.get(aggregate.id).version == 1
        recorder: Any = app.recorder
        with recorder.datastore.transaction(commit=False) as curs:
            curs.execute("SELECT inet_client_addr() IS NULL AS by_socket")
            row = curs.fetchone()
        assert row["by_socket"] is True  # no client address: the session came by the socket
    finally:
        app.close()

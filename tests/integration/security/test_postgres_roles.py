"""One PostgreSQL role per service, rights on its own schema only: the shipped
deploy/postgres/service-role.sql run by psql against the real local server, then each
role tried as a compromised service would. And the store's TLS setting reaching libpq."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.utils import Environment
from psycopg import errors, sql

from hotro.shared.eventstore.persistence import persistence_env
from hotro.shared.eventstore.pg_factory import Factory
from hotro.shared.eventstore.schema import ensure_store
from hotro.shared.privacy.pending import compact_store
from tests.support.postgres import PG_BASE, check_postgres

pytestmark = pytest.mark.postgres

SCRIPT = Path(__file__).resolve().parents[3] / "deploy" / "postgres" / "service-role.sql"


@dataclass(frozen=True)
class ServiceRole:
    role: str
    schema: str
    password_file: Path

    def url(self, **query: str) -> str:
        base = PG_BASE.split("://", 1)[1].split("@", 1)[-1]  # host:port/db
        params = "&".join(f"{k}={v}" for k, v in {"schema": self.schema, **query}.items())
        return f"postgresql://{self.role}@{base}?{params}"

    def connect(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.url().split("?", 1)[0],
                               password=self.password_file.read_text().strip(),
                               autocommit=True, connect_timeout=5)


@pytest.fixture
def roles(tmp_path: Path) -> Iterator[dict[str, ServiceRole]]:
    check_postgres()
    prefix = f"t{uuid.uuid4().hex[:10]}"
    made: dict[str, ServiceRole] = {}
    try:
        for service in ("intake", "routing"):
            secret = tmp_path / f"pg-{service}-password"
            secret.write_text(uuid.uuid4().hex + "\n")
            made[service] = ServiceRole(f"{prefix}_{service}_role", f"{prefix}_{service}",
                                        secret)
            subprocess.run(
                ["psql", PG_BASE, "-q", "-v", "ON_ERROR_STOP=1",
                 "-v", f"role={made[service].role}", "-v", f"schema={made[service].schema}",
                 "-v", f"password_file={secret}", "-f", str(SCRIPT)],
                check=True, capture_output=True, timeout=30)
        yield made
    finally:
        with psycopg.connect(PG_BASE, autocommit=True) as conn:
            db = sql.Identifier(conn.info.dbname)
            for r in made.values():
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                    sql.Identifier(r.schema)))
                conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM {}").format(
                    db, sql.Identifier(r.role)))
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(r.role)))
            # PostgreSQL's default again for the other tests on this database
            conn.execute(sql.SQL("GRANT TEMPORARY ON DATABASE {} TO PUBLIC").format(db))


def _store(role: ServiceRole, **query: str) -> Application[uuid.UUID]:
    env = persistence_env(role.url(password_file=str(role.password_file), **query))
    return Application[uuid.UUID](env=env)


def test_a_service_role_keeps_its_store_in_its_schema_and_cannot_read_anothers(
        roles: dict[str, ServiceRole]) -> None:
    intake, routing = roles["intake"], roles["routing"]
    for role in (intake, routing):  # the services' own start: schema check, tables, events
        ensure_store(role.url(password_file=str(role.password_file)))
        store = _store(role, sslmode="disable")
        store.save(Aggregate())
        store.close()

    with routing.connect() as conn:
        tables = conn.execute("SELECT tablename, tableowner FROM pg_tables "
                              "WHERE schemaname = %s", (routing.schema,)).fetchall()
    assert tables and {owner for _, owner in tables} == {routing.role}
    routing_table = sql.Identifier(routing.schema, str(tables[0][0]))

    with intake.connect() as conn:
        with pytest.raises(errors.InsufficientPrivilege, match="permission denied for schema"):
            conn.execute(sql.SQL("SELECT * FROM {}").format(routing_table))
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute(sql.SQL("DELETE FROM {}").format(routing_table))
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute(sql.SQL("CREATE TABLE {}.stolen (x int)").format(
                sql.Identifier(routing.schema)))
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE public.elsewhere (x int)")
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("CREATE SCHEMA own_idea")
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("CREATE TEMPORARY TABLE scratch (x int)")
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
                sql.Identifier(routing.schema), sql.Identifier(intake.role)))
        # its own schema is its own
        own = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = %s",
                           (intake.schema,)).fetchone()
        assert own is not None and int(str(own[0])) > 0
        conn.execute(sql.SQL("CREATE TABLE {}.scratch (x int)").format(
            sql.Identifier(intake.schema)))

    # the compaction after an erasure reaches a store configured with TLS options too
    done = compact_store(intake.url(password_file=str(intake.password_file),
                                    sslmode="disable"))
    assert done == f"{intake.schema}: no pii_pending_keys table"


def test_the_store_sslmode_reaches_every_connection(roles: dict[str, ServiceRole]) -> None:
    intake = roles["intake"]
    with psycopg.connect(PG_BASE) as conn:
        row = conn.execute("SHOW ssl").fetchone()
    server_ssl = row is not None and row[0] == "on"
    if server_ssl:  # CI may run a server with TLS: the connection is encrypted
        store = _store(intake, sslmode="require")
        store.save(Aggregate())
        store.close()
        return
    # this machine's server has ssl=off: a store that requires TLS must refuse to connect
    # (libpq got the setting) rather than silently fall back to a clear connection
    env = persistence_env(intake.url(password_file=str(intake.password_file),
                                     sslmode="require", connect_timeout="2"))
    pool_kwargs = Factory(Environment(env=env)).datastore.pool.kwargs
    assert isinstance(pool_kwargs, dict) and pool_kwargs["sslmode"] == "require"
    with pytest.raises(Exception, match="connection"):  # the pool gives up: no clear fallback
        _store(intake, sslmode="require", connect_timeout="2").save(Aggregate())
    with pytest.raises(psycopg.OperationalError, match="SSL"):
        ensure_store(intake.url(password_file=str(intake.password_file), sslmode="require"))


def test_a_password_file_and_a_password_in_the_url_are_refused_together(
        roles: dict[str, ServiceRole]) -> None:
    intake = roles["intake"]
    url = intake.url(password_file=str(intake.password_file)).replace(
        f"{intake.role}@", f"{intake.role}:inline@")
    with pytest.raises(ValueError, match="given twice"):
        persistence_env(url)

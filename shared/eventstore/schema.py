"""Prepare what eventsourcing does not create itself: the Postgres schema of a service."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse


def ensure_store(store_url: str) -> None:
    parsed = urlparse(store_url)
    if parsed.scheme not in ("postgres", "postgresql"):
        return
    schema = parse_qs(parsed.query).get("schema", [None])[0]
    if not schema:
        return
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    from hotro.shared.eventstore.persistence import persistence_env
    from hotro.shared.eventstore.pg_security import libpq_options

    env = persistence_env(store_url)
    conninfo = make_conninfo(dbname=env["POSTGRES_DBNAME"], host=env["POSTGRES_HOST"],
                             port=env["POSTGRES_PORT"], user=env["POSTGRES_USER"],
                             password=env["POSTGRES_PASSWORD"] or None, connect_timeout=5,
                             **libpq_options(env))
    with psycopg.connect(conninfo, autocommit=True) as conn:
        # a service's own role may not create schemas (deploy/postgres/roles.sql made it):
        # CREATE SCHEMA IF NOT EXISTS checks that right even when the schema exists
        if conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s",
                        (schema,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                sql.Identifier(schema)))

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


def drop_schemas(pg_url: str, *schemas: str) -> None:
    """Drop the given PostgreSQL schemas and everything in them (benches clean up with
    it; a service never calls it). ``pg_url``: the database, any query is ignored."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(pg_url.split("?", 1)[0], autocommit=True) as conn:
        for schema in schemas:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                sql.Identifier(schema)))

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

    conninfo = store_url.split("?", 1)[0].replace("postgresql://", "postgresql://", 1)
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))

"""Real PostgreSQL for tests: one fresh schema per service per test, dropped afterwards.

When CI=true (or HOTRO_REQUIRE_POSTGRES=1) an unreachable server FAILS the test;
elsewhere it skips."""

from __future__ import annotations

import os
import uuid

import pytest

PG_BASE = os.environ.get("HOTRO_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def postgres_required() -> bool:
    return os.environ.get("CI", "").lower() == "true" or \
        os.environ.get("HOTRO_REQUIRE_POSTGRES") == "1"


def check_postgres() -> None:
    import psycopg

    try:
        with psycopg.connect(PG_BASE, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:
        if postgres_required():
            pytest.fail(f"PostgreSQL is required here (CI) but unreachable at {PG_BASE}: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {PG_BASE}: {exc}")


class PostgresSchemas:
    def __init__(self) -> None:
        self.prefix = f"t{uuid.uuid4().hex[:10]}"
        self.created: list[str] = []

    def url(self, service: str) -> str:
        schema = f"{self.prefix}_{service}"
        if schema not in self.created:
            self.created.append(schema)
        return f"{PG_BASE}?schema={schema}"

    def drop_all(self) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(PG_BASE, autocommit=True) as conn:
            for schema in self.created:
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                    sql.Identifier(schema)))

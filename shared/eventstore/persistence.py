"""Turn a store URL into the eventsourcing environment of one service.

    sqlite:///var/intake.sqlite                 one file per service (local run)
    postgresql://user:pw@host:5432/db?schema=x  one schema per service (production;
                                                also lock_timeout, pool_size, max_overflow,
                                                connect_timeout, pre_ping=y)
    postgresql://user@/db?host=/var/run/postgresql  the server's Unix socket (a directory,
                                                as libpq's host): PostgreSQL on the same
                                                machine, reached without TCP
    memory:                                     tests only (refused unless allowed)
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from hotro.shared.eventstore.pg_security import FACTORY_TOPIC, security_env


class StoreConfigError(ValueError):
    pass


def _pg_host(hostname: str | None, query: dict[str, list[str]]) -> str:
    """The URL's host, or ``?host=`` (libpq's: a socket directory is an absolute path)."""
    given = query.get("host", [""])[0]
    if given and hostname:
        raise StoreConfigError("postgres store URL names two hosts (in the URL and ?host=)")
    if given and not given.startswith("/"):
        raise StoreConfigError(f"?host= is for a Unix socket directory, not {given!r}")
    return given or hostname or "127.0.0.1"


def _check_pool(size: str, overflow: str) -> None:
    """At least two connections: creating the tables holds one for the create lock while
    the library takes another (``pg_create_lock.py``); with one, a start would wait out
    the pool's timeout."""
    try:
        total = int(size) + int(overflow)
    except ValueError:
        raise StoreConfigError("the store URL's pool_size and max_overflow must be whole "
                               "numbers") from None
    if int(size) < 1 or total < 2:
        raise StoreConfigError("a PostgreSQL pool needs pool_size >= 1 and pool_size + "
                               "max_overflow >= 2 (the store URL asks for fewer)")


def persistence_env(store_url: str, *, allow_memory: bool = False) -> dict[str, str]:
    # Multi-row tracking: each processed upstream position is its own row, so a
    # redelivered or out-of-order message can never be mistaken for "already done"
    # (the single-row default of eventsourcing 9.5 stores only the max position).
    common = {"SINGLE_ROW_TRACKING": "n"}
    parsed = urlparse(store_url)
    if parsed.scheme == "memory":
        if not allow_memory:
            raise StoreConfigError(
                "the in-memory store loses every event on exit; it is for tests only "
                "(set a sqlite:/// or postgresql:// store URL)"
            )
        return {**common, "PERSISTENCE_MODULE": "eventsourcing.popo"}
    if parsed.scheme == "sqlite":
        path = unquote(parsed.path)
        if store_url.startswith("sqlite:///") and not store_url.startswith("sqlite:////"):
            path = path.lstrip("/") if not Path(path).is_absolute() else path
        if not path:
            raise StoreConfigError(f"sqlite store URL needs a file path: {store_url!r}")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return {
            **common,
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": path,
            "SQLITE_LOCK_TIMEOUT": "10",
        }
    if parsed.scheme in ("postgres", "postgresql"):
        query = parse_qs(parsed.query)
        dbname = parsed.path.lstrip("/")
        if not dbname:
            raise StoreConfigError(f"postgres store URL needs a database name: {store_url!r}")
        env = {
            **common,
            "PERSISTENCE_MODULE": FACTORY_TOPIC,
            "POSTGRES_DBNAME": dbname,
            "POSTGRES_HOST": _pg_host(parsed.hostname, query),
            "POSTGRES_PORT": str(parsed.port or 5432),
            "POSTGRES_USER": unquote(parsed.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parsed.password or ""),
            # Writers of one application serialise on a table lock: never wait forever.
            "POSTGRES_LOCK_TIMEOUT": query.get("lock_timeout", ["5"])[0],
            "POSTGRES_POOL_SIZE": query.get("pool_size", ["5"])[0],
            "POSTGRES_MAX_OVERFLOW": query.get("max_overflow", ["5"])[0],
            "POSTGRES_CONNECT_TIMEOUT": query.get("connect_timeout", ["5"])[0],
            # No pre-ping (a round trip per checkout): the recorders retry a dropped
            # connection themselves and the pool discards it; ?pre_ping=y restores it.
            "POSTGRES_PRE_PING": query.get("pre_ping", ["n"])[0],
        }
        _check_pool(env["POSTGRES_POOL_SIZE"], env["POSTGRES_MAX_OVERFLOW"])
        if "schema" in query:
            env["POSTGRES_SCHEMA"] = query["schema"][0]
        env.update(security_env(query, parsed.password))  # sslmode, password_file
        return env
    raise StoreConfigError(f"unsupported store URL {store_url!r} (sqlite:///, postgresql://)")

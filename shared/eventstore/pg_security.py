"""TLS and the password file of a PostgreSQL store (docs/security.md, "Transport").

A store URL may carry, as query parameters (paths, never secrets):

    sslmode=verify-full        libpq's sslmode (disable … verify-full)
    sslrootcert=/run/ca.crt    the CA that signed the server's certificate
    password_file=/run/pw      the file holding the role's password (the URL then has none)

eventsourcing's PostgreSQL datastore has no TLS setting of its own: ``pg_factory.Factory``
(every PostgreSQL store's factory) adds them to its connection pool's arguments.
"""

from __future__ import annotations

from hotro.shared.runtime.tls import read_secret_file

SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
FACTORY_TOPIC = "hotro.shared.eventstore.pg_factory:Factory"
LIBPQ_OPTIONS = {"POSTGRES_SSLMODE": "sslmode", "POSTGRES_SSLROOTCERT": "sslrootcert"}


def _one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def security_env(query: dict[str, list[str]], url_password: str | None) -> dict[str, str]:
    """The eventsourcing environment entries for the URL's TLS and password file."""
    env: dict[str, str] = {}
    password_file = _one(query, "password_file")
    if password_file:
        if url_password:
            raise ValueError("a PostgreSQL password given twice (in the store URL and as "
                             "password_file): keep the file")
        env["POSTGRES_PASSWORD"] = read_secret_file(password_file, "PostgreSQL password")
    sslmode, rootcert = _one(query, "sslmode"), _one(query, "sslrootcert")
    if sslmode is not None and sslmode not in SSLMODES:
        raise ValueError(f"sslmode {sslmode!r}: one of {', '.join(SSLMODES)}")
    if rootcert is not None:
        read_secret_file(rootcert, "PostgreSQL CA")  # present and not empty, at start
    if sslmode:
        env["POSTGRES_SSLMODE"] = sslmode
    if rootcert:
        env["POSTGRES_SSLROOTCERT"] = rootcert
    return env


def libpq_options(env: dict[str, str]) -> dict[str, str]:
    """``sslmode``/``sslrootcert`` keyword arguments of ``psycopg.connect`` for a store
    whose environment is ``env`` (a direct connection beside eventsourcing's pool)."""
    return {option: env[key] for key, option in LIBPQ_OPTIONS.items() if env.get(key)}

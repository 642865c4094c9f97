"""The secret of the keyed hashes (HMAC-SHA256) that index personal data (phone, email).

No default lives in code. A deployment sets ``HOTRO_PII_HASH_SECRET`` (the same value on
every replica of a service, and kept: changing it orphans the indexes); ``hotro up``
generates one into ``<data dir>/pii-hash.secret`` and passes it on. Applications built
without one (unit tests, in-process tools) get a random per-process secret.
"""

from __future__ import annotations

import os
import secrets
import threading
from pathlib import Path

SECRET_FILE = "pii-hash.secret"
ENV_VAR = "HOTRO_PII_HASH_SECRET"

_ephemeral: bytes | None = None
_lock = threading.Lock()


def ephemeral_hash_secret() -> bytes:
    """Random, once per process: indexes built with it do not survive a restart."""
    global _ephemeral
    with _lock:
        if _ephemeral is None:
            _ephemeral = secrets.token_bytes(32)
        return _ephemeral


def ensure_secret_file(data_dir: Path) -> str:
    """The secret kept in ``data_dir`` (created on first use, mode 0600)."""
    return ensure_secret(data_dir / SECRET_FILE)


def ensure_secret(path: Path) -> str:
    """A random secret kept in ``path``: created once (mode 0600), then read."""
    if not path.exists():
        # written whole under a temporary name, then linked: a concurrent starter either
        # wins the link or reads the winner's complete file
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_urlsafe(32) + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    value = path.read_text(encoding="ascii").strip()
    if not value:
        raise ValueError(f"{path} is empty")
    return value

"""Who a NATS connection authenticates as (docs/security.md, "Bus permissions").

A user name and a password *file* — or, still accepted, credentials in the URL. Each user
gets its own reply-inbox prefix ``_INBOX_<user>``: the server lets a user subscribe only
below its own prefix (``deploy/nats/permissions.conf``), so no user can read another's
replies. Kept free of faststream so settings can import it cheaply.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from hotro.shared.runtime.tls import nats_tls_context

if TYPE_CHECKING:
    from nats.aio.client import Client

_USER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def inbox_prefix(user: str) -> str:
    """The reply-subject prefix of ``user`` (its permissions allow ``<prefix>.>`` only)."""
    if not _USER_NAME.match(user):
        raise ValueError(f"NATS user {user!r}: use letters, digits, '-' and '_' only")
    return f"_INBOX_{user}"


def url_user(servers: Sequence[str]) -> str | None:
    """The user name given in the first server URL (``nats://user:pw@host``), if any
    (``nats://token@host`` names no user: nats-py sends it as a token)."""
    for server in servers:
        parsed = urlparse(server if "://" in server else f"//{server}")
        if parsed.username and parsed.password is not None:
            return unquote(parsed.username)
    return None


def read_password_file(path: str | Path) -> str:
    """A password file holds the password alone (a trailing newline is ignored)."""
    value = Path(path).read_text(encoding="utf-8").strip()
    if not value:
        raise ValueError(f"NATS password file {path} is empty")
    return value


@dataclass(frozen=True)
class NatsCredentials:
    """Who a connection authenticates as: a user and the file holding its password.
    Both unset: credentials come from the URL, or there are none (a bare test server)."""

    user: str | None = None
    password_file: str | None = None
    #: TLS (``shared/runtime/tls.py``): the CA that signed the server's certificate, and
    #: a client certificate + key for a server that verifies clients
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None

    def __post_init__(self) -> None:
        if self.password_file and not self.user:
            raise ValueError("a NATS password file needs a NATS user")

    def tls(self, servers: Sequence[str]) -> ssl.SSLContext | None:
        """The connection's TLS context; None: plain, unless the server requires TLS."""
        return nats_tls_context(servers, self.tls_ca_file, self.tls_cert_file,
                                self.tls_key_file)

    def connect_options(self, servers: Sequence[str]) -> dict[str, Any]:
        """``user``, ``password``, ``inbox_prefix`` and ``tls`` for ``nats.connect``."""
        options: dict[str, Any] = {}
        user = self.user
        if user and self.password_file:
            if url_user(servers):
                raise ValueError("NATS credentials given twice: in the URL and as user + "
                                 "password file; keep one")
            options["user"] = user
            options["password"] = read_password_file(self.password_file)
        else:
            user = user or url_user(servers)
        if user:
            options["inbox_prefix"] = inbox_prefix(user)
        tls = self.tls(servers)
        if tls is not None:
            options["tls"] = tls
        return options


async def connect(servers: Sequence[str], credentials: NatsCredentials | None = None,
                  **kwargs: Any) -> Client:
    """A plain nats-py connection (command-line tools) with the credentials applied."""
    import nats

    options = (credentials or NatsCredentials()).connect_options(servers)
    return await nats.connect(list(servers), **options, **kwargs)

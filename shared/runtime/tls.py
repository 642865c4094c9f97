"""TLS contexts from files, one way for every transport (HTTP, SMTP, NATS).

Settings name files (a certificate chain, its key, a CA bundle), never PEM text: keys stay
in files an operator can mode 0600 and mount as secrets. Each loader raises ``ValueError``
with the file's name, so a bad path or a key that does not match its certificate stops the
process at start (settings validation) instead of at the first connection.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


def _readable(kind: str, path: str) -> None:
    if not Path(path).is_file():
        raise ValueError(f"{kind} {path!r}: no such file")


def server_context(cert_file: str, key_file: str, *,
                   client_ca_file: str | None = None) -> ssl.SSLContext:
    """What a listener presents: the certificate chain and its key (TLS 1.2 at least).
    With ``client_ca_file``, clients must present a certificate that CA signed."""
    _readable("TLS certificate", cert_file)
    _readable("TLS key", key_file)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert_file, key_file)
    except (ssl.SSLError, OSError) as exc:
        raise ValueError(f"TLS certificate {cert_file!r} with key {key_file!r}: {exc}") \
            from exc
    if client_ca_file:
        _readable("TLS client CA", client_ca_file)
        context.load_verify_locations(cafile=client_ca_file)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def client_context(ca_file: str | None = None, cert_file: str | None = None,
                   key_file: str | None = None) -> ssl.SSLContext:
    """What a client trusts: ``ca_file`` (else the system's CAs), the server's name checked;
    ``cert_file`` + ``key_file``: the client certificate to present, when the server asks."""
    if bool(cert_file) != bool(key_file):
        raise ValueError("a TLS client certificate needs its key, and a key its certificate")
    if ca_file:
        _readable("TLS CA", ca_file)
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert_file and key_file:
        _readable("TLS certificate", cert_file)
        _readable("TLS key", key_file)
        try:
            context.load_cert_chain(cert_file, key_file)
        except (ssl.SSLError, OSError) as exc:
            raise ValueError(f"TLS client certificate {cert_file!r} with key "
                             f"{key_file!r}: {exc}") from exc
    return context


def read_secret_file(path: str, what: str) -> str:
    """A password file holds the password alone (a trailing newline is ignored)."""
    try:
        value = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ValueError(f"{what} file {path!r}: {exc.strerror}") from exc
    if not value:
        raise ValueError(f"{what} file {path!r} is empty")
    return value


class HttpTlsFiles(Protocol):
    @property
    def http_tls_cert_file(self) -> str | None: ...
    @property
    def http_tls_key_file(self) -> str | None: ...


@dataclass(frozen=True)
class TlsFiles:
    """A certificate chain and its key (an ``HttpTlsFiles`` without settings)."""

    http_tls_cert_file: str | None
    http_tls_key_file: str | None


def http_tls_context(settings: HttpTlsFiles) -> ssl.SSLContext | None:
    """The HTTP listener's TLS (None: plain HTTP); both files or neither."""
    cert, key = settings.http_tls_cert_file, settings.http_tls_key_file
    if bool(cert) != bool(key):
        raise ValueError("HTTP TLS needs both HOTRO_HTTP_TLS_CERT_FILE and "
                         "HOTRO_HTTP_TLS_KEY_FILE")
    return server_context(cert, key) if cert and key else None


def nats_tls_context(servers: Sequence[str], ca_file: str | None, cert_file: str | None,
                     key_file: str | None) -> ssl.SSLContext | None:
    """The TLS context of a NATS connection: None without a CA, a client certificate or
    a ``tls://`` URL (then the server decides: nats-py upgrades when it requires TLS,
    trusting the system's CAs)."""
    if not (ca_file or cert_file or key_file
            or any(s.strip().startswith("tls://") for s in servers)):
        return None
    return client_context(ca_file, cert_file, key_file)

"""How ``hotro serve`` runs a service's HTTP server (uvicorn), limits set on purpose.

What reaches the app is bounded by ``shared/runtime/limits.py`` (body size, body time);
what comes before it is bounded here:

* **h11**, the pure-Python HTTP/1.1 parser, always (not whatever ``auto`` finds): one
  parser whose limits we know;
* **request line + headers** at most ``http_max_header_kb``: counted here on the bytes as
  they arrive (431 and the connection closed), because h11's own limit
  (``h11_max_incomplete_event_size``, set to the same) only applies to a header block that
  is still incomplete — one that arrives whole in a read passes it;
* **header timeout**: the request line and headers must arrive within
  ``http_header_timeout_s`` of the connection opening or of the previous response,
  otherwise the connection is closed (uvicorn has no such timer: a client sending one
  header byte at a time would hold its connection for ever);
* **keep-alive**: an idle connection is closed after ``http_keep_alive_s`` (at least
  ``keep_alive.MIN_KEEP_ALIVE_S``: our own clients — the gateway, the console — drop an idle
  connection after ``keep_alive.CLIENT_KEEPALIVE_EXPIRY_S``, before the server can close it under a
  request just sent on it, which the client would read as a connection lost);
* **concurrency**: above ``http_max_connections`` open connections and tasks, new requests
  get 503 at once instead of queueing without bound;
* **TLS** when ``http_tls_cert_file`` + ``http_tls_key_file`` are set (checked at start by
  the settings, ``shared/runtime/tls.py``): HTTPS only on that listener, TLS 1.2 at least.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from hotro.shared.runtime.tls import HttpTlsFiles, http_tls_context

_TOO_LARGE = b'{"detail":"the request line and headers are too large"}'
_431 = (b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
        b"connection: close\r\ncontent-length: " + str(len(_TOO_LARGE)).encode() +
        b"\r\n\r\n" + _TOO_LARGE)


class HeaderTimeoutH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, plus a timer that closes a connection whose request line
    and headers do not arrive within ``header_timeout_s``, and a limit of
    ``max_header_bytes`` on the request line and headers (431)."""

    header_timeout_s: float = 10.0
    max_header_bytes: int = 16 * 1024
    _header_timer: asyncio.TimerHandle | None = None
    #: the bytes of the request head received so far (None: not reading a head)
    _head: bytearray | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        if self._head is not None and not self._head_fits(data):
            self._disarm_header_timer()
            self.transport.write(_431)
            self.transport.close()
            return
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm_header_timer()  # the headers are in: the body has its own timer

    def _head_fits(self, data: bytes) -> bool:
        """Count the head's bytes; False once it is longer than allowed."""
        assert self._head is not None
        self._head += data
        end = self._head.find(b"\r\n\r\n")
        if end < 0:
            return len(self._head) <= self.max_header_bytes
        fits = end + 4 <= self.max_header_bytes
        self._head = None  # the head is complete (what follows is body or the next request)
        return fits

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm_header_timer()  # the next request's headers

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        self._head = bytearray()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_late)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


def header_timeout_protocol(timeout_s: float, max_header_bytes: int = 16 * 1024
                            ) -> type[HeaderTimeoutH11Protocol]:
    """The protocol class uvicorn instantiates per connection, with these limits."""
    if timeout_s <= 0 or max_header_bytes < 1024:
        raise ValueError("the header timeout must be positive, the head limit >= 1 KiB")
    return type("HeaderTimeoutH11Protocol", (HeaderTimeoutH11Protocol,),
                {"header_timeout_s": timeout_s, "max_header_bytes": max_header_bytes})


class ServerLimits(HttpTlsFiles, Protocol):
    """What the server limits are read from: a service's settings, or the console's."""

    @property
    def http_header_timeout_s(self) -> float: ...
    @property
    def http_max_header_kb(self) -> int: ...
    @property
    def http_keep_alive_s(self) -> int: ...
    @property
    def http_max_connections(self) -> int: ...


def uvicorn_options(settings: ServerLimits) -> dict[str, Any]:
    """The server limits of a service process (keyword arguments of ``uvicorn.run``)."""
    return {
        **tls_options(settings),
        "http": header_timeout_protocol(settings.http_header_timeout_s,
                                        settings.http_max_header_kb * 1024),
        "h11_max_incomplete_event_size": settings.http_max_header_kb * 1024,
        "timeout_keep_alive": settings.http_keep_alive_s,
        "limit_concurrency": settings.http_max_connections,
        "timeout_graceful_shutdown": 10,
    }


def tls_options(settings: HttpTlsFiles) -> dict[str, Any]:
    """uvicorn's TLS arguments (none: plain HTTP), the files checked first."""
    if http_tls_context(settings) is None:
        return {}
    return {"ssl_certfile": settings.http_tls_cert_file,
            "ssl_keyfile": settings.http_tls_key_file}

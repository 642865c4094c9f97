"""aiosmtpd front door: hands raw DATA to an async callback and relays its SMTP reply.

Limits, decided here:
- `data_size_limit` defaults to 25 MiB (advertised with SIZE; aiosmtpd answers
  "552 Error: Too much mail data" above it and keeps the session usable).
- Line length: RFC 5321 allows 1000 octets per line and aiosmtpd answers "500 Line too long"
  above 1001 by default. Real mailers (HTML generators, some phones) exceed it; losing a
  complaint to a formatting rule is worse than the memory cost, which `data_size_limit`
  bounds anyway. So lines up to `max_line_length` (default 64 KiB) are accepted.
- TLS: with a `tls_context` the listener offers STARTTLS (EHLO advertises it); with
  `require_tls` too, everything but EHLO/HELO/NOOP/QUIT/RSET/STARTTLS is refused with
  "530 Must issue a STARTTLS command first" until the session is encrypted (aiosmtpd's
  `require_starttls`), so no AUTH, MAIL or message travels in clear. AUTH, when offered,
  is only ever accepted over TLS (`auth_require_tls`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from .sanitize import ascii_line

log = logging.getLogger(__name__)

OnMessage = Callable[[bytes, str, list[str]], Awaitable[str]]

DEFAULT_DATA_SIZE_LIMIT = 25 * 1024 * 1024
DEFAULT_MAX_LINE_LENGTH = 64 * 1024
TEMPORARY_FAILURE = "451 4.3.0 temporary failure, try again later"
_REPLY = re.compile(r"^[2-5][0-9][0-9][ -]")


class IntakeSmtpHandler:
    """`accept_recipients`: addresses ("contact@vhv.vn") or domains ("vhv.vn" / "@vhv.vn")
    accepted in RCPT TO, case-insensitively; None accepts any recipient."""

    def __init__(
        self, on_message: OnMessage, *, accept_recipients: Iterable[str] | None = None
    ) -> None:
        self._on_message = on_message
        self._accept = (
            None
            if accept_recipients is None
            else frozenset(a.strip().lower().lstrip("@") for a in accept_recipients)
        )

    def accepts(self, address: str) -> bool:
        if self._accept is None:
            return True
        address = address.strip().strip("<>").lower()
        return address in self._accept or address.rpartition("@")[2] in self._accept

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if not self.accepts(address):
            return "550 5.1.1 recipient not accepted here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        try:
            reply = await self._on_message(raw, envelope.mail_from or "", list(envelope.rcpt_tos))
        except Exception:
            log.exception("inbound email callback failed; answering 451")
            return TEMPORARY_FAILURE
        reply = ascii_line(reply, max_chars=500)
        if not _REPLY.match(reply):
            log.error("inbound email callback gave no SMTP reply: %r; answering 451", reply)
            return TEMPORARY_FAILURE
        return reply


def _smtp_class(line_length_limit: int) -> type[SMTP]:
    # A class attribute in aiosmtpd, read in SMTP.__init__ to size the stream reader: an
    # instance attribute set afterwards would not change the reader.
    class IntakeSMTP(SMTP):
        pass

    IntakeSMTP.line_length_limit = line_length_limit
    return IntakeSMTP


class _IntakeController(Controller):
    def __init__(self, handler: Any, *, line_length_limit: int, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._smtp_class = _smtp_class(line_length_limit)

    def factory(self) -> SMTP:
        return self._smtp_class(self.handler, **self.SMTP_kwargs)


def start_smtp_listener(
    handler: IntakeSmtpHandler,
    host: str,
    port: int,
    *,
    data_size_limit: int = DEFAULT_DATA_SIZE_LIMIT,
    max_line_length: int = DEFAULT_MAX_LINE_LENGTH,
    ready_timeout: float = 5.0,
    tls_context: ssl.SSLContext | None = None,
    require_tls: bool = False,
) -> Controller:
    """Start serving in aiosmtpd's own thread and event loop; stop with `.stop()`."""
    if require_tls and tls_context is None:
        raise ValueError("requiring STARTTLS needs a TLS certificate and key")
    controller = _IntakeController(
        handler,
        hostname=host,
        port=port,
        line_length_limit=max_line_length,
        data_size_limit=data_size_limit,
        enable_SMTPUTF8=True,
        ready_timeout=ready_timeout,
        tls_context=tls_context,
        require_starttls=require_tls,
        auth_require_tls=True,
    )
    controller.start()
    return controller


class SmtpListenerJob:
    """A runtime background job: serves SMTP while the runtime runs (aiosmtpd in its own
    thread and event loop)."""

    def __init__(self, on_message: OnMessage, *, host: str, port: int,
                 accept_recipients: Iterable[str] | None,
                 data_size_limit: int = DEFAULT_DATA_SIZE_LIMIT,
                 tls_context: ssl.SSLContext | None = None, require_tls: bool = False) -> None:
        self.on_message = on_message
        self.host = host
        self.port = port
        self.accept_recipients = accept_recipients
        self.data_size_limit = data_size_limit
        self.tls_context = tls_context
        self.require_tls = require_tls
        self.controller: Controller | None = None

    async def __call__(self, stop: asyncio.Event) -> None:
        handler = IntakeSmtpHandler(self.on_message, accept_recipients=self.accept_recipients)
        controller = await asyncio.to_thread(
            start_smtp_listener, handler, self.host, self.port,
            data_size_limit=self.data_size_limit, tls_context=self.tls_context,
            require_tls=self.require_tls)
        self.controller = controller
        log.info("inbound SMTP listening on %s:%d (STARTTLS %s)", self.host, self.port,
                 "required" if self.require_tls else
                 "offered" if self.tls_context is not None else "off")
        try:
            await stop.wait()
        finally:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(controller.stop)
            log.info("inbound SMTP listener stopped")

"""A real SMTP server for tests (aiosmtpd): records what it receives."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from hotro.natsbin import free_port


class SmtpSink:
    """Accepts mail, or answers RCPT with ``rcpt_reply`` when set."""

    def __init__(self) -> None:
        self.rcpt_reply: str | None = None
        self.received: list[Envelope] = []

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, options: Any) -> str:
        if self.rcpt_reply is not None:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        # Recorded before the 250 goes out, so it is there by the time send() returns.
        self.received.append(envelope)
        return "250 2.0.0 Message accepted"

    @property
    def messages(self) -> list[EmailMessage]:
        return [message_from_bytes(e.content, policy=policy.default)  # type: ignore[arg-type]
                for e in self.received]

    def to(self, address: str, reference: str) -> list[EmailMessage]:
        return [m for m in self.messages
                if address in str(m["To"]) and reference in str(m["Subject"])]


@contextlib.contextmanager
def running_sink(port: int | None = None) -> Iterator[tuple[SmtpSink, int]]:
    sink = SmtpSink()
    port = port or free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()

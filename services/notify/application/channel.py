"""What the application asks of a channel — the transport a dispatch goes by (email, SMS,
printed letter) — and the failures a channel reports. Adapters implement it."""

from __future__ import annotations

from typing import Protocol

from hotro.services.notify.domain import Contact, Dispatch


class Channel(Protocol):
    def deliver(self, dispatch: Dispatch, contact: Contact | None) -> str:
        """Hand the message over; return the proof (Message-ID, provider id, file name)."""
        ...


class ChannelFailure(Exception):
    """A message could not be handed over. ``code`` is the SMTP or HTTP status when known."""

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class TransientFailure(ChannelFailure):
    """Trying again later may succeed: outage, timeout, 4xx SMTP reply, 5xx HTTP reply."""


class PermanentFailure(ChannelFailure):
    """Trying again will fail the same way: unknown mailbox, rejected message, bad request."""

"""How notify sends: one interface, adapters in ``channels/``."""

from __future__ import annotations

from typing import Protocol

from services.notify.domain import Contact, Dispatch


class TransientFailure(Exception):
    """Try again later (connection refused, 4xx, timeout)."""


class PermanentFailure(Exception):
    """Will never work (550 no such user, no address)."""


class Deliverer(Protocol):
    def deliver(self, dispatch: Dispatch, contact: Contact | None) -> str:
        """Send it; return the proof (Message-ID, provider id, file path)."""
        ...

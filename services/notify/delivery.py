"""How notify sends: one interface; the channel adapters live in ``channels/``."""

from __future__ import annotations

from typing import Protocol

from hotro.services.notify.channels.delivery import PermanentDeliveryError, TransientDeliveryError
from hotro.services.notify.domain import Contact, Dispatch

TransientFailure = TransientDeliveryError
PermanentFailure = PermanentDeliveryError


class Deliverer(Protocol):
    def deliver(self, dispatch: Dispatch, contact: Contact | None) -> str:
        """Send it; return the proof (Message-ID, provider id, file path)."""
        ...

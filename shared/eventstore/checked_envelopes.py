"""Envelopes built to check events before they were stored, kept for the relay.

An application whose envelopes depend on the event alone (``wire_from_event_alone``)
builds each one at save time to refuse what could not be published. The relay of the
same process then needs the very same envelope: taking it from here skips decoding the
stored event and building and validating the envelope again. Only committed events are
kept (a rolled-back save may be retried as a different event at the same version), the
map is bounded, and a miss (another replica's relay, a restart) builds it as before.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from hotro.shared.contracts.envelope import Envelope

Key = tuple[str, int]  # (originator id as text: recorders differ, originator version)


class CheckedEnvelopes:
    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._envelopes: OrderedDict[Key, Envelope | None] = OrderedDict()

    def keep(self, built: dict[Key, Envelope | None]) -> None:
        """After the commit that stored them: each event's envelope (None: internal)."""
        with self._lock:
            self._envelopes.update(built)
            while len(self._envelopes) > self.capacity:
                self._envelopes.popitem(last=False)

    def take(self, key: Key, notification_id: int) -> tuple[bool, Envelope | None]:
        """(found, the envelope at ``notification_id``); each is taken once."""
        with self._lock:
            if key not in self._envelopes:
                return False, None
            envelope = self._envelopes.pop(key)
        if envelope is None:
            return True, None
        return True, envelope.model_copy(update={"notification_id": notification_id})

"""Envelopes built to check events before they were stored, kept for the relay.

An application whose envelopes depend on the event alone (``wire_from_event_alone``)
builds each one at save time to refuse what could not be published. The relay of the
same process then needs the very same envelope: taking it from here skips decoding the
stored event and building and validating the envelope again. Only committed events are
kept (a rolled-back save may be retried as a different event at the same version), the
map is bounded, and a miss (another replica's relay, a restart) builds it as before.

Each is kept with the notification id its commit gave it, so the relay can take a page
of the log from here without reading the store (``take_run``) — but only a page it can
prove whole: the ids right after its position, with no id missing up to the newest kept.
A missing id is a row this process did not write (another replica, a tool, a sequence
gap on PostgreSQL): the relay then reads the store as before.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping

from hotro.shared.contracts.envelope import Envelope

Key = tuple[str, int]  # (originator id as text: recorders differ, originator version)


class CheckedEnvelopes:
    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._envelopes: OrderedDict[Key, tuple[int | None, Envelope | None]] = OrderedDict()
        self._keys_by_id: dict[int, Key] = {}

    def keep(self, built: dict[Key, Envelope | None],
             notification_ids: Mapping[Key, int] | None = None) -> None:
        """After the commit that stored them: each event's envelope (None: internal) and,
        where the recorder told it, the notification id it was stored at."""
        ids = notification_ids or {}
        with self._lock:
            for key, envelope in built.items():
                notification_id = ids.get(key)
                self._envelopes[key] = (notification_id, envelope)
                if notification_id is not None:
                    self._keys_by_id[notification_id] = key
            while len(self._envelopes) > self.capacity:
                _, (notification_id, _) = self._envelopes.popitem(last=False)
                if notification_id is not None:
                    self._keys_by_id.pop(notification_id, None)

    def take(self, key: Key, notification_id: int) -> tuple[bool, Envelope | None]:
        """(found, the envelope at ``notification_id``); each is taken once."""
        with self._lock:
            if key not in self._envelopes:
                return False, None
            kept_id, envelope = self._envelopes.pop(key)
            if kept_id is not None:
                self._keys_by_id.pop(kept_id, None)
        return True, _at(envelope, notification_id)

    def take_run(self, after: int, limit: int) -> list[tuple[int, Envelope | None]] | None:
        """The notifications ``after + 1``, ``after + 2``, … (at most ``limit``), when this
        process committed each of them and every id up to the newest it kept; else None
        (read the store). Whatever is kept at or below ``after`` is dropped."""
        with self._lock:
            ids = self._keys_by_id
            for stale in [n for n in ids if n <= after]:
                self._envelopes.pop(ids.pop(stale), None)
            if after + 1 not in ids or max(ids) - after != len(ids):
                return None
            run = []
            for notification_id in range(after + 1, after + 1 + min(limit, len(ids))):
                _, envelope = self._envelopes.pop(ids.pop(notification_id))
                run.append((notification_id, envelope))
        return [(n, _at(envelope, n)) for n, envelope in run]


def _at(envelope: Envelope | None, notification_id: int) -> Envelope | None:
    if envelope is None or envelope.notification_id == notification_id:
        return envelope
    return envelope.model_copy(update={"notification_id": notification_id})

"""The notifications this process committed last, kept for its own log followers.

A follower woken by a commit of its own process (sla's timer, notify's sender) would read
back from the store the very rows that commit has just written. Each commit's
notifications are kept here as stored (the same bytes the store holds, decoded by the
same mapper), so the follower takes them without a store round trip — but only a run it
can prove is the log's next: ``after + 1``, ``after + 2``, … with no id missing. A missing
id is a row this process did not write (another replica, a tool, a sequence gap on
PostgreSQL) or one it has not kept yet: the follower then reads the store as before.

Rows past the run (another replica's, committed after ours) are not seen by this catch-up
but by the next: its first id is then missing here, so it reads the store. Readers that
answer a query must see every replica's commits at once, so they always read the store.

Unlike ``CheckedEnvelopes`` nothing is taken away: any number of followers read the same
run. The map is bounded; a follower that falls further behind reads the store.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

from eventsourcing.persistence import Notification


class CommittedLog:
    def __init__(self, capacity: int = 1024) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self._lock = threading.Lock()
        self._notes: OrderedDict[int, Notification] = OrderedDict()

    def keep(self, notes: Iterable[Notification]) -> None:
        """After the commit that stored them."""
        with self._lock:
            for note in notes:
                self._notes[note.id] = note
            while len(self._notes) > self.capacity:
                self._notes.popitem(last=False)

    def run_after(self, after: int, limit: int) -> list[Notification] | None:
        """The notifications ``after + 1``, ``after + 2``, … while each was kept (at most
        ``limit``); None when ``after + 1`` was not (read the store)."""
        with self._lock:
            run: list[Notification] = []
            while len(run) < limit:
                note = self._notes.get(after + 1 + len(run))
                if note is None:
                    break
                run.append(note)
        return run or None

"""Follow a service's own notification log in-process (SQLite cannot push: we poll)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eventsourcing.persistence import Notification

from hotro.shared.eventstore.application import ServiceApplication
from hotro.shared.eventstore.log import read_log
from hotro.shared.eventstore.read_model_db import ReadModelDb


class LogFollower:
    def __init__(self, app: ServiceApplication, apply: Callable[[Any], None],
                 page: int = 500, flush: Callable[[], None] | None = None) -> None:
        """``flush``: called at the end of every catch-up (inside ``catch_up_into``'s
        transaction), for a model that applies events in memory and writes them once."""
        self.app = app
        self.apply = apply
        self.flush = flush
        self.page = page
        self.position = 0
        #: whether a catch-up into a read model has completed (the first is a bulk load)
        self.loaded = False

    def catch_up(self, *, from_memory: bool = False) -> int:
        """Apply every event stored since the last call. Returns how many were read.

        ``from_memory``: when the next events are ones this process committed, take them
        from memory (``catch_up_from_memory``), else read the store. For a follower woken
        by its own process's commits; another replica's events after those are the next
        catch-up's. A reader answering a query reads the store."""
        if from_memory:
            read = self.catch_up_from_memory()
            if read is not None:
                return read
        read = 0
        for note in read_log(self.app.recorder, after=self.position, page=self.page):
            self._apply_note(note)
            read += 1
        if self.flush is not None:
            self.flush()
        return read

    def catch_up_from_memory(self) -> int | None:
        """Apply the events after the position that this process committed, while their
        ids run on without a gap (``ServiceApplication.committed_run``), with no store
        read. None, with nothing applied, when the next one is not among them."""
        run = self.app.committed_run(self.position, self.page)
        if run is None:
            return None
        read = 0
        while run:
            for note in run:
                self._apply_note(note)
            read += len(run)
            run = self.app.committed_run(self.position, self.page)
        if self.flush is not None:
            self.flush()
        return read

    def _apply_note(self, note: Notification) -> None:
        self.apply(self.app.mapper.to_domain_event(note))
        self.position = note.id

    def catch_up_into(self, db: ReadModelDb, *, from_memory: bool = False) -> int:
        """``catch_up`` as one transaction of ``db``: if reading or applying fails half-way
        the transaction is rolled back and the position goes back to where the tables
        are (else the events read before the failure would be missing for good). The
        first one (a process starting, a replay: the whole log) is a bulk load; later
        ones apply a few events each, so the indexes are kept as they go."""
        position = self.position
        try:
            with db.batch() if self.loaded else db.bulk():
                read = self.catch_up(from_memory=from_memory)
        except BaseException:
            self.position = position
            raise
        self.loaded = True
        return read

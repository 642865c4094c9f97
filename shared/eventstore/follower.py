"""Follow a service's own notification log in-process (SQLite cannot push: we poll)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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

    def catch_up(self) -> int:
        """Apply every event stored since the last call. Returns how many were read."""
        read = 0
        for note in read_log(self.app.recorder, after=self.position, page=self.page):
            self.apply(self.app.mapper.to_domain_event(note))
            self.position = note.id
            read += 1
        if self.flush is not None:
            self.flush()
        return read

    def catch_up_into(self, db: ReadModelDb) -> int:
        """``catch_up`` as one transaction of ``db``: if reading or applying fails half-way
        the transaction is rolled back and the position goes back to where the tables
        are (else the events read before the failure would be missing for good). The
        first one (a process starting, a replay: the whole log) is a bulk load; later
        ones apply a few events each, so the indexes are kept as they go."""
        position = self.position
        try:
            with db.batch() if self.loaded else db.bulk():
                read = self.catch_up()
        except BaseException:
            self.position = position
            raise
        self.loaded = True
        return read

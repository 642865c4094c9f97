"""Reading a service's notification log in pages: the one loop every reader uses."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from eventsourcing.persistence import ApplicationRecorder, Notification


def read_log(recorder: ApplicationRecorder, *, after: int = 0, upto: int | None = None,
             topics: Sequence[str] = (), page: int = 1000) -> Iterator[Notification]:
    """Every stored notification after position ``after`` (up to ``upto``), in log order.

    A page shorter than ``page`` is the log's end as it was when read: no further read to
    find an empty page (followers catch up after every commit, so that read would double
    their transactions; what is committed meanwhile is the next catch-up's)."""
    if page < 1:  # an empty page would never be short: the loop would not end
        raise ValueError(f"page must be at least 1, got {page}")
    start = after
    while True:
        notes = recorder.select_notifications(start=start, limit=page, stop=upto,
                                              topics=topics, inclusive_of_start=False)
        yield from notes
        if len(notes) < page:
            return
        start = notes[-1].id


def read_events(app: Any, *, after: int = 0, upto: int | None = None,
                topics: Sequence[str] = (), page: int = 1000) -> Iterator[Any]:
    """The same, decoded into domain events with the application's mapper."""
    for note in read_log(app.recorder, after=after, upto=upto, topics=topics, page=page):
        yield app.mapper.to_domain_event(note)

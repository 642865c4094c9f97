"""Reading the log in pages: every notification once, in order, and no read past a short
page (followers catch up after every commit; an extra empty read each time doubled their
transactions)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import pytest
from eventsourcing.persistence import Notification, StoredEvent
from eventsourcing.popo import POPOApplicationRecorder

from hotro.shared.eventstore.log import read_log


class CountingRecorder(POPOApplicationRecorder):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def select_notifications(self, *args: Any, **kwargs: Any) -> Sequence[Notification]:
        self.reads += 1
        return super().select_notifications(*args, **kwargs)


def _recorder(events: int, topic: str = "hotro.test:Thing.Happened") -> CountingRecorder:
    recorder = CountingRecorder()
    originator = uuid.uuid4()
    recorder.insert_events([StoredEvent(originator, v, topic, b"{}")
                            for v in range(1, events + 1)])
    return recorder


@pytest.mark.parametrize(("events", "page", "reads"), [
    (0, 10, 1), (3, 10, 1), (9, 10, 1),  # one short page: the end
    (10, 10, 2), (20, 10, 3),  # full pages: read on until a short (here empty) one
    (25, 10, 3),
])
def test_every_notification_once_and_no_read_past_a_short_page(
        events: int, page: int, reads: int) -> None:
    recorder = _recorder(events)
    ids = [n.id for n in read_log(recorder, page=page)]
    assert ids == list(range(1, events + 1))
    assert recorder.reads == reads


def test_after_and_upto_bound_the_read() -> None:
    recorder = _recorder(30)
    assert [n.id for n in read_log(recorder, after=12, upto=20, page=4)] == list(range(13, 21))


def test_topics_filter_before_the_page_is_counted() -> None:
    recorder = _recorder(5, "hotro.test:A.Happened")
    other = uuid.uuid4()
    recorder.insert_events([StoredEvent(other, 1, "hotro.test:B.Happened", b"{}")])
    recorder.insert_events([StoredEvent(other, 2, "hotro.test:A.Happened", b"{}")])
    found = [n.id for n in read_log(recorder, topics=["hotro.test:A.Happened"], page=3)]
    assert found == [1, 2, 3, 4, 5, 7]


def test_a_page_of_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="page must be at least 1"):
        list(read_log(_recorder(3), page=0))

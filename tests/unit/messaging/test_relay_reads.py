"""The relay reads the store once per wake-up: a page shorter than its batch reached the
log's end, so it goes to sleep without reading an empty page to find out, and it reads
no head position for the lag gauge (the runtime's lag report does that)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nats.js.errors import NotFoundError

from hotro.services.intake.application import IntakeApplication
from hotro.shared.contracts.envelope import Actor, Envelope
from hotro.shared.eventstore.application import OutboxItem
from hotro.shared.messaging.relay import OutboxRelay
from hotro.shared.observability.metrics import ServiceMetrics
from tests.support.intake_store import intake_on, receive_complaint
from tests.support.waiting import eventually


def _envelope(notification_id: int) -> Envelope:
    return Envelope(event_id=uuid.uuid4(), event_type="ComplaintReceived", schema_version=1,
                    complaint_id=uuid.uuid4(), producer="intake",
                    notification_id=notification_id, occurred_at=datetime.now(UTC),
                    actor=Actor(kind="system", id="test"), correlation_id=uuid.uuid4(),
                    payload={})


class Log:
    """A store's notification log that counts what the relay asks of it."""

    name = "intake"

    def __init__(self) -> None:
        self.items: list[OutboxItem] = []
        self.pages_read = 0
        self.heads_read = 0
        self.listeners: list[Callable[[], None]] = []

    def add_commit_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def commit(self, count: int) -> None:
        for _ in range(count):
            n = len(self.items) + 1
            self.items.append(OutboxItem(n, _envelope(n)))
        for listener in self.listeners:
            listener()

    def committed_page(self, after: int, limit: int) -> list[OutboxItem] | None:
        return None  # this log keeps nothing in memory: every page is a read

    def outbox_page(self, after: int, limit: int) -> list[OutboxItem]:
        self.pages_read += 1
        return [i for i in self.items if i.notification_id > after][:limit]

    def max_notification_id(self) -> int:
        self.heads_read += 1
        return len(self.items)


class Stream:
    def __init__(self) -> None:
        self.published: list[int] = []

    async def get_msg(self, *args: Any, **kwargs: Any) -> Any:
        raise NotFoundError

    async def publish(self, subject: str, body: bytes, **kwargs: Any) -> None:
        self.published.append(int(kwargs["headers"]["Hotro-Notification-Id"]))


class WatchedRelay(OutboxRelay):
    """Counts the times it went to sleep."""

    sleeps = 0

    async def _pause(self, stop: asyncio.Event, seconds: float) -> None:
        self.sleeps += 1
        await super()._pause(stop, seconds)


async def test_one_page_read_per_commit_and_no_head_reads() -> None:
    log, stream = Log(), Stream()
    app: Any = log
    js: Any = stream
    relay = WatchedRelay(app, js, 4, ServiceMetrics("intake"), batch=3, idle_s=60.0)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        await eventually(lambda: relay.sleeps == 1, message="idle on the empty log")
        assert log.pages_read == 1

        log.commit(2)  # shorter than a page: one read, then sleep
        await eventually(lambda: relay.sleeps == 2, message="asleep after the commit")
        assert stream.published == [1, 2]
        assert log.pages_read == 2

        log.commit(4)  # a full page, then a short one: two reads
        await eventually(lambda: relay.sleeps == 3, message="asleep after the backlog")
        assert stream.published == [1, 2, 3, 4, 5, 6]
        assert log.pages_read == 4
        assert log.heads_read == 0
    finally:
        stop.set()
        await task


def _intake(url: str) -> IntakeApplication:
    return intake_on(url, b"relay-reads")


def _receive(app: IntakeApplication, n: int) -> None:
    receive_complaint(app, n)


async def test_its_own_commits_are_published_without_a_store_read(tmp_path: Path) -> None:
    # Steps driven one by one: in the running loop a wake-up that arrives after its
    # commit was already taken makes one more (empty) read, so counts there vary.
    url = f"sqlite:///{tmp_path}/intake.db"
    ours, theirs = _intake(url), _intake(url)  # two replicas of one service
    reads = 0
    read_page = ours.outbox_page

    def counted(after: int, limit: int) -> list[OutboxItem]:
        nonlocal reads
        reads += 1
        return read_page(after, limit)

    ours.outbox_page = counted  # type: ignore[method-assign]
    stream = Stream()
    js: Any = stream
    relay = OutboxRelay(ours, js, 4, ServiceMetrics("intake"), batch=500)

    def published_in_the_store() -> list[int]:
        return [i.notification_id for i in _intake(url).outbox_page(0, 1000) if i.envelope]

    for n in range(3):
        _receive(ours, n)
    await relay.step()
    assert len(stream.published) == 3
    assert reads == 0  # taken from what the commits kept
    _receive(theirs, 3)
    _receive(ours, 4)
    await relay.step()
    assert reads == 1  # the gap their rows left was read from the store
    assert stream.published == published_in_the_store()
    _receive(ours, 5)
    await relay.step()
    assert reads == 1
    assert stream.published == published_in_the_store()
    assert len(stream.published) == 6
    await relay.step()  # nothing of ours left: the store is read (another's rows?)
    assert reads == 2

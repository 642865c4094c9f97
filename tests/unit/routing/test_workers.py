"""The case queues follow routing's log in the background, without being asked."""

from __future__ import annotations

import asyncio

from hotro.services.routing.views import CaseQueues
from hotro.services.routing.workers import follow_case_queues
from tests.support.waiting import eventually
from tests.unit.routing.app_builders import Feeder, routing_app


async def test_the_case_queues_keep_following_the_log() -> None:
    app = routing_app()
    queues = CaseQueues(app)
    feed = Feeder(app)
    stop = asyncio.Event()

    def caught_up() -> bool:
        return queues.follower.position == app.max_notification_id()

    worker = asyncio.ensure_future(follow_case_queues(queues, 0.01)(stop))
    try:
        for _ in range(2):
            feed.received()
            await eventually(caught_up, timeout=5, message="the queues caught up with the log")
    finally:
        stop.set()
        await asyncio.wait_for(worker, timeout=5)
    assert len(queues.list()) == 2

"""Long pull requests that a stop interrupts without stranding a message.

An idle partition consumer costs one pull request per fetch timeout: about 1 ms of CPU
each in nats-py on this machine, so eight partitions polling every second kept each idle
service near 1% of a core. A long request makes idle cheap, but a stop (shutdown, a
lease that moved) must not wait for it. Interrupting the fetch on the client leaves the
request alive on the server until it expires; a message the server sends to it meanwhile
would stay unacknowledged until ``ack_wait``, and with ``max_ack_pending=1`` its whole
partition would stall that long. So a released subscription first makes the server stop
sending (UNSUB, then a request it answers), then hands back at once (NAK) whatever had
arrived."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from nats.aio.msg import Msg
from nats.js import JetStreamContext

PullSubscription = JetStreamContext.PullSubscription

#: a stop waits at most this long for the server's answer before giving the hand-back up
HAND_BACK_TIMEOUT_S = 2


async def fetch_unless(stopped: asyncio.Future[Any], sub: PullSubscription, batch: int,
                       timeout_s: float) -> list[Msg] | None:
    """What one fetch brings ([] when it timed out), or None when ``stopped`` completed
    first: the fetch is then cancelled and the subscription must be ``release``d."""
    fetch = asyncio.ensure_future(sub.fetch(batch, timeout=timeout_s))
    either: set[asyncio.Future[Any]] = {fetch, stopped}
    await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
    if fetch.done():  # messages that came with the stop are handed back by the caller
        try:
            return fetch.result()
        except TimeoutError:
            return []
    fetch.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await fetch
    return None


async def release(sub: PullSubscription) -> int:
    """Unsubscribe, handing back the messages the server sent before it stopped; returns
    how many. Raises when the connection is closed: the server has then dropped the
    request, and what it had sent comes back after ``ack_wait``, as after a crash."""
    # nats-py 2.16 has no public way to do this: ``unsubscribe`` drops what is queued or
    # still on the wire, and ``drain`` waits for a count of processed messages that its
    # own fetch never decrements. tests/integration/test_pull_release.py pins it.
    core = sub._sub
    conn = core._conn
    if not conn.is_connected:  # reconnecting: the request went with the old connection
        await sub.unsubscribe()
        return 0
    await conn._send_unsubscribe(core._id)  # the server sends nothing more to the inbox
    # A round trip after the UNSUB: what the server sent to the inbox before it has now
    # arrived, in order. Not ``flush(timeout)``: when it times out, nats-py keeps the
    # cancelled PONG future, and the late PONG then breaks its read loop until the next
    # reconnect (minutes: seen in the chaos run, after a 4 s network stall).
    await asyncio.wait_for(sub.consumer_info(), HAND_BACK_TIMEOUT_S)
    handed = 0
    queue = core._pending_queue
    while not queue.empty():
        msg = queue.get_nowait()
        if JetStreamContext.is_status_msg(msg):  # the request's own end (408, 409)
            continue
        await msg.nak()
        handed += 1
    await sub.unsubscribe()  # the local side; the server ignores the repeated UNSUB
    return handed

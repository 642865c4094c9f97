"""The sender delivers several dispatches at once (bounded), never one twice at once, and
wakes when an intent is recorded — over real SMTP conversations.

The SMTP sink below holds every message until ``n`` of them are in its hands: a sender
that delivers one at a time never gets past the first (it is refused after HOLD_S)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from hotro.natsbin import free_port
from hotro.services.notify.application import NotifyApplication
from hotro.services.notify.workers import DispatchSender
from tests.support.waiting import eventually
from tests.unit.notify.conftest import smtp_channels, sqlite_notify
from tests.unit.notify.wire import acknowledged, dispatches

HOLD_S = 10.0


class HoldingSink:
    """Answers DATA only once ``n`` messages are being held (or refuses after HOLD_S)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.arrived: list[bytes] = []
        self.accepted: list[bytes] = []
        self.most_at_once = 0
        self._holding = 0
        self._all_here: asyncio.Event | None = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self._all_here is None:  # on the controller's own loop
            self._all_here = asyncio.Event()
        content = bytes(envelope.original_content or b"")
        self.arrived.append(content)
        self._holding += 1
        self.most_at_once = max(self.most_at_once, self._holding)
        if len(self.arrived) >= self.n:
            self._all_here.set()
        try:
            await asyncio.wait_for(self._all_here.wait(), HOLD_S)
        except TimeoutError:
            return "451 4.3.0 held alone: the sender does not deliver in parallel"
        finally:
            self._holding -= 1
        self.accepted.append(content)
        return "250 2.0.0 Message accepted"

    def message_ids(self) -> list[str]:
        return [str(message_from_bytes(c, policy=policy.default)["Message-ID"])
                for c in self.accepted]


@contextlib.contextmanager
def holding_sink(n: int) -> Iterator[tuple[HoldingSink, int]]:
    sink, port = HoldingSink(n), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


def _sender(app: NotifyApplication, port: int, tmp_path: Path, **kw: float) -> DispatchSender:
    channels = smtp_channels(port, tmp_path, timeout_s=HOLD_S + 5)
    return DispatchSender(app, channels, lambda: [0], 1, **kw)  # type: ignore[arg-type]


async def test_several_dispatches_are_delivered_at_once_and_each_once(tmp_path: Path) -> None:
    n = 4
    app = sqlite_notify(tmp_path / "notify.sqlite")
    for _ in range(n):
        acknowledged(app, uuid.uuid4())
    wanted = sorted(d.message_id for d in dispatches(app))
    assert len(wanted) == n
    with holding_sink(n) as (sink, port):
        sender = _sender(app, port, tmp_path)
        # Two rounds at once: the second finds every dispatch already under way.
        made = await asyncio.gather(sender.run_once(), sender.run_once())
        assert sorted(made) == [0, n]
        assert sink.most_at_once == n
        assert sorted(sink.message_ids()) == wanted  # every one, once
        assert len(sink.arrived) == n
    assert {d.status for d in dispatches(app)} == {"sent"}
    assert await sender.run_once() == 0
    app.close()


async def test_at_most_parallel_at_once(tmp_path: Path) -> None:
    app = sqlite_notify(tmp_path / "notify.sqlite")
    for _ in range(3):
        acknowledged(app, uuid.uuid4())
    with holding_sink(2) as (sink, port):  # releases once two are held
        sender = _sender(app, port, tmp_path, parallel=2)
        assert await sender.run_once() == 2
        assert sink.most_at_once == 2
        assert await sender.run_once() == 1  # the third was left for the next round
    assert len(sink.accepted) == 3
    app.close()


async def test_a_new_intent_wakes_the_sender_long_before_its_safety_net(
        tmp_path: Path) -> None:
    app = sqlite_notify(tmp_path / "notify.sqlite")
    with holding_sink(1) as (sink, port):
        sender = _sender(app, port, tmp_path, period_s=30.0)
        stop = asyncio.Event()
        task = asyncio.ensure_future(sender.run(stop))
        try:
            for sent in range(1, 4):  # the first one after the sender's opening round
                recorded = time.monotonic()
                await asyncio.to_thread(acknowledged, app, uuid.uuid4())

                def delivered(sent: int = sent) -> bool:
                    return len(sink.accepted) >= sent

                await eventually(delivered, timeout=15, interval=0.01,
                                 message="acknowledgement sent")
                assert time.monotonic() - recorded < 2.0, "the sender waited for its poll"
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)
    app.close()

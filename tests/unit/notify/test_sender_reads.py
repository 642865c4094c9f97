"""A delivery that went out reads its dispatch once (to send it), not again afterwards:
``attempt`` returns the status it stored. Only a retry reads it again, for its backoff."""

from __future__ import annotations

import uuid
from pathlib import Path

from hotro.services.notify.application import NotifyApplication
from hotro.services.notify.domain import Dispatch
from hotro.services.notify.workers import DispatchSender
from tests.support.smtp import SmtpSink as Sink
from tests.unit.notify.conftest import smtp_channels, sqlite_notify
from tests.unit.notify.wire import acknowledged, dispatches


def _counted_loads(app: NotifyApplication) -> list[uuid.UUID]:
    loads: list[uuid.UUID] = []
    real = app.get_dispatch

    def get_dispatch(dispatch_id: uuid.UUID) -> Dispatch:
        loads.append(dispatch_id)
        return real(dispatch_id)

    app.get_dispatch = get_dispatch  # type: ignore[method-assign]
    return loads


async def test_a_sent_dispatch_is_read_once(sink: tuple[Sink, int], tmp_path: Path) -> None:
    handler, port = sink
    app = sqlite_notify(tmp_path / "notify.sqlite")
    channels = smtp_channels(port, tmp_path)
    acknowledged(app, uuid.uuid4())
    [ack] = dispatches(app)
    loads = _counted_loads(app)
    sender = DispatchSender(app, channels, lambda: [0], 1)
    assert await sender.run_once() == 1
    assert len(handler.received) == 1
    assert app.get_dispatch(ack.id).status == "sent"
    assert loads == [ack.id, ack.id]  # the attempt's, then this test's own
    assert ack.id not in sender.pending

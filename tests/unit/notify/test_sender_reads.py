"""A delivery that went out reads its dispatch once (to send it), not again afterwards:
``attempt`` returns the status it stored. Only a retry reads it again, for its backoff."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hotro.services.notify.adapters.channels import Channels
from hotro.services.notify.adapters.email_smtp import SmtpMailer
from hotro.services.notify.adapters.letter_pdf import LetterStore
from hotro.services.notify.adapters.rendering import CompanyInfo
from hotro.services.notify.adapters.sms import RecordingShortMessageGateway
from hotro.services.notify.application import NotifyApplication
from hotro.services.notify.domain import Dispatch
from hotro.services.notify.workers import DispatchSender
from hotro.shared.eventstore.persistence import persistence_env
from tests.support.smtp import SmtpSink as Sink
from tests.support.smtp import running_sink
from tests.unit.notify.wire import acknowledged, dispatches


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    with running_sink() as running:
        yield running


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
    app = NotifyApplication(env=persistence_env(f"sqlite:///{tmp_path}/notify.sqlite"),
                            clock=lambda: datetime(2026, 3, 6, 3, 0, tzinfo=UTC))
    channels = Channels(
        email=SmtpMailer("127.0.0.1", port, False, None, None, 5.0, sender="contact@vhv.vn"),
        sms=RecordingShortMessageGateway(), letters=LetterStore(tmp_path / "letters"),
        company=CompanyInfo(), clock=lambda: datetime(2026, 3, 6, tzinfo=UTC))
    acknowledged(app, uuid.uuid4())
    [ack] = dispatches(app)
    loads = _counted_loads(app)
    sender = DispatchSender(app, channels, lambda: [0], 1)
    assert await sender.run_once() == 1
    assert len(handler.received) == 1
    assert app.get_dispatch(ack.id).status == "sent"
    assert loads == [ack.id, ack.id]  # the attempt's, then this test's own
    assert ack.id not in sender.pending

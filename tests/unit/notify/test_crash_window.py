"""Exactly-once intent, at-least-once sending, over a real SMTP conversation.

The documented window (``services/notify/application/outcomes.py``): the SMTP server accepted the
message, then the process died before ``Dispatch.Sent`` was stored. After the restart the
message goes out once more with the SAME Message-ID, and Sent is recorded once.
"""

from __future__ import annotations

import uuid
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from hotro.services.notify.application import NotifyApplication
from hotro.services.notify.domain import Dispatch
from hotro.services.notify.workers import DispatchSender
from tests.support.smtp import SmtpSink as Sink
from tests.unit.notify.conftest import smtp_channels, sqlite_notify
from tests.unit.notify.wire import acknowledged, dispatches, wire_events


def _crash_on_first_save(app: NotifyApplication) -> list[int]:
    """The next save raises, as if the process died right after the SMTP 250."""
    calls: list[int] = []
    real_save = app.save

    def save(*objs: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("process killed between send and save")
        return real_save(*objs, **kwargs)

    app.save = save  # type: ignore[method-assign]
    return calls


def _message_ids(sink: Sink) -> list[str]:
    return [str(message_from_bytes(e.original_content or b"", policy=policy.default)
                ["Message-ID"]) for e in sink.received]


def _sent_events(app: NotifyApplication) -> list[Any]:
    return [e for n in app.recorder.select_notifications(start=0, limit=1000,
                                                         inclusive_of_start=False)
            if isinstance(e := app.mapper.to_domain_event(n), Dispatch.Sent)]


async def test_crash_after_send_resends_once_with_the_same_message_id(
        sink: tuple[Sink, int], tmp_path: Path) -> None:
    handler, port = sink
    store = tmp_path / "notify.sqlite"
    first = sqlite_notify(store)
    acknowledged(first, uuid.uuid4())
    [ack] = dispatches(first)
    _crash_on_first_save(first)
    await DispatchSender(first, smtp_channels(port, tmp_path), lambda: [0], 1).run_once()
    assert len(handler.received) == 1  # it went out …
    assert first.get_dispatch(ack.id).status == "pending"  # … but was not recorded
    first.close()  # the process is gone, and its memory with it

    restarted = sqlite_notify(store)
    loop = DispatchSender(restarted, smtp_channels(port, tmp_path), lambda: [0], 1)
    assert await loop.run_once() == 1
    assert await loop.run_once() == 0  # nothing left to send

    assert _message_ids(handler) == [ack.message_id, ack.message_id]
    assert len(_sent_events(restarted)) == 1
    acks = [e for e in wire_events(restarted) if e.event_type == "AcknowledgementSent"]
    assert [e.payload["proof"] for e in acks] == [ack.message_id]
    restarted.close()


async def test_a_store_hiccup_in_a_live_process_records_without_resending(
        sink: tuple[Sink, int], tmp_path: Path) -> None:
    handler, port = sink
    app = sqlite_notify(tmp_path / "notify.sqlite")
    acknowledged(app, uuid.uuid4())
    [ack] = dispatches(app)
    calls = _crash_on_first_save(app)
    loop = DispatchSender(app, smtp_channels(port, tmp_path), lambda: [0], 1, backoff_s=(0.0,))
    await loop.run_once()
    assert ack.id in loop.unrecorded
    await loop.run_once()
    assert len(calls) == 2
    assert app.get_dispatch(ack.id).status == "sent"
    assert _message_ids(handler) == [ack.message_id]  # sent once only
    assert await loop.run_once() == 0
    app.close()

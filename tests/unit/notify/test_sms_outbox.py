"""Issue 14: an SMS's text can be read locally — in the local run's outbox (a file per SMS,
like the Maildir for email) and in the dispatch log."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from hotro.services.notify.adapters.channels import Channels
from hotro.services.notify.adapters.letter_pdf import LetterStore
from hotro.services.notify.adapters.rendering import CompanyInfo
from hotro.services.notify.adapters.sms import (
    RecordingShortMessageGateway,
    ShortMessage,
    SmsOutbox,
)
from hotro.services.notify.application.channel import TransientFailure
from hotro.services.notify.views import DispatchLog
from tests.unit.notify.test_application import NOW, Outbox
from tests.unit.notify.wire import REFERENCE, acknowledged, dispatches, memory_app


def test_each_sms_is_a_readable_file_in_the_outbox(tmp_path: Path) -> None:
    outbox = SmsOutbox(tmp_path / "outbox" / "sms")
    gateway = RecordingShortMessageGateway(outbox)
    message = ShortMessage(to="0912 345 678", text="Công ty VHV: đã tiếp nhận KN-2026-000123.",
                           reference=REFERENCE, idempotency_key="0b9f6a3e-dispatch")
    gateway.send(message)
    gateway.send(message)  # a retry rewrites the same file
    [path] = list((tmp_path / "outbox" / "sms").iterdir())
    assert path.name == "0b9f6a3e-dispatch.txt"
    assert path.read_text(encoding="utf-8") == (
        "To: +84912345678\nReference: KN-2026-000123\nIdempotency-Key: 0b9f6a3e-dispatch\n\n"
        "Công ty VHV: đã tiếp nhận KN-2026-000123.\n")
    assert outbox.text_for("0b9f6a3e-dispatch") == "Công ty VHV: đã tiếp nhận KN-2026-000123."
    assert outbox.text_for("never-sent") is None
    assert outbox.text_for("../../etc/passwd") is None
    with pytest.raises(ValueError):
        outbox.path_for("../x")


def test_an_unwritable_outbox_is_a_transient_failure(tmp_path: Path) -> None:
    blocker = tmp_path / "outbox"
    blocker.write_text("a file where the folder should be")
    gateway = RecordingShortMessageGateway(SmsOutbox(blocker / "sms"))
    with pytest.raises(TransientFailure):
        gateway.send(ShortMessage(to="+84912345678", text="x", reference=REFERENCE,
                                  idempotency_key="k-1"))
    assert gateway.messages == []


def test_the_dispatch_log_shows_the_text_of_a_sent_sms(tmp_path: Path) -> None:
    """A hotline caller's acknowledgement goes by SMS; with no provider the local run
    records it in the outbox, and the dispatch log row carries its text."""
    outbox = SmsOutbox(tmp_path / "outbox" / "sms")
    app = memory_app(max_attempts=3)
    log = DispatchLog(app, sms_text=outbox.text_for)
    channels = Channels(email=Outbox(), sms=RecordingShortMessageGateway(outbox),
                        letters=LetterStore(tmp_path / "letters"), company=CompanyInfo(),
                        clock=lambda: NOW)
    complaint = uuid.uuid4()
    acknowledged(app, complaint, channel="hotline")
    [ack] = [d for d in dispatches(app) if d.purpose == "acknowledgement"]
    assert ack.method == "sms"
    [pending] = log.entries(complaint_id=complaint)
    assert pending["status"] == "pending" and "text" not in pending

    assert app.attempt(ack.id, channels) == "sent"
    [row] = log.entries(complaint_id=complaint)
    text = outbox.text_for(str(ack.id))
    assert text is not None and REFERENCE in text
    assert row["text"] == text
    found = log.get(ack.id)
    assert found is not None and found["text"] == text
    assert (tmp_path / "outbox" / "sms" / f"{ack.id}.txt").is_file()

    without = DispatchLog(app)  # a provider keeps the text, not us: no text column
    assert "text" not in without.entries(complaint_id=complaint)[0]

"""Intake's read models follow its log: every query sees what was stored before it, a
fresh model rebuilt from the log agrees with the running one, and senders are opened with
the keys of the moment (an erased key shows as erased)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hotro.services.intake.application import IntakeApplication, NewRequest
from hotro.services.intake.domain import MailRecord
from hotro.services.intake.views import HotlineCalls, MailLog
from hotro.shared.eventstore.persistence import persistence_env
from hotro.shared.eventstore.trace import Trace
from hotro.shared.privacy.sealing import ERASED, MemoryKeyRing

TRACE = Trace.system("test").as_dict()


@pytest.fixture
def ring() -> MemoryKeyRing:
    return MemoryKeyRing()


@pytest.fixture
def app(ring: MemoryKeyRing) -> IntakeApplication:
    return IntakeApplication(env=persistence_env("memory:", allow_memory=True),
                             clock=lambda: datetime(2026, 3, 10, 2, tzinfo=UTC),
                             keyring=ring, hash_secret=b"k" * 32)


def _record(app: IntakeApplication, n: int, outcome: str) -> None:
    app.record_mail(outcome=outcome, reason_code=f"code-{n}", reason_text="why",
                    raw_sha256=f"{n:064x}", message_id=f"<m{n}@example.vn>",
                    envelope_from=f"s{n}@example.vn", from_address=f"f{n}@example.vn",
                    subject=f"subject {n}", size=100 + n, trace=TRACE)


def test_the_mail_log_sees_each_record_stored_before_the_query(
        app: IntakeApplication) -> None:
    log = MailLog(app)
    assert log.records() == []
    _record(app, 1, "ignored")
    _record(app, 2, "quarantined")
    assert [r["reason_code"] for r in log.records()] == ["code-1", "code-2"]
    _record(app, 3, "quarantined")
    assert [r["reason_code"] for r in log.records("quarantined")] == ["code-2", "code-3"]
    first = log.records()[0]
    assert first == {
        "id": str(MailRecord.create_id("ignored", f"{1:064x}")), "outcome": "ignored",
        "reason_code": "code-1", "reason_text": "why", "raw_sha256": f"{1:064x}",
        "message_id": "<m1@example.vn>", "envelope_from": "s1@example.vn",
        "from_address": "f1@example.vn", "subject": "subject 1", "size": 101,
        "received_at": "2026-03-10T02:00:00+00:00"}
    assert MailLog(app).records() == log.records()  # rebuilt from the log: the same rows


def test_the_mail_log_opens_senders_with_the_keys_of_the_moment(
        app: IntakeApplication, ring: MemoryKeyRing) -> None:
    log = MailLog(app)
    _record(app, 1, "quarantined")
    assert log.records()[0]["from_address"] == "f1@example.vn"
    ring.destroy(MailRecord.key_id(f"{1:064x}"))
    assert log.records()[0]["from_address"] == ERASED
    assert log.records()[0]["envelope_from"] == ERASED


def test_hotline_drafts_follow_calls_until_they_become_requests(
        app: IntakeApplication) -> None:
    calls = HotlineCalls(app)
    app.call_started(call_id="c-1", caller="+84987654321", caller_raw="0987 654 321",
                     at="2026-03-10T09:00:00+07:00", trace=TRACE)
    app.call_started(call_id="c-2", caller="+84912345678", caller_raw="0912345678",
                     at=None, trace=TRACE)
    assert [c.call_id for c in calls.drafts()] == ["c-1", "c-2"]

    app.call_ended(call_id="c-1", caller="+84987654321", caller_raw="0987 654 321",
                   at="2026-03-10T09:05:00+07:00", recording_ref="rec/c-1.mp3", trace=TRACE)
    ended = calls.drafts()[0]
    assert (ended.ended_at, ended.recording_ref) == ("2026-03-10T09:05:00+07:00",
                                                     "rec/c-1.mp3")
    assert app.open_value(ended.caller) == "+84987654321"

    accepted = app.receive(NewRequest(kind="advice", channel="hotline", description="Hỏi",
                                      customer={"name": "Hoa", "phone": "+84987654321"},
                                      hotline_call_id="c-1"), TRACE)
    assert [c.call_id for c in calls.drafts()] == ["c-2"]
    assert HotlineCalls(app).drafts() == calls.drafts()  # rebuilt from the log

    # a later call from the same number links to the open request: never a draft
    linked = app.call_started(call_id="c-3", caller="+84987654321", caller_raw="0987654321",
                              at=None, trace=TRACE)
    assert linked.linked_reference == accepted.reference
    assert [c.call_id for c in calls.drafts()] == ["c-2"]

"""Intake's read models answer from their tables as they did from memory: name search needs
every token (any order), newest first and capped, and forgets an erased request; drafts
keep the order calls started; the mail log filters by outcome; a closed case's state moves
only on reopening; staff see the cases that claimed a case from another sender."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest

from hotro.services.intake import search
from hotro.services.intake.application import Accepted, IntakeApplication, NewRequest
from hotro.services.intake.search import SearchIndex
from hotro.services.intake.views import CustomerCases, HotlineCalls, MailLog
from hotro.shared.eventstore.persistence import persistence_env
from hotro.shared.eventstore.trace import Trace
from hotro.shared.privacy.sealing import MemoryKeyRing, is_sealed

TRACE = Trace.system("test").as_dict()


@pytest.fixture
def app() -> IntakeApplication:
    return IntakeApplication(env=persistence_env("memory:", allow_memory=True),
                             clock=lambda: datetime(2026, 3, 10, 2, tzinfo=UTC),
                             keyring=MemoryKeyRing(), hash_secret=b"k" * 32)


def _receive(app: IntakeApplication, name: str, email: str | None = None,
             phone: str | None = None, **extra: Any) -> Accepted:
    customer = {"name": name, **({"email": email} if email else {}),
                **({"phone": phone} if phone else {})}
    return app.receive(NewRequest(kind="advice", channel="web", description="Hỏi",
                                  customer=customer, **extra), TRACE)


def _refs(found: list[dict[str, str]]) -> list[str]:
    return [f["reference"] for f in found]


def test_a_name_search_needs_every_token_in_any_order_newest_first(
        app: IntakeApplication) -> None:
    index = SearchIndex(app)
    binh = _receive(app, "Trần Văn Bình", "binh@example.vn")
    _receive(app, "Trần Thị Hoa")
    le_binh = _receive(app, "Lê Văn Bình")

    assert _refs(index.search("binh TRAN")) == [binh.reference]
    assert _refs(index.search("Văn Bình")) == [le_binh.reference, binh.reference]
    assert index.search("Trần Bình Hoa") == []  # no one holds all three
    assert index.search("binh@example.vn") == [{"id": str(binh.request_id),
                                                "reference": binh.reference}]
    assert index.size() == 3
    assert SearchIndex(app).search("van binh") == index.search("van binh")  # rebuilt


def test_a_search_returns_at_most_max_matches_the_newest(
        app: IntakeApplication, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search, "MAX_MATCHES", 2)
    index = SearchIndex(app)
    received = [_receive(app, "Nguyễn An") for _ in range(3)]
    assert _refs(index.search("an nguyen")) == [received[2].reference,
                                                received[1].reference]


def test_an_erased_request_leaves_the_search_at_once_and_after_a_rebuild(
        app: IntakeApplication) -> None:
    index = SearchIndex(app)
    erased = _receive(app, "Phạm Minh", "minh@example.vn")
    kept = _receive(app, "Phạm Minh")
    assert index.size() == 2

    app.record_erasure(erased.request_id, reason="customer asked", requested_by="dpo",
                       fields=["customer"], trace=TRACE)
    assert _refs(index.search("Minh Phạm")) == [kept.reference]
    assert index.search("minh@example.vn") == []
    assert index.size() == 1
    assert _refs(SearchIndex(app).search("pham minh")) == [kept.reference]


def test_drafts_keep_the_start_order_without_linked_or_converted_calls(
        app: IntakeApplication) -> None:
    calls = HotlineCalls(app)
    for n, phone in enumerate(("+84987654321", "+84912345678", "+84903333333"), 1):
        app.call_started(call_id=f"c-{n}", caller=phone, caller_raw=phone, at=None,
                         trace=TRACE)
    _receive(app, "Hoa", phone="+84912345678", hotline_call_id="c-2")  # converted
    # a later call from that number links to the open request: never a draft
    linked = app.call_started(call_id="c-4", caller="+84912345678", caller_raw="0912345678",
                              at=None, trace=TRACE)
    assert linked.linked_reference is not None
    app.call_started(call_id="c-5", caller="+84911111111", caller_raw="0911111111",
                     at=None, trace=TRACE)

    drafts = calls.drafts()
    assert [c.call_id for c in drafts] == ["c-1", "c-3", "c-5"]
    assert is_sealed(drafts[0].caller) and is_sealed(drafts[0].caller_raw)
    assert app.open_value(drafts[2].caller_raw) == "0911111111"
    assert HotlineCalls(app).drafts() == drafts


def test_the_mail_log_filters_by_outcome_in_recording_order(
        app: IntakeApplication) -> None:
    log = MailLog(app)
    for n, outcome in enumerate(("quarantined", "ignored", "quarantined", "refused"), 1):
        app.record_mail(outcome=outcome, reason_code=f"code-{n}", reason_text="why",
                        raw_sha256=f"{n:064x}", message_id=None,
                        envelope_from=f"s{n}@example.vn", from_address=f"f{n}@example.vn",
                        subject=None, size=n, trace=TRACE)
    quarantined = log.records("quarantined")
    assert [(r["reason_code"], r["from_address"]) for r in quarantined] == [
        ("code-1", "f1@example.vn"), ("code-3", "f3@example.vn")]
    assert [r["reason_code"] for r in log.records("refused")] == ["code-4"]
    assert log.records("delivered") == []
    assert [r["outcome"] for r in log.records()] == [
        "quarantined", "ignored", "quarantined", "refused"]


def _progress(app: IntakeApplication, request_id: uuid.UUID, step: str,
              **extra: Any) -> None:
    request = app.progress(request_id, step, at="2026-03-10T09:00:00+07:00", trace=TRACE,
                           **extra)
    assert request is not None
    app.save(request)


def test_a_closed_case_changes_state_only_when_reopened(app: IntakeApplication) -> None:
    cases = CustomerCases(app)
    accepted = _receive(app, "Đỗ Lan")
    rid = accepted.request_id
    _progress(app, rid, "info_requested", items=["invoice"], due_date="2026-03-20")
    case = cases.case(str(rid))
    assert case is not None
    assert (case.state, case.asked_items, case.info_due) == (
        "awaiting_information", ["invoice"], date(2026, 3, 20))
    assert case.received_on == date(2026, 3, 10)
    case.asked_items.append("changed by the caller")  # a copy: the model is unchanged

    closed = app.close_request(rid, reason="done", trace=TRACE)
    assert closed is not None
    app.save(closed)
    app.provide_info(rid, channel="web", content="hoá đơn", items=["invoice"], trace=TRACE)
    _progress(app, rid, "answered")
    app.revoke_capabilities(rid, reason="leaked link", trace=TRACE)
    case = cases.case(rid)
    assert case is not None
    assert (case.state, case.asked_items, case.generation) == ("closed", ["invoice"], 1)

    reopened = app.reopen_request(rid, reason="customer called", trace=TRACE)
    assert reopened is not None
    app.save(reopened)
    assert cases.generation(str(rid)) == 1
    _progress(app, rid, "answered")
    assert cases.case(rid) == CustomerCases(app).case(rid)  # rebuilt from the log
    answered = cases.case(rid)
    assert answered is not None and answered.state == "answered"
    assert cases.case("not-a-uuid") is None
    assert cases.generation(str(uuid.uuid4())) is None


def test_claimed_by_lists_the_cases_that_claimed_one_from_another_sender(
        app: IntakeApplication) -> None:
    cases = CustomerCases(app)
    first = _receive(app, "Vũ Hải", "hai@example.vn")
    claimed = {"request_id": str(first.request_id), "reference": first.reference,
               "via": "in_reply_to", "reason": "sender differs"}
    later = [_receive(app, "Vũ Hải", f"other{n}@example.vn", flags=("sender_mismatch",),
                      claimed=claimed) for n in range(2)]
    assert cases.claimed_by(first.request_id) == [
        {"request_id": str(c.request_id), "reference": c.reference,
         "reason": "sender differs", "via": "in_reply_to"} for c in later]
    assert cases.claimed_by(later[0].request_id) == []
    state = cases.case(first.request_id)
    assert state is not None and state.state == "received"  # the claimed case is unchanged

"""sla moves a reply deadline (DeadlineReplanned: a newer holiday notice, or a paused clock
counting again): a customer already told a reply date hears the new one, once per move, in
their language and by their way; an acknowledgement not sent yet promises the new date; a
move back to the date they were told tells nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from hotro.services.notify.adapters.channels import template_context
from hotro.services.notify.adapters.rendering import CompanyInfo, render
from hotro.services.notify.application import NotifyApplication
from hotro.services.notify.domain import Acknowledgement, Dispatch
from hotro.services.routing.domain.workflow import Action
from hotro.services.sla.domain.clock import PausePolicy
from hotro.shared.contracts import events
from hotro.shared.contracts.envelope import Envelope
from tests.unit.audit.world import World, world
from tests.unit.notify.wire import (
    RECEIVED_AT,
    REFERENCE,
    REPLY_LAST_DAY,
    acknowledged,
    dispatches,
    envelope,
    memory_app,
    received,
    reply_deadline_set,
    reply_requested,
)


def replanned(complaint_id: uuid.UUID, last_day: date, previous: date,
              clock: str = "reply") -> Envelope:
    return envelope("sla", events.DeadlineReplanned(
        reference=REFERENCE, clock=clock, last_day=last_day,
        due_at=datetime.combine(last_day, datetime.min.time(), UTC),
        calendar_version="vn-2026.3", previous_last_day=previous,
        reason="calendar vn-2026.2 replaced by vn-2026.3"), complaint_id)


def moved(app: NotifyApplication, cid: uuid.UUID) -> list[Dispatch]:
    return [d for d in dispatches(app) if d.complaint_id == cid
            and d.purpose == "reply_date_moved"]


def _acknowledgement(app: NotifyApplication, cid: uuid.UUID) -> Acknowledgement:
    found: Acknowledgement = app.repository.get(Acknowledgement.create_id(cid))
    return found


def test_a_customer_told_a_reply_date_hears_the_new_one_once_per_move() -> None:
    app = memory_app()
    cid = uuid.uuid4()
    acknowledged(app, cid)
    app.handle(replanned(cid, date(2026, 3, 20), REPLY_LAST_DAY))
    [first] = moved(app, cid)
    assert first.method == "email" and first.language == "vi"
    assert first.context["new_reply_deadline"] == "2026-03-20"
    assert first.context["previous_reply_deadline"] == REPLY_LAST_DAY.isoformat()
    app.handle(replanned(cid, date(2026, 3, 23), date(2026, 3, 20)))
    second = [d for d in moved(app, cid) if d.id != first.id]
    assert [d.context["new_reply_deadline"] for d in second] == ["2026-03-23"]
    assert second[0].context["previous_reply_deadline"] == "2026-03-20"
    assert _acknowledgement(app, cid).told_last_day == "2026-03-23"


def test_a_move_back_to_the_date_the_customer_was_told_tells_nothing() -> None:
    app = memory_app()
    cid = uuid.uuid4()
    acknowledged(app, cid)
    app.handle(replanned(cid, REPLY_LAST_DAY, date(2026, 3, 18)))  # sla's view differed
    assert moved(app, cid) == []
    app.handle(replanned(cid, date(2026, 3, 20), REPLY_LAST_DAY))
    app.handle(replanned(cid, REPLY_LAST_DAY, date(2026, 3, 20)))  # back again: told
    assert [d.context["new_reply_deadline"] for d in moved(app, cid)] == \
        ["2026-03-20", REPLY_LAST_DAY.isoformat()]


def test_an_acknowledgement_not_sent_yet_promises_the_moved_date() -> None:
    app = memory_app()
    cid = uuid.uuid4()
    app.handle(reply_deadline_set(cid))  # sla first; intake's receipt not here yet
    app.handle(replanned(cid, date(2026, 3, 20), REPLY_LAST_DAY))
    app.handle(received(cid))
    [ack] = [d for d in dispatches(app) if d.purpose == "acknowledgement"]
    assert ack.context["reply_deadline"] == "2026-03-20"
    assert moved(app, cid) == []


def test_other_clocks_and_unknown_complaints_are_ignored() -> None:
    app = memory_app()
    cid, stranger = uuid.uuid4(), uuid.uuid4()
    acknowledged(app, cid)
    app.handle(replanned(cid, date(2026, 3, 20), REPLY_LAST_DAY, clock="first_contact"))
    app.handle(replanned(stranger, date(2026, 3, 20), REPLY_LAST_DAY))
    assert moved(app, cid) == [] and moved(app, stranger) == []
    assert [d for d in dispatches(app) if d.complaint_id == stranger] == []


def test_sms_and_letter_customers_hear_it_their_way() -> None:
    app = memory_app()
    by_sms, by_letter = uuid.uuid4(), uuid.uuid4()
    acknowledged(app, by_sms, channel="hotline", email=None)
    acknowledged(app, by_letter, channel="counter", email=None, phone=None)
    for cid in (by_sms, by_letter):
        app.handle(replanned(cid, date(2026, 3, 20), REPLY_LAST_DAY))
    assert [d.method for d in moved(app, by_sms)] == ["sms"]
    assert [d.method for d in moved(app, by_letter)] == ["letter"]


def _paused_world() -> World:
    w = world()
    w.apps["sla"].pause_policy = PausePolicy(frozenset({"reply"}))
    return w


def test_a_reply_clock_paused_for_the_customers_information_tells_the_later_date() -> None:
    """End to end through the four applications: the reply clock waits while the customer
    is asked for information; when it counts again sla moves its date and the customer,
    who was acknowledged with the first date, hears the new one."""
    w = _paused_world()
    cid = w.submit(language="en")
    notify = w.apps["notify"]
    [ack] = [d for d in dispatches(notify) if d.complaint_id == cid
             and d.purpose == "acknowledgement"]
    told = ack.context["reply_deadline"]
    w.act(cid, Action.REQUEST_INFO, items=["hoa-don"], due_date=date(2026, 3, 9))
    w.advance(days=4)
    w.act(cid, Action.RECORD_INFO_PROVIDED, items=["hoa-don"], channel="email",
          note="Hóa đơn")
    reply = next(c for c in w.apps["sla"].clocks_of(cid) if c.kind == "reply")
    assert reply.last_day > told
    [notice] = moved(notify, cid)
    assert notice.context["new_reply_deadline"] == reply.last_day
    assert notice.context["previous_reply_deadline"] == told
    assert notice.status == "sent"
    context = {**template_context(notice.context), "customer_name": "Ánh"}  # sealed
    text = render("reply_date_moved", "en", context, CompanyInfo(), method="email").text
    last = reply.last_day
    assert f"no later than {last[8:10]}/{last[5:7]}/{last[:4]}" in text
    assert f"{told[8:10]}/{told[5:7]}/{told[:4]}" in text


def reopened(complaint_id: uuid.UUID) -> Envelope:
    return envelope("routing", events.ComplaintReopened(reference=REFERENCE,
                                                       reason="customer disagrees"),
                    complaint_id, actor="staff-1")


def reply_recorded(complaint_id: uuid.UUID) -> Envelope:
    """routing's ReplySent of a reply staff gave by phone and recorded there."""
    return envelope("routing", events.ReplySent(
        reference=REFERENCE, purpose="reply", method="phone", sent_at=RECEIVED_AT,
        proof="gọi lúc 10:15"), complaint_id, actor="staff-1")


def refused(complaint_id: uuid.UUID) -> Envelope:
    return envelope("routing", events.ComplaintRefused(
        reference=REFERENCE, reason="not_eligible", explanation="hết bảo hành"),
        complaint_id, actor="staff-1")


def test_a_date_moved_after_the_answer_is_on_its_way_tells_nothing() -> None:
    """sla still counts until it hears the answer was sent; a move it makes meanwhile (a
    newer holiday notice) would reach the customer after, or with, the answer."""
    app = memory_app()
    by_email, by_phone, by_refusal = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for cid in (by_email, by_phone, by_refusal):
        acknowledged(app, cid)
    app.handle(reply_requested(by_email, "email"))
    app.handle(reply_recorded(by_phone))
    app.handle(refused(by_refusal))
    for cid in (by_email, by_phone, by_refusal):
        app.handle(replanned(cid, date(2026, 3, 20), REPLY_LAST_DAY))
        assert moved(app, cid) == []
        assert _acknowledgement(app, cid).told_last_day == REPLY_LAST_DAY.isoformat()


def test_a_reply_requested_twice_is_one_answer() -> None:
    app = memory_app()
    cid = uuid.uuid4()
    acknowledged(app, cid)
    app.handle(reply_requested(cid, "email"))
    version = _acknowledgement(app, cid).version
    app.handle(reply_requested(cid, "letter"))  # the email failed: staff send a letter
    assert _acknowledgement(app, cid).version == version


def test_after_a_reopen_the_customer_hears_moves_again_until_answered_again() -> None:
    app = memory_app()
    cid = uuid.uuid4()
    acknowledged(app, cid)
    app.handle(reply_requested(cid, "email"))
    app.handle(reopened(cid))
    app.handle(reply_deadline_set(cid, date(2026, 3, 26)))  # the reopen's reply clock
    app.handle(replanned(cid, date(2026, 3, 27), date(2026, 3, 26)))
    assert [d.context["previous_reply_deadline"] for d in moved(app, cid)] == ["2026-03-26"]
    app.handle(reply_requested(cid, "email"))
    app.handle(replanned(cid, date(2026, 3, 30), date(2026, 3, 27)))
    assert [d.context["new_reply_deadline"] for d in moved(app, cid)] == ["2026-03-27"]


def test_an_answer_to_a_complaint_notify_never_acknowledged_records_nothing() -> None:
    app = memory_app()
    cid = uuid.uuid4()
    app.handle(reply_recorded(cid))  # received before acknowledgements were kept
    assert [d for d in dispatches(app) if d.complaint_id == cid] == []
    app.handle(replanned(cid, date(2026, 3, 20), REPLY_LAST_DAY))
    assert moved(app, cid) == []

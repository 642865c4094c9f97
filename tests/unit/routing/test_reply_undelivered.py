"""A reply that did not reach the customer does not finish step 3. notify gave up on it
(NotificationFailed) or it came back (intake's DeliveryBounced, matched to the reply's
Message-ID): the reply is due again, a case closed on that reply is reopened (so sla
starts a reply clock and the customer's page shows it open), and staff may send it again
another way. Bounces and failures of other messages stay notes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hotro.audit.replay import compare, routing_rows_from_aggregates
from hotro.services.routing.application import RoutingApplication
from hotro.services.routing.domain.case import Case
from hotro.services.routing.domain.workflow import Action, State
from hotro.services.routing.views import CaseQueues
from hotro.shared.contracts import events as wire
from tests.unit.routing.app_builders import Feeder, routing_app, stored_event_names, wire_events
from tests.unit.routing.builders import at, trace

SUPPORT = trace("nv.lan", role="support")
REPLY_ID = "<3f1c0b9e-reply@vhv.vn>"


class Replying:
    """A case resolved by support whose reply was requested by email."""

    def __init__(self, *, auto_close: bool = True) -> None:
        self.app: RoutingApplication = routing_app()
        self.app.auto_close_after_reply = auto_close
        self.feed = Feeder(self.app)
        self.cid = self.feed.received()
        self.reference = self.case.reference
        self.act(Action.RESOLVE, resolution="Đổi máy mới")
        self.act(Action.REQUEST_REPLY, method="email", content="Kính gửi quý khách: đổi máy")

    @property
    def case(self) -> Case:
        return self.app.get_case(self.cid)

    def act(self, action: Action, *, role: str = "support", **arguments: object) -> None:
        self.app.act(self.cid, action, role=role, actor_department=None,
                     trace=trace("nv.lan" if role == "support" else "gs.ha", role=role),
                     **arguments)

    def sent(self, proof: str = REPLY_ID, purpose: str = "reply") -> None:
        self.feed.send("notify", wire.ReplySent(reference=self.reference, purpose=purpose,
                                                method="email", sent_at=at(1), proof=proof),
                       self.cid)

    def failed(self, purpose: str = "reply", method: str = "email") -> None:
        self.feed.send("notify", wire.NotificationFailed(
            reference=self.reference, purpose=purpose, method=method, attempts=5,
            reason="SMTP 550: mailbox unavailable"), self.cid)

    def bounced(self, message_id: str = REPLY_ID) -> None:
        self.feed.send("intake", wire.DeliveryBounced(
            reference=self.reference, message_id=message_id,
            reason="550 5.1.1 user unknown"), self.cid)

    def published(self, event_type: str) -> list[dict[str, object]]:
        return [e.payload for e in wire_events(self.app) if e.event_type == event_type]


@pytest.fixture
def replying() -> Iterator[Replying]:
    yield Replying()


def test_a_reply_notify_gave_up_on_is_due_again_and_can_be_sent_another_way(
        replying: Replying) -> None:
    replying.failed()
    case = replying.case
    assert case.state is State.REPLY_DUE
    assert case.reply_undelivered is not None
    assert case.reply_undelivered["method"] == "email"
    assert "SMTP 550" in case.reply_undelivered["reason"]
    assert case.can(Action.REQUEST_REPLY) and case.can(Action.RECORD_REPLY_SENT)
    assert stored_event_names(replying.app)[-1] == "ReplyUndelivered"

    replying.act(Action.REQUEST_REPLY, method="letter", content="Kính gửi quý khách: đổi máy")
    case = replying.case
    assert case.reply_undelivered is None
    assert not case.can(Action.REQUEST_REPLY)  # one request at a time
    assert [p["method"] for p in replying.published("ReplyRequested")] == ["email", "letter"]


def test_a_failure_reported_twice_is_recorded_once(replying: Replying) -> None:
    replying.failed()
    replying.failed()
    assert stored_event_names(replying.app).count("ReplyUndelivered") == 1
    assert "failed after 5 attempt(s)" in replying.case.notes[-1]["text"]


def test_a_reply_that_bounced_after_closing_reopens_the_case_as_reply_due(
        replying: Replying) -> None:
    replying.sent()
    assert replying.case.state is State.CLOSED
    replying.bounced()
    case = replying.case
    assert case.state is State.REPLY_DUE
    assert case.reply_sent is None and case.outcome is None and case.ended_at is None
    assert case.reopen_count == 1
    assert case.reply_undelivered is not None and case.reply_undelivered["proof"] == REPLY_ID
    assert stored_event_names(replying.app)[-2:] == ["Reopened", "ReplyUndelivered"]
    # sla starts a reply clock again, intake reopens the customer's page
    [reopened] = replying.published("ComplaintReopened")
    assert reopened["reason"] == "the reply by email did not reach the customer"
    assert case.can(Action.REQUEST_REPLY)
    # rebuilt from its events alone
    assert replying.app.repository.get(case.id).state is State.REPLY_DUE


def test_a_bounced_reply_puts_the_queue_row_back_to_reply_due(replying: Replying) -> None:
    queues = CaseQueues(replying.app)
    try:
        replying.sent()
        queues.refresh()
        replying.bounced()
        queues.refresh()
        [row] = queues.list()
        assert row["state"] == "reply_due" and row["reply_undelivered"] is True
        assert queues.page(offset=0, limit=10, reply_undelivered=True)[0] == 1
        replying.act(Action.REQUEST_REPLY, method="letter", content="Kính gửi quý khách")
        assert queues.page(offset=0, limit=10, reply_undelivered=True)[0] == 0
        assert queues.page(offset=0, limit=10, reply_undelivered=False)[0] == 1
        assert compare({r["complaint_id"]: r for r in queues.list()},
                       routing_rows_from_aggregates(replying.app), "aggregates") == []
    finally:
        queues.close()


@pytest.mark.parametrize("returned", [" <3f1c0b9e-reply@\r\n vhv.vn> ",
                                      "<3f1c0b9e-reply@VHV.vn>"])
def test_a_folded_or_capitalised_message_id_still_names_the_reply(
        replying: Replying, returned: str) -> None:
    replying.sent()
    replying.bounced(returned)
    assert replying.case.state is State.REPLY_DUE


def test_a_bounce_of_another_message_is_a_note_and_the_case_stays_closed(
        replying: Replying) -> None:
    replying.sent()
    replying.bounced("<ack-1@vhv.vn>")
    case = replying.case
    assert case.state is State.CLOSED
    assert "<ack-1@vhv.vn> bounced" in case.notes[-1]["text"]
    assert replying.published("ComplaintReopened") == []


def test_a_second_bounce_of_the_reply_does_not_reopen_again(replying: Replying) -> None:
    replying.sent()
    replying.bounced()
    replying.bounced()
    assert replying.case.reopen_count == 1
    assert len(replying.published("ComplaintReopened")) == 1


def test_other_deliveries_that_failed_stay_notes(replying: Replying) -> None:
    replying.failed(purpose="info_request")
    case = replying.case
    assert case.reply_undelivered is None
    assert "delivery of info_request by email failed" in case.notes[-1]["text"]


def test_a_replied_case_not_yet_closed_is_reopened_to_reply_due_too() -> None:
    replying = Replying(auto_close=False)
    replying.sent()
    assert replying.case.state is State.REPLIED
    replying.bounced()
    case = replying.case
    assert case.state is State.REPLY_DUE
    assert case.reopen_count == 1  # so sla counts a reply clock again
    assert len(replying.published("ComplaintReopened")) == 1


def test_a_supervisors_forced_close_stands_after_a_bounce() -> None:
    replying = Replying(auto_close=False)
    replying.sent()
    replying.act(Action.FORCE_CLOSE, role="supervisor", reason="khách đã nhận tại cửa hàng")
    replying.bounced()
    case = replying.case
    assert case.state is State.CLOSED
    assert "bounced" in case.notes[-1]["text"]


def test_a_reply_given_by_phone_after_a_bounce_ends_the_step(replying: Replying) -> None:
    replying.sent()
    replying.bounced()
    replying.act(Action.RECORD_REPLY_SENT, method="phone", proof="call-9912",
                 sent_at=at(2), summary="Đã gọi điện báo đổi máy")
    case = replying.case
    assert case.state is State.REPLIED
    assert case.reply_undelivered is None
    assert case.reply_sent is not None and case.reply_sent["proof"] == "call-9912"


def test_a_bounce_matches_only_an_email_reply() -> None:
    replying = Replying(auto_close=False)
    replying.act(Action.RECORD_REPLY_SENT, method="letter", proof=REPLY_ID, sent_at=at(2),
                 summary="gửi thư")
    replying.bounced()
    assert replying.case.state is State.REPLIED


def test_a_case_stored_before_undelivered_replies_existed_loads_without_the_field() -> None:
    case = Replying().case
    del case.__dict__["reply_undelivered"]
    assert case.reply_undelivered is None
    assert not case.can(Action.REQUEST_REPLY)


def test_a_bounce_heard_before_the_replys_delivery_still_makes_it_undelivered(
        replying: Replying) -> None:
    """notify's report held up (its relay down after sending), intake's bounce first: the
    bounce is kept, and the delivery reported later does not close the case."""
    replying.bounced(REPLY_ID.upper())
    assert replying.case.state is State.REPLY_DUE
    assert "bounced" in replying.case.notes[-1]["text"]
    replying.sent()
    case = replying.case
    assert case.state is State.REPLY_DUE and case.outcome is None
    assert case.reply_undelivered is not None
    assert "bounced before its delivery was reported" in case.reply_undelivered["reason"]
    assert stored_event_names(replying.app)[-4:] == ["BounceNoted", "ReplySent", "Reopened",
                                                     "ReplyUndelivered"]
    assert len(replying.published("ComplaintReopened")) == 1


def test_an_earlier_bounce_of_another_message_does_not_hold_the_reply(
        replying: Replying) -> None:
    replying.bounced("<ack-1@vhv.vn>")
    replying.sent()
    assert replying.case.state is State.CLOSED

"""intake's WithdrawalRequested (the customer withdrew on their page): routing withdraws
the case while it is open, with the customer as its actor and their reason, and publishes
ComplaintClosed ("withdrawn: …"); a case that ended meanwhile stays as it is."""

from __future__ import annotations

from hotro.services.routing.domain.workflow import State
from hotro.shared.contracts import events as wire
from tests.unit.routing.app_builders import (
    Feeder,
    routing_app,
    stored_event_names,
    wire_events,
)


def test_an_open_case_is_withdrawn_by_the_customer() -> None:
    app = routing_app()
    feed = Feeder(app)
    cid = feed.received()
    reference = app.get_case(cid).reference
    assert feed.send("intake", wire.WithdrawalRequested(reference=reference,
                                                        reason="Đã tự sửa được"), cid)
    case = app.get_case(cid)
    assert case.state is State.WITHDRAWN
    assert case.timeline[-1]["actor_kind"] == "customer"
    closed = [e for e in wire_events(app) if e.event_type == "ComplaintClosed"]
    assert [e.payload["reason"] for e in closed] == ["withdrawn: Đã tự sửa được"]


def test_a_withdrawal_after_the_case_ended_changes_nothing() -> None:
    app = routing_app()
    feed = Feeder(app)
    cid = feed.received()
    reference = app.get_case(cid).reference
    feed.send("intake", wire.WithdrawalRequested(reference=reference, reason=""), cid)
    before = stored_event_names(app)
    assert before[-1] == "Withdrawn"
    feed.send("intake", wire.WithdrawalRequested(reference=reference, reason="again"), cid)
    assert stored_event_names(app) == before
    assert app.get_case(cid).state is State.WITHDRAWN

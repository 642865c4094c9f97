"""The acknowledgement promises the reply date sla computed — sla alone owns it (its
deadline policy, calendar version, category) — whichever of intake's ComplaintReceived and
sla's reply DeadlineSet reaches notify first, exactly once."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from hotro.services.notify.adapters.channels import Channels
from hotro.services.notify.adapters.letter_pdf import LetterStore
from hotro.services.notify.adapters.rendering import CompanyInfo
from hotro.services.notify.adapters.sms import RecordingShortMessageGateway
from hotro.services.notify.application import NotifyApplication
from hotro.services.notify.domain import Acknowledgement, Dispatch, DispatchError
from hotro.services.routing.domain.workflow import Action
from hotro.services.sla.main import build_application as build_sla
from hotro.services.sla.settings import SlaSettings
from hotro.shared.calendar import load_calendar
from hotro.shared.contracts.envelope import Envelope
from hotro.shared.eventstore.persistence import persistence_env
from hotro.shared.eventstore.trace import sample_trace
from tests.unit.audit.world import world
from tests.unit.notify.test_application import Outbox
from tests.unit.notify.wire import dispatches, received, wire_events

#: Thursday 08/01/2026, 09:00 in Hà Nội: calendar vn-2026.1 and the newest one disagree on
#: the third working day after it (the Friday 2/1 ↔ Saturday 10/1 swap came later).
RECEIVED_AT = datetime(2026, 1, 8, 2, 0, tzinfo=UTC)
CALENDAR = "vn-2026.1"
POLICY = """
format_version = 1
[defaults.filing]
working_days = 7
basis = "test"
[defaults.reply]
working_days = 3
basis = "test: a short reply deadline"
[defaults.first_contact]
working_days = 2
basis = "test"
[defaults.department]
working_days = 5
basis = "test"
[defaults.customer_info]
working_days = 5
basis = "test"
"""


def _sla_deadlines(tmp_path: Path, complaint: Envelope) -> dict[str, Envelope]:
    """sla, configured with its own policy file and an older calendar, reacts to the
    complaint: its DeadlineSet envelopes by clock."""
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY, encoding="utf-8")
    sla = build_sla(SlaSettings(nats_url="nats://127.0.0.1:4222", store_url="memory:",
                                allow_memory_store=True, deadline_policy_file=str(policy),
                                calendar_version=CALENDAR))
    assert sla.handle(complaint)
    return {e.payload["clock"]: e for e in sla.envelopes() if e.event_type == "DeadlineSet"}


def _channels(outbox: Outbox, tmp_path: Path) -> Channels:
    return Channels(email=outbox, sms=RecordingShortMessageGateway(),
                    letters=LetterStore(tmp_path / "letters"), company=CompanyInfo(),
                    clock=lambda: RECEIVED_AT)


def _acknowledgements(app: NotifyApplication) -> list[Dispatch]:
    return [d for d in dispatches(app) if d.purpose == "acknowledgement"]


@pytest.mark.parametrize("order", ["received first", "deadline first"])
def test_the_acknowledgement_promises_slas_reply_date_in_either_order(
        order: str, tmp_path: Path) -> None:
    complaint_id = uuid.uuid4()
    complaint = received(complaint_id, received_at=RECEIVED_AT)
    deadlines = _sla_deadlines(tmp_path, complaint)
    last_day = date.fromisoformat(deadlines["reply"].payload["last_day"])
    # sla's configuration decides the date, not the packaged policy and newest calendar
    assert last_day == date(2026, 1, 13)
    assert last_day != load_calendar(None).add_working_days(RECEIVED_AT, 3).last_day
    assert last_day != load_calendar(None).add_working_days(RECEIVED_AT, 10).last_day

    # SQLite, as in production: events of one producer applied out of their log order
    app = NotifyApplication(env=persistence_env(f"sqlite:///{tmp_path / 'notify.sqlite'}"))
    first, then = ((complaint, deadlines["reply"]) if order == "received first"
                   else (deadlines["reply"], complaint))
    assert app.handle(deadlines["first_contact"])  # another clock: not the promised date
    assert app.handle(first)
    assert _acknowledgements(app) == []  # half known: nothing to send yet
    assert app.handle(then)
    [ack] = _acknowledgements(app)
    assert ack.context["reply_deadline"] == last_day.isoformat()
    assert ack.trace["correlation_id"] == str(complaint.correlation_id)

    # both events again (redelivered, or announced again under new ids): still one
    assert not app.handle(first) and not app.handle(then)
    again = deadlines["reply"].model_copy(update={"event_id": uuid.uuid4(),
                                                  "notification_id": 10_000})
    assert app.handle(again)
    assert app.handle(received(complaint_id, received_at=RECEIVED_AT))
    assert _acknowledgements(app) == [ack]

    outbox = Outbox()
    assert app.attempt(ack.id, _channels(outbox, tmp_path)) == "sent"
    [email] = outbox.sent
    assert f"chậm nhất ngày {last_day:%d/%m/%Y}" in email.text
    assert [e.event_type for e in wire_events(app)] == ["AcknowledgementSent"]


def _sent(notify: NotifyApplication, complaint_id: uuid.UUID) -> dict[str, list[Dispatch]]:
    out: dict[str, list[Dispatch]] = {}
    for d in dispatches(notify):
        if d.complaint_id == complaint_id:
            out.setdefault(d.purpose, []).append(d)
    return out


def test_a_late_filing_is_acknowledged_as_under_review_then_accepted_with_a_reply_date(
) -> None:
    w = world()
    complaint_id = w.submit(incident_date=date(2026, 1, 2))  # two months before T0
    notify, sla = w.apps["notify"], w.apps["sla"]
    sent = _sent(notify, complaint_id)
    assert set(sent) == {"acknowledgement"}  # no refusal without a supervisor
    [ack] = sent["acknowledgement"]
    assert ack.status == "sent" and ack.context["under_review"]
    assert ack.context["reply_deadline"] is None
    assert not [c for c in sla.clocks_of(complaint_id) if c.kind == "reply"]

    w.advance(days=2)
    w.act(complaint_id, Action.ACCEPT_LATE_FILING, "demo.supervisor", "supervisor",
          waiver_reason="khách nằm viện, có giấy ra viện")
    [reply_clock] = [c for c in sla.clocks_of(complaint_id) if c.kind == "reply"]
    assert reply_clock.start == "2026-03-04"  # from the decision, not the receipt
    sent = _sent(notify, complaint_id)
    [accepted] = sent["filing_accepted"]
    assert accepted.status == "sent"
    assert accepted.context["reply_deadline"] == reply_clock.last_day
    assert "reopened" not in sent  # the first reply clock is not a reopen


def test_a_late_filing_refused_by_a_supervisor_tells_the_rule_and_the_last_day() -> None:
    w = world()
    complaint_id = w.submit(incident_date=date(2026, 1, 2))
    w.act(complaint_id, Action.REFUSE_LATE_FILING, "demo.supervisor", "supervisor")
    [refusal] = _sent(w.apps["notify"], complaint_id)["refusal"]
    assert refusal.status == "sent"
    assert refusal.context["reason"] == "late_filing"
    assert "7 ngày làm việc" in refusal.context["detail"]
    assert refusal.context["filing_deadline"] == "2026-01-12"


def test_a_follow_up_to_a_closed_case_alerts_its_owner_and_tells_the_customer() -> None:
    w = world()
    complaint_id = w.submit()
    w.act(complaint_id, Action.RESOLVE, resolution="Đổi tủ lạnh mới")
    w.act(complaint_id, Action.REQUEST_REPLY, method="email", content="Chúng tôi sẽ đổi máy.")
    assert w.apps["routing"].get_case(complaint_id).state.value == "closed"  # on delivery
    intake = w.apps["intake"]
    intake.provide_info(complaint_id, channel="web", content="Tủ lạnh lại hỏng", items=[],
                        trace=w.staff("web", "customer"))
    w.pump.settle()
    sent = _sent(w.apps["notify"], complaint_id)
    [alert] = sent["alert_follow_up"]
    assert alert.internal and alert.recipient == "demo.support@vhv.vn"  # who replied
    assert alert.context["excerpt"] == "Tủ lạnh lại hỏng"
    [told] = sent["follow_up_received"]
    assert told.status == "sent" and not told.internal
    assert w.apps["routing"].get_case(complaint_id).follow_up_pending


def test_acknowledgement_guards() -> None:
    trace = sample_trace()
    ack = Acknowledgement(complaint_id=uuid.uuid4(), trace=trace)
    with pytest.raises(DispatchError):
        ack.dispatch_requested(dispatch_id=uuid.uuid4(), trace=trace)
    ack.note_reply_deadline(last_day="2026-03-19", due_at="2026-03-19T17:00:00+00:00",
                            calendar_version="vn-2026.2", trace=trace)
    assert not ack.is_due
    with pytest.raises(DispatchError):
        ack.note_reply_deadline(last_day="2026-03-20", due_at="2026-03-20T17:00:00+00:00",
                                calendar_version="vn-2026.2", trace=trace)
    ack.note_receipt(reference="KN-2026-000123", kind="complaint",
                     received_at="2026-03-05T02:30:00+00:00", filed_late=False, trace=trace)
    assert ack.is_due and ack.context(customer_name=None)["reply_deadline"] == "2026-03-19"
    with pytest.raises(DispatchError):
        ack.note_receipt(reference="KN-2026-000123", kind="complaint",
                         received_at="2026-03-05T02:30:00+00:00", filed_late=False,
                         trace=trace)
    ack.dispatch_requested(dispatch_id=uuid.uuid4(), trace=trace)
    assert not ack.is_due
    with pytest.raises(DispatchError):
        ack.dispatch_requested(dispatch_id=uuid.uuid4(), trace=trace)

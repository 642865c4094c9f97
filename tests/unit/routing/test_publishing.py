"""What routing publishes is built from each stored event alone; events stored before
published events named their case still publish the same, by reading the case."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent

from hotro.services.routing.application import RoutingApplication
from hotro.services.routing.domain.workflow import Action, State
from hotro.shared.eventstore.persistence import persistence_env
from tests.unit.routing.app_builders import CATALOGUE, TRIAGE, Feeder, routing_app
from tests.unit.routing.builders import at, day, trace

SUPPORT = trace("nv.lan", role="support")
#: A routing store written by an earlier version (tests/fixtures/legacy_layout).
LEGACY_STORE = Path(__file__).parents[2] / "fixtures" / "legacy_layout" / "routing.sqlite"
PUBLISHED = ["ComplaintRefused", "LateFilingAccepted", "InfoRequested", "InfoProvided",
             "ReferredToDepartment", "DepartmentResponded", "ReplyRequested", "ReplySent",
             "ComplaintClosed", "ComplaintReopened", "ComplaintClosed"]


def busy_log(app: RoutingApplication) -> uuid.UUID:
    """A late filing refused and one accepted after review, and one case through every
    published kind of event."""
    feed = Feeder(app)
    for decision in (Action.REFUSE_LATE_FILING, Action.ACCEPT_LATE_FILING):
        late = feed.received(filed_late=True, filing_deadline=day(-3))
        app.act(late, decision, role="supervisor", actor_department=None,
                trace=trace("gs.1", "supervisor"),
                **({"waiver_reason": "ốm"} if decision is Action.ACCEPT_LATE_FILING else {}))
    cid = feed.received()

    def act(action: Action, role: str = "support", member_of: str | None = None,
            **arguments: Any) -> None:
        app.act(cid, action, role=role, actor_department=member_of,
                trace=trace(f"{role}.1", role, "department" if member_of else "staff"),
                **arguments)

    act(Action.REQUEST_INFO, items=["hoa-don"], due_date=day(5))
    act(Action.RECORD_INFO_PROVIDED, items=["hoa-don"], channel="counter", note="Hóa đơn")
    act(Action.REFER, department="ky-thuat-bao-hanh", question="Lỗi máy nén?")
    act(Action.RECORD_DEPARTMENT_RESPONSE, "department", "ky-thuat-bao-hanh",
        result="Thay máy nén")
    act(Action.REQUEST_REPLY, method="email", content="Kính gửi quý khách")
    act(Action.RECORD_REPLY_SENT, method="phone", proof="call-1", sent_at=at(hours=1),
        summary="Đã gọi")
    act(Action.CLOSE, reason="Xong")
    act(Action.REOPEN, "supervisor", reason="Khách chưa nhận")
    act(Action.WITHDRAW, reason="Khách rút")
    return cid


def test_a_new_event_is_published_without_reading_the_case(
        monkeypatch: pytest.MonkeyPatch) -> None:
    app = routing_app()
    cid = busy_log(app)

    def no_reads(*args: object, **kwargs: object) -> None:
        raise AssertionError("the case was read to publish an event")

    monkeypatch.setattr(app.repository, "get", no_reads)
    envelopes = list(app.envelopes())
    assert [e.event_type for e in envelopes] == PUBLISHED
    mine = [e for e in envelopes if e.complaint_id == cid]
    assert {e.payload["reference"] for e in mine} == {f"KN-2025-{cid.int % 1_000_000:06d}"}
    assert mine[-1].payload["reason"] == "withdrawn: Khách rút"


def test_events_stored_before_they_named_the_case_replay_and_publish_the_same() -> None:
    app = routing_app()
    cid = busy_log(app)
    old_style = routing_app()
    old_style.recorder.insert_events([_without_names(app, stored) for stored in
                                      app.recorder.select_notifications(
                                          start=0, limit=1000, inclusive_of_start=False)])

    events = [old_style.mapper.to_domain_event(n) for n in old_style.recorder.
              select_notifications(start=0, limit=1000, inclusive_of_start=False)]
    assert not any("reference" in vars(e) or "complaint_id" in vars(e)
                   for e in events if type(e).__name__ != "Opened")
    assert old_style.get_case(cid).state is State.WITHDRAWN
    assert [e.model_dump() for e in old_style.envelopes()] == \
        [e.model_dump() for e in app.envelopes()]


def test_a_store_written_by_an_earlier_version_still_publishes(tmp_path: Path) -> None:
    shutil.copy(LEGACY_STORE, tmp_path / "routing.sqlite")
    app = RoutingApplication(env=persistence_env(f"sqlite:///{tmp_path / 'routing.sqlite'}"),
                             catalogue=CATALOGUE, triage=TRIAGE)
    envelopes = list(app.envelopes())
    assert len({e.event_type for e in envelopes}) >= 5
    for envelope in envelopes:
        assert envelope.payload["reference"] == app.get_case(envelope.complaint_id).reference


def _without_names(app: RoutingApplication, stored: StoredEvent) -> StoredEvent:
    """``stored`` as it was written before published events named their case."""
    transcoder = app.mapper.transcoder
    state = transcoder.decode(stored.state)
    if not stored.topic.endswith(".Opened"):
        state.pop("complaint_id", None)
        state.pop("reference", None)
    return StoredEvent(originator_id=stored.originator_id,
                       originator_version=stored.originator_version,
                       topic=stored.topic, state=transcoder.encode(state))

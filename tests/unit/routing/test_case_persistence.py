"""Cases survive storage: every event serialises, under its pinned topic."""

from __future__ import annotations

import uuid

from eventsourcing.application import Application

from hotro.services.routing.domain.case import Case
from hotro.services.routing.domain.triage import TriageDecision
from tests.unit.routing.builders import at, day, open_case, trace

SUPPORT = trace("nv.lan", role="support")


def busy_case() -> Case:
    """A case that has been through every kind of event."""
    case = open_case()
    case.apply_triage(TriageDecision(rule_id="r", outcome="refer", department="giao-van",
                                     checklist=("ma-don-hang",), explanation="e"),
                      trace=SUPPORT, now=at(hours=1))
    case.start_analysis(trace=SUPPORT, now=at(hours=2))
    case.request_info(items=["ma-don-hang"], due_date=day(3), trace=SUPPORT, now=at(hours=3))
    case.record_info_provided(items=["ma-don-hang"], channel="web",
                              attachments=[{"sha256": "a" * 64, "filename": "don.pdf",
                                            "content_type": "application/pdf", "size": 3}],
                              trace=SUPPORT, now=at(1))
    case.refer(department="giao-van", question="?", internal_due=day(4), trace=SUPPORT,
               now=at(1, hours=1))
    case.record_department_response(department="giao-van", result="Giao lại", trace=SUPPORT,
                                    now=at(2))
    case.request_reply(method="email", content="Kính gửi", trace=SUPPORT, now=at(2))
    case.record_reply_sent(method="email", proof="<m@vhv.vn>", sent_at=at(2, hours=1),
                           trace=SUPPORT, now=at(2, hours=1))
    case.close(reason="Xong", trace=SUPPORT, now=at(3))
    case.reopen(reason="Chưa nhận", within_days=30, trace=SUPPORT, now=at(4))
    case.add_note(text="Gọi lại khách", trace=SUPPORT, now=at(4))
    case.refuse(reason="not_eligible", explanation="Không phải khách hàng", trace=SUPPORT,
                now=at(5))
    return case


def test_case_round_trips_through_an_application() -> None:
    app: Application[uuid.UUID] = Application(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    case = busy_case()
    app.save(case)

    stored: Case = app.repository.get(case.id)

    assert stored == case
    assert stored.timeline == case.timeline
    assert app.repository.get(case.id, version=3).state == "analysing"


def test_withdrawn_and_force_closed_cases_round_trip() -> None:
    app: Application[uuid.UUID] = Application(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    withdrawn, forced = open_case(), open_case()
    withdrawn.withdraw(reason="Thôi", trace=SUPPORT, now=at(1))
    forced.force_close(reason="Trùng", trace=SUPPORT, now=at(1))
    app.save(withdrawn, forced)
    assert app.repository.get(withdrawn.id) == withdrawn
    assert app.repository.get(forced.id) == forced


def test_stored_events_carry_pinned_topics_and_the_trace() -> None:
    app: Application[uuid.UUID] = Application(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    case = busy_case()
    app.save(case)
    topics = [stored.topic for stored in app.recorder.select_events(case.id)]
    assert all(topic.startswith("hotro.routing:Case.") for topic in topics), topics
    assert topics[0] == "hotro.routing:Case.Opened"
    first = next(iter(app.events.get(case.id)))
    assert first.originator_topic == "hotro.routing:Case"  # type: ignore[attr-defined]
    assert all(event.trace["actor_id"] for event in app.events.get(case.id))  # type: ignore[attr-defined]

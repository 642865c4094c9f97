"""The incident date an email complaint lacked, given later (intake's IncidentDateGiven):
filed late and no way forward chosen yet, the case goes under filing review
(``LateFilingFound``, published); decided, replied or ended cases keep their course and
only record the date; in time, only the date is recorded; a second date changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from hotro.services.routing.domain.case import Case
from hotro.services.routing.domain.workflow import State
from hotro.shared.contracts import events as wire
from tests.unit.routing.app_builders import Feeder, routing_app, wire_events
from tests.unit.routing.builders import at, day, event_names, open_case, state_of, trace

SYSTEM = trace("routing", role=None, kind="system")
INCIDENT, DEADLINE = date(2025, 2, 3), date(2025, 2, 12)


def _undated() -> Case:
    return open_case(channel="email", incident_date=None, filing_deadline=None)


def _give(case: Case, *, late: bool = True) -> bool:
    return case.record_incident_date(incident_date=INCIDENT, filing_deadline=DEADLINE,
                                     filed_late=late, trace=SYSTEM, now=at(1))


def _analysing(case: Case) -> None:
    case.start_analysis(trace=trace(), now=at(0, 1))


def _awaiting_info(case: Case) -> None:
    _analysing(case)
    case.request_info(items=["ngay-su-co"], due_date=day(5), trace=trace(), now=at(0, 2))


@pytest.mark.parametrize("step", [lambda c: None, _analysing, _awaiting_info],
                         ids=["new", "analysing", "awaiting_customer_info"])
def test_a_late_date_before_any_decision_opens_the_filing_review(
        step: Callable[[Case], None]) -> None:
    case = _undated()
    step(case)
    assert _give(case)
    assert state_of(case) is State.AWAITING_FILING_REVIEW
    assert event_names(case)[-1] == "LateFilingFound"
    assert (case.incident_date, case.filing_deadline, case.filed_late) == (
        INCIDENT.isoformat(), DEADLINE.isoformat(), True)
    # then exactly as a late filing at receipt: the supervisor accepts (or refuses)
    case.accept_late_filing(waiver_reason="Khách ở xa", trace=trace(role="supervisor"),
                            now=at(2))
    assert state_of(case) is State.ANALYSING
    assert case.filing_review is not None and case.filing_review["decision"] == "accepted"


def _resolved(case: Case) -> None:
    _analysing(case)
    case.resolve(resolution="Đổi hàng", trace=trace(), now=at(0, 3))


def _referred(case: Case) -> None:
    _analysing(case)
    case.refer(department="ky-thuat", question="Kiểm tra máy", trace=trace(), now=at(0, 3))


def _closed(case: Case) -> None:
    case.force_close(reason="trùng hồ sơ", trace=trace(role="supervisor"), now=at(0, 3))


def _withdrawn(case: Case) -> None:
    case.withdraw(reason="khách rút", trace=trace(), now=at(0, 3))


@pytest.mark.parametrize("step", [_resolved, _referred, _closed, _withdrawn],
                         ids=["resolved", "referred", "closed", "withdrawn"])
def test_a_decided_or_ended_case_keeps_its_course_and_records_the_date(
        step: Callable[[Case], None]) -> None:
    case = _undated()
    step(case)
    before = state_of(case)
    assert _give(case)
    assert state_of(case) is before
    assert event_names(case)[-1] == "IncidentDateRecorded"
    assert (case.incident_date, case.filed_late) == (INCIDENT.isoformat(), True)


def test_a_date_in_time_only_records_it() -> None:
    case = _undated()
    _awaiting_info(case)
    assert _give(case, late=False)
    assert state_of(case) is State.AWAITING_CUSTOMER_INFO
    assert event_names(case)[-1] == "IncidentDateRecorded"
    assert case.filed_late is False


def test_a_case_with_a_date_ignores_another() -> None:
    case = _undated()
    assert _give(case)
    count = len(event_names(case))
    assert not _give(case, late=False)
    assert len(event_names(case)) == count
    dated = open_case()  # dated at receipt (a form field)
    assert not _give(dated)
    assert state_of(dated) is State.NEW


def test_the_application_publishes_the_finding_once() -> None:
    app = routing_app()
    feeder = Feeder(app)
    cid = feeder.received(channel="email", product=None, category=None)
    ref = app.get_case(cid).reference
    given = wire.IncidentDateGiven(reference=ref, incident_date=INCIDENT, filed_late=True,
                                   filing_deadline=DEADLINE, phrase="ngày 03/02/2025")
    feeder.send("intake", given, cid)
    feeder.send("intake", given, cid)  # the same fact again (a redelivery's twin)
    assert app.get_case(cid).state is State.AWAITING_FILING_REVIEW
    found = [e for e in wire_events(app) if e.event_type == "LateFilingFound"]
    assert len(found) == 1
    assert found[0].payload == {"reference": ref, "incident_date": INCIDENT.isoformat(),
                                "filing_deadline": DEADLINE.isoformat()}

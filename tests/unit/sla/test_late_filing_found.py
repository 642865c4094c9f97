"""A late filing found after receipt (routing's LateFilingFound, from the incident date the
customer gave later): the reply clock that ran from receipt and the customer's clock stop,
the first-contact clock is left alone; the supervisor's acceptance starts a new reply clock
(``reply/filing-review``, a ``reply`` clock on the wire) counted from the decision."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from hotro.services.sla.domain.clock import Clock
from hotro.shared.clock import VIETNAM_TZ, SettableClock
from hotro.shared.contracts import events as wire
from tests.unit.sla.builders import envelope, make_app, received, wire_types


def at(d: int, hh: int = 10) -> datetime:
    return datetime(2026, 3, d, hh, 0, tzinfo=VIETNAM_TZ)


def test_the_found_late_filing_stops_the_reply_clock_and_acceptance_starts_a_new_one() -> None:
    clock = SettableClock(at(2, 9))
    app = make_app(clock)
    cid = uuid.uuid4()
    app.handle(envelope(cid, received(clock()), clock()))
    app.handle(envelope(cid, wire.InfoRequested(reference="KN-1", items=("ngay-su-co",),
                                                due_date=date(2026, 3, 9), round=1), at(2, 11)))
    found = wire.LateFilingFound(reference="KN-1", incident_date=date(2026, 2, 9),
                                 filing_deadline=date(2026, 2, 18))
    app.handle(envelope(cid, found, at(3)))
    status = {c.kind: c.status for c in app.clocks_of(cid)}
    assert status["reply"] == "stopped" and status["customer_info/1"] == "stopped"
    assert status["first_contact"] == "met"  # met by the information request, untouched

    accepted = wire.LateFilingAccepted(reference="KN-1", waiver_reason="khách ở xa",
                                       filing_deadline=date(2026, 2, 18))
    app.handle(envelope(cid, accepted, at(5, 15)))
    reply = app.get_clock(Clock.create_id(cid, "reply/filing-review"))
    assert (reply.start, reply.working_days, reply.status) == ("2026-03-05", 10, "running")
    assert app.get_clock(Clock.create_id(cid, "reply")).status == "stopped"
    reply_sets = [p["last_day"] for t, c, p in wire_types(app)
                  if t == "DeadlineSet" and c == "reply"]
    assert reply_sets[-1] == reply.last_day == "2026-03-19"

"""An email complaint's incident date read from its text: recorded with where it came from
and published with the complaint (optional ComplaintReceived fields); a form's date is
marked as the form's; an advice request is never read for one; a date the customer gives
later gets the filing verdict as of the complaint's receipt."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import httpx

from hotro.services.intake.application import IntakeApplication, NewRequest
from hotro.services.intake.application.outbox import to_wire
from hotro.services.intake.domain import Request
from hotro.shared.clock import SettableClock
from hotro.shared.contracts import events as wire
from hotro.shared.eventstore.trace import Trace
from tests.support.staff import auth

CUSTOMER = {"name": "Nguyễn Văn An", "email": "an@example.vn", "phone": None,
            "address": None}


def _published(app: IntakeApplication, new: NewRequest) -> tuple[Request, Any]:
    trace = Trace(actor_kind="customer", actor_id="email",
                  correlation_id=str(uuid.uuid4())).as_dict()
    accepted = app.receive(new, trace)
    [received] = [e for e in app.events.get(accepted.request_id)
                  if isinstance(e, Request.Received)]
    published = to_wire(received)
    assert published is not None
    return app.get_request(accepted.request_id), published.payload


def test_a_date_in_the_text_is_applied_and_published_with_its_phrase(
        application: IntakeApplication, clock: SettableClock) -> None:
    clock.set(datetime(2026, 11, 20, 2, 0, tzinfo=UTC))
    request, payload = _published(application, NewRequest(
        kind="complaint", channel="email", customer=CUSTOMER,
        description="Khiếu nại\n\nngày 12 tháng 11 năm 2026 tivi không lên hình."))
    assert request.details["incident_date"] == "2026-11-12"
    assert request.filed_late is False and request.filing_deadline == "2026-11-23"
    assert isinstance(payload, wire.ComplaintReceivedV2)
    assert (payload.incident_date, payload.incident_date_source,
            payload.incident_date_phrase) == (date(2026, 11, 12), "extracted_from_text",
                                              "ngày 12 tháng 11 năm 2026")


def test_a_forms_date_is_the_forms_and_advice_is_not_read(
        application: IntakeApplication) -> None:
    _, payload = _published(application, NewRequest(
        kind="complaint", channel="web", customer=CUSTOMER, description="hôm qua hỏng",
        incident_date=date(2026, 3, 9)))
    assert (payload.incident_date_source, payload.incident_date_phrase) == ("form", None)
    request, payload = _published(application, NewRequest(
        kind="advice", channel="email", customer=CUSTOMER,
        description="Hỏi về bảo hành, mua ngày 01/03/2026"))
    assert request.details["incident_date"] is None
    assert "incident_date_source" not in request.details
    assert payload.incident_date_source is None


async def test_a_date_given_later_gets_the_filing_verdict_as_of_receipt(
        application: IntakeApplication, clock: SettableClock,
        client: httpx.AsyncClient) -> None:
    clock.set(datetime(2026, 11, 20, 2, 0, tzinfo=UTC))  # Friday 20/11/2026
    undated, _ = _published(application, NewRequest(
        kind="complaint", channel="email", customer=CUSTOMER,
        description="Tủ lạnh không lạnh, mong công ty kiểm tra."))
    assert undated.awaits_incident_date
    clock.set(datetime(2026, 11, 24, 2, 0, tzinfo=UTC))  # the answer comes on Tuesday
    url = f"/api/complaints/{undated.reference}"
    r = await client.post(f"{url}/info", headers=auth(), json={
        "channel": "hotline", "content": "Khách cho biết: ngày 10/11/2026 tủ bắt đầu hỏng.",
        "items": ["ngay-su-co"]})
    assert r.status_code == 202, r.text
    given = (await client.get(url, headers=auth())).json()["incident_date_given"]
    # 7 working days from Tue 10/11 end on Thu 19/11: the complaint of 20/11 was late,
    # whenever the date came
    assert given == {"incident_date": "2026-11-10", "phrase": "ngày 10/11/2026",
                     "rule": "dd/mm/yyyy", "filing_deadline": "2026-11-19",
                     "filed_late": True}
    # read once: a later message with another date changes nothing
    r = await client.post(f"{url}/info", headers=auth(), json={
        "channel": "hotline", "content": "À, là ngày 12/11/2026 mới đúng."})
    assert r.status_code == 202, r.text
    assert [type(e).__name__ for e in application.events.get(undated.id)].count(
        "IncidentDateGiven") == 1
    # published for routing, with the case's reference (IncidentDateGiven v1)
    [stored] = [e for e in application.events.get(undated.id)
                if isinstance(e, Request.IncidentDateGiven)]
    published = to_wire(stored)
    assert published is not None and published.complaint_id == undated.id
    assert published.payload == wire.IncidentDateGiven(
        reference=undated.reference, incident_date=date(2026, 11, 10), filed_late=True,
        filing_deadline=date(2026, 11, 19), phrase="ngày 10/11/2026")


async def test_a_dated_or_web_complaint_is_not_read_again(
        application: IntakeApplication, client: httpx.AsyncClient) -> None:
    request, _ = _published(application, NewRequest(
        kind="complaint", channel="web", customer=CUSTOMER, description="Tủ lạnh hỏng"))
    assert not request.awaits_incident_date
    r = await client.post(f"/api/complaints/{request.reference}/info", headers=auth(),
                          json={"channel": "hotline", "content": "ngày 09/03/2026"})
    assert r.status_code == 202, r.text
    assert (await client.get(f"/api/complaints/{request.reference}", headers=auth())
            ).json()["incident_date_given"] is None

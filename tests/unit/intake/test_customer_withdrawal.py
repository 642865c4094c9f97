"""The customer withdraws their request on their page (their case's link): intake records
that they asked and publishes WithdrawalRequested once; a case that has ended is refused
(409 with its code), nothing stored; after routing closes it as withdrawn the page says
so; a reopened case may be withdrawn again."""

from __future__ import annotations

import httpx

from hotro.services.intake.application import IntakeApplication
from hotro.shared.clock import SettableClock
from hotro.shared.contracts import events as wire
from hotro.shared.staff.signing import KeyRing

from .conftest import link_for
from .test_customer_access import _case
from .upstream import deliver


def _asked(application: IntakeApplication, complaint_id: str) -> list[str]:
    return [e.payload["reason"] for e in application.envelopes()
            if e.event_type == "WithdrawalRequested" and str(e.complaint_id) == complaint_id]


async def test_the_customer_withdraws_once_and_the_page_says_so(
        client: httpx.AsyncClient, capability_keys: KeyRing, clock: SettableClock,
        application: IntakeApplication) -> None:
    case = await _case(client)
    link = link_for(capability_keys, clock, case["id"], case["reference"])
    assert (await client.post("/api/customer/case/withdraw", json={})).status_code == 401

    r = await client.post("/api/customer/case/withdraw",
                          json={"reason": "  Tôi đã tự sửa được máy.  "}, headers=link)
    assert r.status_code == 202, r.text
    assert r.json() == {"reference": case["reference"], "withdrawal": "asked"}
    again = await client.post("/api/customer/case/withdraw", json={}, headers=link)
    assert again.status_code == 202 and again.json()["withdrawal"] == "already_asked"
    assert _asked(application, case["id"]) == ["Tôi đã tự sửa được máy."]

    deliver(application, clock, "routing", case["id"], wire.ComplaintClosed(
        reference=case["reference"], reason="withdrawn: Tôi đã tự sửa được máy."))
    page = (await client.get("/api/customer/case", headers=link)).json()
    assert page["state"] == "withdrawn"
    assert page["state_vi"] == "Quý khách đã rút yêu cầu"

    stored = application.max_notification_id()
    ended = await client.post("/api/customer/case/withdraw", json={}, headers=link)
    assert ended.status_code == 409, ended.text
    assert ended.json()["code"] == "case_ended"
    assert application.max_notification_id() == stored

    deliver(application, clock, "routing", case["id"], wire.ComplaintReopened(
        reference=case["reference"], reason="khách báo lỗi lại"))
    reopened = await client.post("/api/customer/case/withdraw", json={"reason": "Lần nữa"},
                                 headers=link)
    assert reopened.json()["withdrawal"] == "asked"
    assert _asked(application, case["id"]) == ["Tôi đã tự sửa được máy.", "Lần nữa"]


async def test_a_closed_case_reads_closed_not_withdrawn(
        client: httpx.AsyncClient, capability_keys: KeyRing, clock: SettableClock,
        application: IntakeApplication) -> None:
    case = await _case(client)
    deliver(application, clock, "routing", case["id"], wire.ComplaintClosed(
        reference=case["reference"], reason="withdrawn_by_mistake? no: replied"))
    link = link_for(capability_keys, clock, case["id"], case["reference"])
    assert (await client.get("/api/customer/case", headers=link)).json()["state"] == "closed"
    too_long = await client.post("/api/customer/case/withdraw", json={"reason": "x" * 2001},
                                 headers=link)
    assert too_long.status_code == 422

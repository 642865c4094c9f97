"""Customers reach their case by its link (a capability) only: the bare reference grants
nothing, a link opens one case, a revoked link nothing; staff may act for the customer.
The customer's page: the state in plain words, what is awaited, the reply's last day."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from hotro.services.intake.application import IntakeApplication
from hotro.services.intake.domain import Request
from hotro.shared.clock import SettableClock
from hotro.shared.contracts import events as wire
from hotro.shared.eventstore.trace import Trace
from hotro.shared.staff.signing import KeyRing, new_keyring
from tests.support.staff import auth, staff_id

from .conftest import complaint, link_for
from .upstream import deadline, deliver


async def _case(client: httpx.AsyncClient, **overrides: Any) -> dict[str, str]:
    r = await client.post("/api/complaints", json=complaint(**overrides))
    assert r.status_code == 201, r.text
    created: dict[str, str] = r.json()
    return created


async def _page(client: httpx.AsyncClient, link: dict[str, str]) -> dict[str, Any]:
    """The customer's page as intake's API gives it to the holder of ``link``."""
    r = await client.get("/api/customer/case", headers=link)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _info(content: str = "Tôi gửi hóa đơn mua hàng.", **extra: Any) -> dict[str, Any]:
    return {"content": content, **extra}


async def test_information_needs_the_case_link_or_a_staff_token(
        client: httpx.AsyncClient, capability_keys: KeyRing, clock: SettableClock,
        application: IntakeApplication) -> None:
    victim = await _case(client)
    other = await _case(client, customer={"name": "Lê Văn Cường", "phone": "0987654321"})
    url = f"/api/complaints/{victim['reference']}/info"

    anonymous = await client.post(url, json=_info())
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
    guessed = await client.post(url, json=_info(),
                                headers={"Authorization": "Bearer cap1.forged.token"})
    assert guessed.status_code == 401
    foreign_link = link_for(capability_keys, clock, other["id"], other["reference"])
    foreign = await client.post(url, json=_info(), headers=foreign_link)
    assert foreign.status_code == 403, foreign.text
    assert "another case" in foreign.json()["detail"]
    forged_keys = new_keyring("customer-capability", clock())
    forged = await client.post(url, json=_info(), headers=link_for(
        forged_keys, clock, victim["id"], victim["reference"]))
    assert forged.status_code == 401
    for role in ("department", "auditor"):
        refused = await client.post(url, json=_info(channel="counter"), headers=auth(role))
        assert refused.status_code == 403, (role, refused.text)
    assert application.get_request(application.find(victim["reference"]).id).info == []

    own = link_for(capability_keys, clock, victim["id"], victim["reference"])
    mine = await client.post(url, json=_info(items=["hoa-don"]), headers=own)
    assert mine.status_code == 202, mine.text
    by_id = await client.post(f"/api/complaints/{victim['id']}/info",
                              json=_info("Thêm ảnh chụp."), headers=own)
    assert by_id.status_code == 202, by_id.text
    wrong_channel = await client.post(url, json=_info(channel="counter"), headers=own)
    assert wrong_channel.status_code == 422
    at_counter = await client.post(url, json=_info("Khách mang phiếu bảo hành đến quầy.",
                                                   channel="counter"), headers=auth("agent"))
    assert at_counter.status_code == 202, at_counter.text
    staff_without_channel = await client.post(url, json=_info(), headers=auth("support"))
    assert staff_without_channel.status_code == 422

    request = application.get_request(application.find(victim["reference"]).id)
    assert [(i["channel"], i["items"]) for i in request.info] == [
        ("web", ["hoa-don"]), ("web", []), ("counter", [])]
    traces = [Trace.of(e) for e in application.events.get(request.id)
              if isinstance(e, Request.InfoProvided)]
    assert [(t.actor_kind, t.actor_id) for t in traces] == [
        ("customer", "web-link"), ("customer", "web-link"), ("staff", staff_id("agent"))]


async def test_a_customers_message_on_a_closed_case_is_kept_as_a_follow_up(
        client: httpx.AsyncClient, capability_keys: KeyRing, clock: SettableClock,
        application: IntakeApplication) -> None:
    case = await _case(client)
    deliver(application, clock, "routing", case["id"],
            wire.ComplaintClosed(reference=case["reference"], reason="resolved"))
    stored = application.max_notification_id()
    # staff entering information for a closed case: refused, nothing stored (reopen first)
    r = await client.post(f"/api/complaints/{case['reference']}/info",
                          json=_info(channel="counter"), headers=auth("support"))
    assert r.status_code == 409, r.text
    assert "closed" in r.json()["detail"] and case["reference"] in r.json()["detail"]
    assert r.json()["code"] == "case_closed_for_info"  # the console says it in vi/en
    assert application.max_notification_id() == stored
    # the customer's own message (their link, or their page's form): kept, published
    link = link_for(capability_keys, clock, case["id"], case["reference"])
    r = await client.post(f"/api/complaints/{case['reference']}/info", json=_info(),
                          headers=link)
    assert r.status_code == 202, r.text
    assert r.json()["received_as"] == "follow_up"
    upload = await client.post("/api/customer/case/info", data={"content": "còn đây"},
                               headers=link)
    assert upload.status_code == 202, upload.text
    assert upload.json()["received_as"] == "follow_up"
    published = [e for e in application.envelopes()
                 if e.event_type == "InfoProvided" and str(e.complaint_id) == case["id"]]
    assert [e.payload["content"] for e in published][-1] == "còn đây"

    deliver(application, clock, "routing", case["id"],
            wire.ComplaintReopened(reference=case["reference"], reason="khách khiếu nại lại"))
    again = await client.post(f"/api/complaints/{case['reference']}/info", json=_info(),
                              headers=link_for(capability_keys, clock, case["id"],
                                               case["reference"]))
    assert again.status_code == 202, again.text
    assert again.json()["received_as"] == "information"


async def test_revoking_the_links_of_a_case_is_staff_work_recorded_with_who_and_why(
        client: httpx.AsyncClient, capability_keys: KeyRing, clock: SettableClock,
        application: IntakeApplication) -> None:
    case = await _case(client)
    old_link = link_for(capability_keys, clock, case["id"], case["reference"])
    assert (await client.get("/api/customer/case", headers=old_link)).status_code == 200
    url = f"/api/complaints/{case['reference']}/capabilities/revoke"
    body = {"reason": "khách báo mất điện thoại"}
    assert (await client.post(url, json=body)).status_code == 401
    assert (await client.post(url, json=body, headers=old_link)).status_code == 401
    assert (await client.post(url, json=body, headers=auth("auditor"))).status_code == 403
    assert (await client.post(url, json={"reason": "x\r\nBcc: y"},
                              headers=auth("support"))).status_code == 422

    r = await client.post(url, json=body, headers=auth("support"))
    assert r.status_code == 200, r.text
    assert r.json() == {"reference": case["reference"], "generation": 1}  # never a link

    gone = await client.get("/api/customer/case", headers=old_link)
    assert gone.status_code == 401  # the old generation opens nothing
    assert (await client.post(f"/api/complaints/{case['reference']}/info", json=_info(),
                              headers=old_link)).status_code == 401
    # notify hears of it and sends the customer a link of the new generation
    [reissued] = [e for e in application.envelopes() if e.event_type == "CustomerLinkReissued"]
    assert reissued.payload == {"reference": case["reference"], "generation": 1}
    assert str(reissued.complaint_id) == case["id"]
    fresh = link_for(capability_keys, clock, case["id"], case["reference"], generation=1)
    assert (await client.get("/api/customer/case", headers=fresh)).status_code == 200

    [revoked] = [e for e in application.events.get(application.find(case["id"]).id)
                 if isinstance(e, Request.CapabilityRevoked)]
    assert (revoked.generation, revoked.reason) == (1, "khách báo mất điện thoại")
    assert Trace.of(revoked).actor_id == staff_id("support")
    view = (await client.get(f"/api/complaints/{case['reference']}", headers=auth())).json()
    assert view["capability_generation"] == 1


async def test_the_customer_page_tells_the_state_in_plain_words(
        client: httpx.AsyncClient, capability_keys: KeyRing, clock: SettableClock,
        application: IntakeApplication) -> None:
    case = await _case(client)
    link = link_for(capability_keys, clock, case["id"], case["reference"])
    ref, cid = case["reference"], case["id"]

    first = await _page(client, link)
    assert (first["reference"], first["kind"], first["state"]) == (ref, "complaint",
                                                                    "received")
    assert first["received_on"] == "2026-03-10" and first["reply_due"] is None
    assert (await client.get("/api/customer/case")).status_code == 401

    deliver(application, clock, "sla", cid, deadline(ref, "first_contact", date(2026, 3, 12)))
    # only the reply clock is the customer's
    assert (await _page(client, link))["reply_due"] is None
    deliver(application, clock, "sla", cid, deadline(ref, "reply", date(2026, 3, 24)))
    shown = await _page(client, link)
    assert (shown["state"], shown["reply_due"]) == ("being_analysed", "2026-03-24")
    assert shown["state_vi"] == "Đang xem xét yêu cầu"

    deliver(application, clock, "routing", cid, wire.InfoRequested(
        reference=ref, items=("hoa-don", "anh-san-pham"), due_date=date(2026, 3, 17),
        message="Xin quý khách bổ sung hóa đơn.", round=1))
    waiting = await _page(client, link)
    assert waiting["state"] == "awaiting_information"
    assert waiting["waiting_for"] == {"items": ["hoa-don", "anh-san-pham"],
                                      "due_date": "2026-03-17"}

    sent = await client.post("/api/customer/case/info", headers=link,
                             data={"content": "Hóa đơn và ảnh đây ạ.",
                                   "items": ["hoa-don", "anh-san-pham"]},
                             files=[("files", ("hoa-don.pdf", b"%PDF-1.4 invoice",
                                               "application/pdf")),
                                    ("files", ("anh.jpg", b"\xff\xd8\xff jpeg", "image/jpeg"))])
    assert sent.status_code == 202, sent.text
    after = await _page(client, link)
    assert after["state"] == "being_analysed" and after["waiting_for"] is None
    [info] = after["information_sent"]
    assert info["content"] == "Hóa đơn và ảnh đây ạ."
    assert info["items"] == ["hoa-don", "anh-san-pham"] and info["channel"] == "web"
    assert [(a["filename"], a["size"]) for a in info["attachments"]] == [
        ("hoa-don.pdf", 16), ("anh.jpg", 8)]

    deliver(application, clock, "routing", cid, wire.ReferredToDepartment(
        reference=ref, department="ky-thuat-bao-hanh",
        question="Kiểm tra máy nén (nội bộ)", internal_due=date(2026, 3, 20)))
    referred = await _page(client, link)
    assert referred["state"] == "referred"
    text = str(referred)
    assert "ky-thuat" not in text and "máy nén" not in text  # no department internals
    assert "Trần Văn Bình" not in text and "binh.tran" not in text  # no personal data
    deliver(application, clock, "routing", cid, wire.DepartmentResponded(
        reference=ref, department="ky-thuat-bao-hanh", result="Lỗi máy nén"))
    assert (await _page(client, link))["state"] == "being_analysed"
    deliver(application, clock, "notify", cid, wire.ReplySent(
        reference=ref, purpose="reply", method="email", sent_at=clock(), proof="<r1@vhv.vn>"))
    assert (await _page(client, link))["state"] == "answered"
    deliver(application, clock, "routing", cid, wire.ComplaintClosed(reference=ref,
                                                                     reason="resolved"))
    closed = await _page(client, link)
    assert (closed["state"], closed["state_en"]) == ("closed", "Closed")
    deliver(application, clock, "routing", cid, wire.ComplaintReopened(reference=ref,
                                                                       reason="khách"))
    assert (await _page(client, link))["state"] == "reopened"
    # the staff view says the same
    view = (await client.get(f"/api/complaints/{ref}", headers=auth())).json()
    assert view["customer_state"] == "reopened"


async def test_documents_follow_intake_attachment_limits(
        make_app: Any, capability_keys: KeyRing, clock: SettableClock) -> None:
    app: FastAPI = make_app(email_max_attachment_mb=1, email_max_total_attachments_mb=1)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://intake") as client:
        case = await _case(client)
        link = link_for(capability_keys, clock, case["id"], case["reference"])
        big = b"x" * (1024 * 1024 + 1)
        too_big = await client.post("/api/customer/case/info", headers=link,
                                    data={"content": "ảnh"},
                                    files=[("files", ("a.jpg", big, "image/jpeg"))])
        assert too_big.status_code == 413, too_big.text
        assert (too_big.json()["code"], too_big.json()["params"]) == (
            "file_too_large", {"filename": "a.jpg", "max_mb": "1"})
        both = await client.post("/api/customer/case/info", headers=link,
                                 data={"content": "ảnh"},
                                 files=[("files", (f"{n}.jpg", big[:600_000], "image/jpeg"))
                                        for n in range(2)])
        assert both.status_code == 413, both.text
        assert (both.json()["code"], both.json()["params"]) == ("total_too_large",
                                                                {"max_mb": "1"})
        exe = await client.post("/api/customer/case/info", headers=link,
                                data={"content": "tệp"},
                                files=[("files", ("x.exe", b"MZ", "application/x-msdownload"))])
        assert exe.status_code == 422 and exe.json()["errors"][0]["field"] == "files.0"
        empty = await client.post("/api/customer/case/info", headers=link,
                                  data={"content": "  \n "})
        assert empty.status_code == 422
        sneaky = await client.post("/api/customer/case/info", headers=link,
                                   data={"content": "ok", "items": ["hoa-don\r\nx"]})
        assert sneaky.status_code == 422 and sneaky.json()["errors"][0]["field"] == "items.0"
        only_file = await client.post(
            "/api/customer/case/info", headers=link,
            files=[("files", ("..\\..\\etc/passwd.pdf", b"%PDF", "application/pdf"))])
        assert only_file.status_code == 202, only_file.text
        assert only_file.json()["attachments"] == [
            {"filename": "passwd.pdf", "content_type": "application/pdf", "size": 4}]
        application: IntakeApplication = app.state.runtime.app
        [info] = application.get_request(application.find(case["id"]).id).info
        assert info["attachments"][0]["sha256"]


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
PROGRAM = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64 + b"PE\x00\x00"


async def test_a_customers_file_is_judged_by_its_content_not_its_label(
        make_app: Any, capability_keys: KeyRing, clock: SettableClock) -> None:
    app: FastAPI = make_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://intake") as client:
        case = await _case(client)
        link = link_for(capability_keys, clock, case["id"], case["reference"])
        disguised = await client.post(
            "/api/customer/case/info", headers=link, data={"content": "hoá đơn"},
            files=[("files", ("hoa-don.pdf", PROGRAM, "application/pdf"))])
        assert disguised.status_code == 422, disguised.text
        [error] = disguised.json()["errors"]
        assert error["field"] == "files.0" and error["type"] == "content_not_accepted", error
        double = await client.post(
            "/api/customer/case/info", headers=link, data={"content": "hoá đơn"},
            files=[("files", ("hoa-don.pdf.exe", b"%PDF-1.4", "application/pdf"))])
        assert double.status_code == 422
        assert double.json()["errors"][0]["type"] == "extension_refused"
        relabelled = await client.post(
            "/api/customer/case/info", headers=link, data={"content": "ảnh"},
            files=[("files", ("anh.jpg", PNG, "image/jpeg"))])
        assert relabelled.status_code == 202, relabelled.text
        assert relabelled.json()["attachments"][0]["content_type"] == "image/png"


@pytest.mark.parametrize("path", ["/api/customer/case"])
async def test_a_link_for_a_case_intake_does_not_hold_opens_nothing(
        client: httpx.AsyncClient, capability_keys: KeyRing, clock: SettableClock,
        path: str) -> None:
    r = await client.get(path, headers=link_for(
        capability_keys, clock, "5f0c4b4e-4a55-4c1e-9a43-6f1e7d9d0c11", "KN-2026-000999"))
    assert r.status_code == 401


async def test_the_customer_page_shows_our_written_answers_even_one_that_bounced(
        client: httpx.AsyncClient, capability_keys: KeyRing, clock: SettableClock,
        application: IntakeApplication) -> None:
    """The words of each reply routing asked to deliver, oldest first: an emailed reply
    that bounced stays readable on the page. A call's words were written for staff: the
    page says an answer was given, not what the script said."""
    case = await _case(client)
    other = await _case(client, customer={"name": "Lê Văn Cường", "phone": "0987654321"})
    link = link_for(capability_keys, clock, case["id"], case["reference"])
    ref, cid = case["reference"], case["id"]

    async def replies() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = (await _page(client, link))["replies"]
        return found

    assert await replies() == []
    deliver(application, clock, "routing", cid, wire.ReplyRequested(
        reference=ref, method="phone", content="Gọi khách, hẹn kỹ thuật viên (nội bộ)"))
    deliver(application, clock, "routing", other["id"], wire.ReplyRequested(
        reference=other["reference"], method="email", content="Thư của khách khác"))
    [spoken] = await replies()
    assert (spoken["method"], spoken["purpose"], spoken["content"]) == ("phone", "reply",
                                                                        None)
    deliver(application, clock, "routing", cid, wire.ReplyRequested(
        reference=ref, method="email", content="Quý khách được đổi máy mới.\nTrân trọng."))
    deliver(application, clock, "routing", cid, wire.ComplaintReopened(
        reference=ref, reason="the reply bounced"))  # routing's way after a bounce
    deliver(application, clock, "routing", cid, wire.ReplyRequested(
        reference=ref, method="letter", content="Quý khách được đổi máy mới.", language="vi"))
    shown = await replies()
    assert [(r["method"], r["content"]) for r in shown] == [
        ("phone", None), ("email", "Quý khách được đổi máy mới.\nTrân trọng."),
        ("letter", "Quý khách được đổi máy mới.")]
    assert "Thư của khách khác" not in str(shown)
    deliver(application, clock, "routing", cid, wire.ReplyRequested(
        reference=ref, purpose="refusal", method="email", language="en",
        content="We cannot accept this request."))
    refusal = (await replies())[-1]
    assert (refusal["purpose"], refusal["language"]) == ("refusal", "en")
    notes = [e for e in application.events.get(application.find(ref).id)
             if isinstance(e, Request.ReplyNoted)]
    assert len(notes) == 4  # one per reply asked for, kept in intake's own log


async def test_the_customer_page_says_why_we_refused_until_the_case_is_reopened(
        client: httpx.AsyncClient, capability_keys: KeyRing, clock: SettableClock,
        application: IntakeApplication) -> None:
    case = await _case(client)
    link = link_for(capability_keys, clock, case["id"], case["reference"])
    ref, cid = case["reference"], case["id"]

    assert (await _page(client, link))["refusal"] is None
    deliver(application, clock, "routing", cid, wire.ComplaintRefused(
        reference=ref, reason="late_filing", filing_deadline=date(2026, 3, 9),
        explanation="Thời hạn khiếu nại là 7 ngày làm việc.\nKhách gọi lại sau."))
    refused = await _page(client, link)
    assert refused["state"] == "closed"
    assert refused["refusal"]["reason"] == "late_filing"
    assert refused["refusal"]["filing_deadline"] == "2026-03-09"
    assert refused["refusal"]["explanation"].endswith("Khách gọi lại sau.")
    assert application.get_request(application.find(ref).id).closed  # as before
    deliver(application, clock, "routing", cid, wire.ComplaintReopened(
        reference=ref, reason="giám sát chấp nhận ngoại lệ"))
    reopened = await _page(client, link)
    assert reopened["state"] == "reopened" and reopened["refusal"] is None

"""The console against the four services in-process: sign-in, intake to receipt, the
queue and the case page with its actions, the department's answer, a reply by phone and
by letter, the supervisor's reopening and the auditor's time travel."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI

from hotro.shared.eventstore.trace import sample_trace
from tests.integration.console.conftest import ConsoleSystem
from tests.support.console import counter_intake, csrf_of, customer_link_token, signed_in
from tests.support.waiting import eventually


async def _case_url(client: httpx.AsyncClient, reference: str) -> str:
    page = await client.get(f"/queue?q={reference}")
    assert page.status_code == 303, page.text[:2000]
    return str(page.headers["location"])


async def _wait_for(client: httpx.AsyncClient, url: str, text: str) -> str:
    async def shown() -> str | None:
        r = await client.get(url)
        return r.text if r.status_code == 200 and text in r.text else None

    return await eventually(shown, timeout=30, message=f"{text!r} on {url}")


async def _act(client: httpx.AsyncClient, url: str, action: str, **fields: str) -> None:
    token = await csrf_of(client, url)
    r = await client.post(f"{url}/act/{action}", data={"csrf_token": token, **fields})
    assert r.status_code == 303, r.text[:3000]


async def act_retrying(client: httpx.AsyncClient, url: str, action: str,
                       **fields: str) -> None:
    """``action`` on the case, tried again while routing answers 409: it may be noting
    sla's deadline on the same case at that instant (a concurrent change)."""
    async def once() -> bool | None:
        r = await client.post(f"{url}/act/{action}", data={
            "csrf_token": await csrf_of(client, url), **fields})
        assert r.status_code in (303, 409), r.text[:2000]
        return True if r.status_code == 303 else None

    await eventually(once, timeout=30, message=f"{action} recorded")


async def case_to_refer(console: FastAPI, **customer: str) -> tuple[httpx.AsyncClient, str, str]:
    """Support signed in, a counter complaint ready to be referred: (support's client, its
    reference, its page)."""
    support = await signed_in(console, "support")
    reference = await counter_intake(support, **customer)
    url = await _case_url(support, reference)
    await _wait_for(support, url, "(c) Chuyển bộ phận liên quan")
    return support, reference, url


async def phone_reply_awaiting_outcome(agent: httpx.AsyncClient) -> tuple[str, str, str]:
    """A counter complaint resolved at once, a reply by phone asked for: (its reference,
    the case's page, the address of the form that records the call's outcome)."""
    reference = await counter_intake(agent)
    url = await _case_url(agent, reference)
    await _wait_for(agent, url, "(b) Hỗ trợ giải quyết ngay")
    await _act(agent, url, "resolve", resolution="Đổi tủ lạnh mới tại cửa hàng")
    await _act(agent, url, "request_reply", method="phone",
               content="Gọi khách hẹn đổi tủ lạnh")
    page = await _wait_for(agent, url, "Ghi nhận kết quả cuộc gọi")
    dispatch = re.search(r"/deliveries/([0-9a-f-]{36})/outcome", page)
    assert dispatch, page[-4000:]
    return reference, url, f"{url}/deliveries/{dispatch.group(1)}/outcome"


async def test_branch_b_resolved_and_replied_by_phone(console_system: ConsoleSystem) -> None:
    agent = await signed_in(console_system.console, "agent")
    _reference, url, outcome = await phone_reply_awaiting_outcome(agent)
    assert "Nguyễn Văn Bình" in (await agent.get(url)).text  # the customer, for the agent
    token = await csrf_of(agent, url)
    r = await agent.post(outcome, data={"csrf_token": token, "summary": "Khách đồng ý đổi máy",
                                        "proof": "CALL-123"})
    assert r.status_code == 303, r.text[:2000]
    await _wait_for(agent, url, "Đã đóng")  # replied, then closed automatically


async def test_branch_c_department_answers_in_its_queue(console_system: ConsoleSystem
                                                        ) -> None:
    support, reference, url = await case_to_refer(console_system.console)
    await act_retrying(support, url, "refer", department="ky-thuat-bao-hanh",
                       question="Kiểm tra lỗi máy nén")
    department = await signed_in(console_system.console, "department")
    queue = await _wait_for(department, "/department", reference)
    assert "Nguyễn Văn Bình" not in queue  # no personal data for a department
    case = await department.get(url)
    assert case.status_code == 200
    assert "Nguyễn Văn Bình" not in case.text
    await _act(department, url, "record_department_response",
               result="Máy nén hỏng, thay mới miễn phí")
    page = await _wait_for(support, url, "Bộ phận đã có kết quả")
    assert "Máy nén hỏng" in page
    await _act(support, url, "request_reply", method="letter",
               content="Chúng tôi sẽ thay máy nén miễn phí.")
    page = await _wait_for(support, url, "Ghi mã bưu gửi của thư")
    letter = re.search(r"/cases/[0-9a-f-]{36}/letters/([0-9a-f-]{36})\.pdf", page)
    assert letter, page[-4000:]
    pdf = await support.get(letter.group(0))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    dispatch = letter.group(1)
    token = await csrf_of(support, url)
    r = await support.post(f"{url}/deliveries/{dispatch}/tracking",
                           data={"csrf_token": token, "tracking_number": "EE123456789VN",
                                 "carrier": "VNPost"})
    assert r.status_code == 303, r.text[:2000]
    await _wait_for(support, url, "Đã đóng")

    # the supervisor reopens it; the auditor sees the state before and after
    supervisor = await signed_in(console_system.console, "supervisor")
    before_reopen = datetime.now(UTC).isoformat()
    await _act(supervisor, url, "reopen", reason="Khách báo máy vẫn lỗi")
    await _wait_for(supervisor, url, "Đang phân tích")
    auditor = await signed_in(console_system.console, "auditor")
    now = await auditor.get(f"/audit?reference={reference}")
    assert now.status_code == 200 and "Reopened" in now.text
    then = await auditor.get("/audit", params={"reference": reference,
                                               "as_of": before_reopen})
    assert then.status_code == 200
    shown = re.sub(r"\s+", " ", then.text.split('id="h-then"')[1])
    assert "Reopened" not in shown and "Đã đóng" in shown, shown
    export = await auditor.get(f"/audit?reference={reference}&fmt=json")
    assert export.json()["reference"] == reference


async def test_roles_and_forms_are_guarded(console_system: ConsoleSystem) -> None:
    console = console_system.console
    anonymous = httpx.AsyncClient(transport=httpx.ASGITransport(app=console),
                                  base_url="http://console")
    r = await anonymous.get("/queue")
    assert r.status_code == 303 and r.headers["location"].startswith("/sign-in?next=")
    department = await signed_in(console, "department")
    assert (await department.get("/queue")).status_code == 403
    assert (await department.get("/intake")).status_code == 403
    agent = await signed_in(console, "agent")
    r = await agent.post("/intake", data={"name": "x", "description": "y"})
    assert r.status_code == 403  # no CSRF token
    token = await csrf_of(agent, "/intake")
    r = await agent.post("/sign-out", data={"csrf_token": token})
    assert r.status_code == 303
    assert (await agent.get("/queue")).status_code == 303  # the session is gone


async def test_validation_beside_fields_and_filing_preview(console_system: ConsoleSystem
                                                           ) -> None:
    agent = await signed_in(console_system.console, "agent")
    token = await csrf_of(agent, "/intake")
    r = await agent.post("/intake", data={"csrf_token": token, "kind": "complaint",
                                          "channel": "hotline", "name": "Lê Thị C",
                                          "phone": "12", "description": "Hỏng"})
    assert r.status_code == 200 and "PHIẾU TIẾP NHẬN" not in r.text
    assert 'id="err-customer-phone"' in r.text and 'aria-invalid="true"' in r.text
    r = await agent.post("/intake/check", data={"kind": "complaint", "channel": "counter",
                                                "incident_date": "2020-01-02"},
                         headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and "Quá thời hạn" in r.text
    r = await agent.post("/intake/check", data={"kind": "complaint", "channel": "hotline",
                                                "category": "hoan-tien"},
                         headers={"X-CSRF-Token": token})
    assert "tại quầy" in r.text  # refunds must be made at the counter


async def test_public_form_files_a_web_complaint(console_system: ConsoleSystem) -> None:
    browser = httpx.AsyncClient(transport=httpx.ASGITransport(app=console_system.console),
                                base_url="http://console")
    page = await browser.get("/complaint")
    token = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert token
    r = await browser.post("/complaint", data={
        "form_token": token.group(1), "kind": "advice", "name": "Phạm D",
        "email": "d@example.com", "description": "Tư vấn trả góp"})
    assert r.status_code == 200, r.text[:2000]
    assert re.search(r"TV-\d{4}-\d{6}", r.text)
    r = await browser.post("/complaint", data={"kind": "advice", "name": "x",
                                               "description": "y"})
    assert r.status_code == 403


async def test_branch_a_customer_answers_on_their_page(console_system: ConsoleSystem
                                                       ) -> None:
    agent = await signed_in(console_system.console, "agent")
    reference = await counter_intake(agent, email="binh@example.com")
    url = await _case_url(agent, reference)
    await _wait_for(agent, url, "(a) Yêu cầu khách hàng bổ sung thông tin")
    await _act(agent, url, "request_info", items="hoa-don", due_date="2026-12-31",
               message="Vui lòng gửi hóa đơn")
    complaint_id = url.rsplit("/", 1)[1]
    token = customer_link_token(console_system.capability_keys, complaint_id, reference)
    customer = httpx.AsyncClient(transport=httpx.ASGITransport(app=console_system.console),
                                 base_url="http://console")

    async def waiting() -> str | None:
        page = await customer.get(f"/c/{token}")
        return page.text if "Đang chờ quý khách bổ sung thông tin" in page.text else None

    page = await eventually(waiting, timeout=30, message="the customer's page")
    assert "Hóa đơn mua hàng" in page and page.count(reference) >= 1
    form_token = re.search(r'name="form_token" value="([^"]+)"', page)
    assert form_token
    r = await customer.post(f"/c/{token}", data={"form_token": form_token.group(1),
                                                 "content": "Gửi hóa đơn số 123",
                                                 "items": "hoa-don"},
                            files={"files": ("hoa-don.pdf", b"%PDF-1.4 test",
                                             "application/pdf")})
    assert r.status_code == 303, r.text[:3000]
    page = (await customer.get(r.headers["location"])).text
    assert "chúng tôi đã nhận được thông tin" in page and "hoa-don.pdf" in page
    page = await _wait_for(agent, url, "Gửi hóa đơn số 123")
    document = re.search(r'href="(/cases/[0-9a-f-]{36}/attachments/[0-9a-f]{64})"', page)
    assert document, page[-3000:]
    pdf = await agent.get(document.group(1))
    assert pdf.status_code == 200 and pdf.content == b"%PDF-1.4 test"
    assert "attachment" in pdf.headers["content-disposition"]
    bad = await customer.get("/c/cap1.not-a-real-token.x")
    assert bad.status_code == 404 and "không còn hiệu lực" in bad.text


async def test_a_disabled_user_loses_the_console_at_once(console_system: ConsoleSystem
                                                         ) -> None:
    import asyncio

    from hotro.shared.staff.users import read_users, write_users

    support = await signed_in(console_system.console, "support")
    assert (await support.get("/queue")).status_code == 200
    users = [u.model_copy(update={"disabled": u.id == "test.support"})
             for u in read_users(console_system.users)]
    write_users(console_system.users, users)
    await asyncio.sleep(2.2)  # the users file is checked for changes every 2 s
    r = await support.get("/queue")
    assert r.status_code == 303 and r.headers["location"].startswith("/sign-in")


async def test_english_switch(console_system: ConsoleSystem) -> None:
    support = await signed_in(console_system.console, "support")
    assert "Hàng đợi hồ sơ" in (await support.get("/queue")).text
    r = await support.get("/lang/en", params={"next": "/queue"})
    assert r.status_code == 303 and r.headers["location"] == "/queue"
    page = await support.get("/queue")
    assert "Case queue" in page.text and '<html lang="en">' in page.text
    r = await support.get("/lang/vi", params={"next": "https://evil.example/"})
    assert r.headers["location"] == "/"


async def _customer_page_section(system: ConsoleSystem, complaint_id: str, reference: str,
                                 section: str) -> tuple[httpx.AsyncClient, str, str]:
    """(the customer's client, their link, the section ``section`` of their page) once
    that section shows."""
    customer = httpx.AsyncClient(transport=httpx.ASGITransport(app=system.console),
                                 base_url="http://console")
    link = customer_link_token(system.capability_keys, complaint_id, reference)

    async def shown() -> str | None:
        page = (await customer.get(f"/c/{link}")).text
        found = re.search(rf'<section[^>]*id="{section}".*?</section>', page, re.S)
        return found.group(0) if found else None

    found = await eventually(shown, timeout=30, message=f"#{section} on the customer's page")
    return customer, link, found


async def _late_counter_complaint(console: FastAPI
                                  ) -> tuple[httpx.AsyncClient, str, str, str]:
    """An agent files at the counter a complaint about an incident years ago: (the agent's
    client, the receipt slip, its reference, the case's page)."""
    agent = await signed_in(console, "agent")
    token = await csrf_of(agent, "/intake")
    slip = await agent.post("/intake", data={
        "csrf_token": token, "kind": "complaint", "channel": "counter",
        "name": "Vũ Thị Hạnh", "phone": "0903111222", "product": "gia-dung",
        "incident_date": "2020-01-02", "description": "Nồi cơm điện hỏng"})
    found = re.search(r"KN-\d{4}-\d{6}", slip.text)
    assert found, slip.text[:3000]
    return agent, slip.text, found.group(0), await _case_url(agent, found.group(0))


async def test_supervisor_reviews_a_late_filing_from_the_dashboard(
        console_system: ConsoleSystem) -> None:
    agent, slip, reference, url = await _late_counter_complaint(console_system.console)
    assert "PHIẾU TIẾP NHẬN" in slip, slip[:3000]
    # the slip promises a review, not a reply within 10 working days
    assert "sẽ được giám sát viên xem xét" in slip
    assert "trả lời trong vòng 10 ngày" not in slip
    page = await _wait_for(agent, url, "Gửi quá hạn, chờ giám sát xem xét")
    assert "Chấp nhận ngoại lệ (gửi quá hạn)" not in page  # not the agent's decision
    supervisor = await signed_in(console_system.console, "supervisor")
    dashboard = await _wait_for(supervisor, "/supervisor", reference)
    reviews = dashboard.split('id="h-reviews"')[1].split("</section>")[0]
    assert reference in reviews
    page = (await supervisor.get(url)).text
    assert "Chấp nhận ngoại lệ (gửi quá hạn)" in page and "Từ chối vì gửi quá hạn" in page
    await _act(supervisor, url, "accept_late_filing",
               waiver_reason="Khách nằm viện, có giấy ra viện")
    page = await _wait_for(supervisor, url, "Đang phân tích")
    assert "Khách nằm viện, có giấy ra viện" in page  # the decision, on the case page
    dashboard = (await supervisor.get("/supervisor")).text
    assert reference not in dashboard.split('id="h-reviews"')[1].split("</section>")[0]


async def test_a_refused_late_filing_is_explained_on_the_customers_page(
        console_system: ConsoleSystem) -> None:
    _agent, _slip, reference, url = await _late_counter_complaint(console_system.console)
    supervisor = await signed_in(console_system.console, "supervisor")
    await _wait_for(supervisor, url, "Từ chối vì gửi quá hạn")
    await act_retrying(supervisor, url, "refuse_late_filing",
                       note="Quý khách có thể gọi hotline để được tư vấn thêm.")
    customer, link, refusal = await _customer_page_section(
        console_system, url.rstrip("/").rsplit("/", 1)[-1], reference, "refusal")
    assert "sau thời hạn khiếu nại, đã kết thúc ngày" in refusal
    assert "Quý khách có thể gọi hotline để được tư vấn thêm." in refusal
    switched = await customer.get("/lang/en", params={"next": f"/c/{link}"})
    assert switched.status_code == 303
    english = (await customer.get(f"/c/{link}")).text
    assert "Notice of refusal" in english and "which ended on" in english


async def test_a_follow_up_on_a_closed_case_reaches_the_supervisor(
        console_system: ConsoleSystem) -> None:
    support = await signed_in(console_system.console, "support")
    reference = await counter_intake(support, email="binh@example.com")
    url = await _case_url(support, reference)
    await _wait_for(support, url, "(b) Hỗ trợ giải quyết ngay")
    await _act(support, url, "resolve", resolution="Đổi tủ lạnh mới")
    await _act(support, url, "record_reply_sent", method="phone", summary="Đã gọi khách")
    await _wait_for(support, url, "Đóng hồ sơ")
    await _act(support, url, "close", reason="Khách đồng ý")
    await _wait_for(support, url, "Đã đóng")
    complaint_id = url.rsplit("/", 1)[1]
    token = customer_link_token(console_system.capability_keys, complaint_id, reference)
    customer = httpx.AsyncClient(transport=httpx.ASGITransport(app=console_system.console),
                                 base_url="http://console")

    async def closed_page() -> str | None:
        page = await customer.get(f"/c/{token}")
        return page.text if "Hồ sơ đã kết thúc" in page.text else None

    page = await eventually(closed_page, timeout=30, message="the closed case's page")
    form_token = re.search(r'name="form_token" value="([^"]+)"', page)
    assert form_token, "a closed case still takes the customer's message"
    r = await customer.post(f"/c/{token}", data={"form_token": form_token.group(1),
                                                 "content": "Tủ lạnh mới cũng không lạnh"})
    assert r.status_code == 303, r.text[:3000]

    supervisor = await signed_in(console_system.console, "supervisor")

    async def listed() -> str | None:
        page = (await supervisor.get("/supervisor")).text
        section = page.split('id="h-follow-ups"')[1].split("</section>")[0]
        return section if reference in section else None

    await eventually(listed, timeout=30, message="the follow-up on the dashboard")
    page = await _wait_for(supervisor, url, "Tủ lạnh mới cũng không lạnh")
    assert "Mở lại hồ sơ" in page and "Không cần mở lại" in page
    await _act(supervisor, url, "dismiss_follow_up", reason="Đã gọi lại, khách đồng ý")
    await _wait_for(supervisor, url, "Giám sát xác nhận không cần mở lại")
    assert await listed() is None


async def test_a_bounced_email_reply_shows_on_the_case_and_is_sent_again_by_letter(
        console_system: ConsoleSystem) -> None:
    """The reply by email came back: support sees why on the case, and the reply form is
    offered again with the words already written and another method first."""
    support = await signed_in(console_system.console, "support")
    reference = await counter_intake(support, email="binh.nguyen@example.vn")
    url = await _case_url(support, reference)
    await _wait_for(support, url, "(b) Hỗ trợ giải quyết ngay")
    await act_retrying(support, url, "resolve", resolution="Đổi tủ lạnh mới tại cửa hàng")
    await act_retrying(support, url, "request_reply", method="email",
                       content="Quý khách mang phiếu đến cửa hàng để đổi tủ lạnh mới.")
    await _wait_for(support, url, "Đã đóng")  # delivered to the mailbox, then closed
    routing = console_system.system.application("routing")
    complaint_id = uuid.UUID(url.rstrip("/").rsplit("/", 1)[-1])
    proof = routing.get_case(complaint_id).reply_sent["proof"]

    # the customer's server sends it back (parsing a bounce is the mail tests' part)
    intake = console_system.system.application("intake")
    intake.record_bounce(complaint_id, message_id=proof, reason="550 5.1.1 user unknown",
                         bounce_message_id="<dsn-77@mx.example.vn>",
                         trace=sample_trace("intake"))
    page = await _wait_for(support, url, 'id="reply-undelivered"')
    alert = re.search(r'<p id="reply-undelivered"[^>]*>(.*?)</p>', page, re.S)
    assert alert and "không đến được khách hàng" in alert.group(1)
    assert "user unknown" in alert.group(1)
    form = re.search(r'action="[^"]*/act/request_reply".*?</form>', page, re.S)
    assert form, page[-4000:]
    assert "Quý khách mang phiếu đến cửa hàng" in form.group(0)
    methods = re.findall(r'<option value="([a-z_]+)"', form.group(0))
    assert methods[0] != "email" and methods[-1] == "email"
    # the supervisor's dashboard lists it among the replies to send another way
    supervisor = await signed_in(console_system.console, "supervisor")

    def undelivered_section(page: str) -> str:
        found = re.search(r'<section aria-labelledby="h-undelivered">.*?</section>', page,
                          re.S)
        assert found, page[-3000:]
        return found.group(0)

    assert reference in undelivered_section((await supervisor.get("/supervisor")).text)
    # the customer can read the answer on their page meanwhile
    _customer, _link, answers = await _customer_page_section(
        console_system, str(complaint_id), reference, "replies")
    assert "Quý khách mang phiếu đến cửa hàng để đổi tủ lạnh mới." in answers
    assert "Email" in answers

    await act_retrying(support, url, "request_reply", method="letter",
                       content="Quý khách mang phiếu đến cửa hàng để đổi tủ lạnh mới.")
    page = await _wait_for(support, url, "Ghi mã bưu gửi của thư")
    assert 'id="reply-undelivered"' not in page
    assert reference not in undelivered_section((await supervisor.get("/supervisor")).text)

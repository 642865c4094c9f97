"""Each role walks its part of the process in headless Chromium, in Vietnamese, against
the services over HTTP: counter intake to the receipt slip (also by keyboard alone),
branch (a) with the customer answering on their page, branch (b) with a reply by phone,
branch (c) with the department answering in its queue and a reply by letter (read on the
customer's page too), the supervisor's reopening and the auditor's time travel. Every
page: axe-core finds no serious or critical violation, the browser logs no error, and a
screenshot is saved."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.browser.console.pages import Person
from tests.support.browser import LiveSystem, screenshot
from tests.support.console import PEOPLE, customer_link_token

pytestmark = pytest.mark.browser


def _intake(person: Person, *, name: str = "Nguyễn Văn Bình", email: str = "") -> str:
    person.goto("/intake")
    page = person.page
    page.fill("#name", name)
    page.fill("#phone", "0912345678")
    if email:
        page.fill("#email", email)
    page.fill("#address", "12 Lê Lợi, Quận 1, TP Hồ Chí Minh")
    page.select_option("#product", "dien-lanh")
    page.select_option("#category", "chat-luong-san-pham")
    page.fill("#incident_date", datetime.now(UTC).date().isoformat())
    page.locator("#incident_date").dispatch_event("change")
    page.wait_for_selector("#filing >> text=Trong thời hạn")
    page.fill("#description", "Tủ lạnh không lạnh sau 3 ngày sử dụng")
    person.check("02-intake-form")
    page.click("button.primary[type=submit]")
    page.wait_for_selector("text=PHIẾU TIẾP NHẬN YÊU CẦU")
    return person.reference()


def _date_field_order(context: Any) -> str:
    """The order Chromium's date field takes its parts in (the browser's own locale),
    probed on a scratch page by typing 01 02 2026."""
    scratch = context.new_page()
    scratch.set_content("<input type=date id=d>")
    scratch.focus("#d")
    scratch.keyboard.type("01022026")
    value = scratch.eval_on_selector("#d", "e => e.value")
    scratch.close()
    return "day,month,year" if value == "2026-02-01" else "month,day,year"


def _open_case(person: Person, reference: str) -> str:
    person.goto(f"/queue?q={reference}")
    assert "/cases/" in person.page.url
    return str(person.page.url).removeprefix(person.base)


def test_counter_intake_to_receipt_slip(live: LiveSystem, chromium: Any) -> None:
    agent = Person.open(chromium, live.url)
    agent.goto("/sign-in")
    agent.check("01-sign-in")
    agent.sign_in("agent")
    reference = _intake(agent)
    agent.check("03-receipt-slip")
    agent.page.emulate_media(media="print")  # the slip as the printer gets it
    assert not agent.page.locator("header.top").is_visible()
    screenshot(agent.page, "03b-receipt-slip-print")
    agent.page.emulate_media(media="screen")
    assert reference.startswith("KN-")
    url = _open_case(agent, reference)
    agent.wait_text("(b) Hỗ trợ giải quyết ngay", path=url)
    agent.check("04-case-page")
    agent.goto("/queue")
    assert reference in agent.page.content()
    agent.check("05-queue")
    agent.goto("/intake/drafts")
    agent.check("06-hotline-drafts")
    agent.goto("/docs")
    agent.check("07-api-docs")
    agent.close()


def test_intake_form_by_keyboard_alone(live: LiveSystem, chromium: Any) -> None:
    person = Person.open(chromium, live.url)
    page = person.page
    person.goto("/sign-in")
    page.keyboard.press("Tab")  # skip link
    focused = ""
    for _ in range(15):  # to the staff id field, whatever comes first
        focused = page.evaluate("() => document.activeElement.id")
        if focused == "user_id":
            break
        page.keyboard.press("Tab")
    assert focused == "user_id"
    user_id, password = PEOPLE["agent"]
    page.keyboard.type(user_id)
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/sign-in" not in page.url
    person.goto("/intake")
    typed = {"name": "Đặng Thị Mai", "phone": "0987654321", "email": "mai@example.com",
             "address": "5 Trần Phú, Hà Nội", "order_ref": "HD-2026-777",
             "description": "Máy giặt kêu to khi vắt"}
    reached: list[str] = []
    order = _date_field_order(page.context)
    for _ in range(80):
        page.keyboard.press("Tab")
        element = page.evaluate("() => ({id: document.activeElement.id, "
                                "tag: document.activeElement.tagName, "
                                "type: document.activeElement.type || ''})")
        ident = element["id"]
        if ident in typed and ident not in reached:
            page.keyboard.type(typed[ident])
        elif ident == "product" and ident not in reached:
            page.keyboard.press("ArrowDown")
            page.keyboard.press("ArrowDown")
            page.keyboard.press("ArrowDown")
            page.keyboard.press("ArrowDown")
        elif ident == "incident_date" and ident not in reached:
            today = datetime.now(UTC).date()
            parts = {"day": f"{today:%d}", "month": f"{today:%m}", "year": f"{today:%Y}"}
            page.keyboard.type("".join(parts[p] for p in order.split(",")))
        reached.append(ident)
        if element["tag"] == "BUTTON" and element["type"] == "submit" \
                and "description" in reached:
            break
    for ident in (*typed, "product", "incident_date"):
        assert ident in reached, f"{ident} not reachable by Tab: {reached}"
    value = page.eval_on_selector("#incident_date", "e => e.value")
    assert value == datetime.now(UTC).date().isoformat(), (value, order)
    page.wait_for_selector("#filing >> text=Trong thời hạn")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_selector("text=PHIẾU TIẾP NHẬN YÊU CẦU")
    content = page.content()
    assert "Đặng Thị Mai" in content
    assert re.search(r"KN-\d{4}-\d{6}", content)
    person.check("08-receipt-keyboard")
    person.close()


def test_branch_a_customer_answers_on_their_page(live: LiveSystem, chromium: Any) -> None:
    agent = Person.open(chromium, live.url)
    agent.sign_in("agent")
    reference = _intake(agent, email="binh@example.com")
    url = _open_case(agent, reference)
    agent.wait_text("(a) Yêu cầu khách hàng bổ sung thông tin", path=url)
    agent.act("(a) Yêu cầu khách hàng bổ sung thông tin",
              {"textarea[name=message]": "Vui lòng gửi hóa đơn mua hàng"},
              checks=("input[value=hoa-don]",))
    agent.wait_text("Chờ khách hàng bổ sung thông tin", path=url)
    complaint_id = url.rsplit("/", 1)[1]
    token = customer_link_token(live.capability_keys, complaint_id, reference)

    customer = Person.open(chromium, live.url)
    customer.goto(f"/c/{token}")
    customer.wait_text("Đang chờ quý khách bổ sung thông tin", path=f"/c/{token}")
    assert "Hóa đơn mua hàng" in customer.page.content()
    customer.check("09-customer-page")
    customer.page.check("input[name=items][value=hoa-don]")
    customer.page.fill("#content", "Gửi hóa đơn số 123, mua ngày 01/11")
    customer.page.set_input_files("#files", files=[{
        "name": "hoa-don.pdf", "mimeType": "application/pdf",
        "buffer": b"%PDF-1.4\n% test\n"}])
    customer.page.click("button.primary[type=submit]")
    customer.page.wait_for_selector("text=chúng tôi đã nhận được thông tin")
    assert "hoa-don.pdf" in customer.page.content()
    customer.check("10-customer-page-sent")
    customer.close()

    agent.wait_text("Gửi hóa đơn số 123", path=url)
    agent.check("11-case-after-customer-info")
    agent.close()


def test_branch_b_reply_by_phone(live: LiveSystem, chromium: Any) -> None:
    agent = Person.open(chromium, live.url)
    agent.sign_in("agent")
    reference = _intake(agent)
    url = _open_case(agent, reference)
    agent.wait_text("(b) Hỗ trợ giải quyết ngay", path=url)
    watcher = Person.open(chromium, live.url)  # a supervisor with the case open
    watcher.sign_in("supervisor")
    watcher.goto(url)
    watcher.page.wait_for_selector("#case-body[data-live-started]")
    agent.act("(b) Hỗ trợ giải quyết ngay",
              {"textarea[name=resolution]": "Đổi tủ lạnh mới tại cửa hàng"})
    # live update (server-sent events): the watcher's page changes without a reload
    watcher.page.wait_for_selector("#live-notice:not([hidden])", timeout=15_000)
    assert "Đổi tủ lạnh mới tại cửa hàng" in watcher.page.content()
    watcher.check("12a-case-live-update")
    watcher.close()
    agent.act("Gửi trả lời khách hàng", {"textarea[name=content]": "Hẹn khách đổi máy"},
              selects={"select[name=method]": "phone"})
    agent.wait_text("Ghi nhận kết quả cuộc gọi", path=url)
    agent.check("12-case-phone-task")
    form = agent.page.locator("form[action$='/outcome']").first
    form.locator("textarea[name=summary]").fill("Khách đồng ý đổi máy ngày mai")
    form.locator("input[name=proof]").fill("CALL-2026-001")
    with agent.page.expect_navigation():
        form.locator("button[type=submit]").click()
    agent.wait_text("Đã đóng", path=url)
    agent.check("13-case-closed")
    agent.close()


def test_branch_c_department_answers_and_letter_and_reopen_and_audit(
        live: LiveSystem, chromium: Any) -> None:
    support = Person.open(chromium, live.url)
    support.sign_in("support")
    reference = _intake(support)
    url = _open_case(support, reference)
    support.wait_text("(c) Chuyển bộ phận liên quan", path=url)
    support.act("(c) Chuyển bộ phận liên quan",
                {"textarea[name=question]": "Kiểm tra lỗi máy nén"},
                selects={"select[name=department]": "ky-thuat-bao-hanh"})
    support.wait_text("Đã chuyển bộ phận liên quan", path=url)

    department = Person.open(chromium, live.url)
    department.sign_in("department")
    department.wait_text(reference, path="/department")
    assert "Nguyễn Văn Bình" not in department.page.content()
    department.check("14-department-queue")
    with department.page.expect_navigation():
        department.page.click(f"a:has-text('{reference}')")
    assert "Nguyễn Văn Bình" not in department.page.content()
    department.act("Ghi kết quả của bộ phận",
                   {"textarea[name=result]": "Máy nén hỏng, thay mới miễn phí"})
    department.wait_text("Bộ phận đã có kết quả")
    department.check("15-department-case")
    department.close()

    support.wait_text("Máy nén hỏng, thay mới miễn phí", path=url)
    support.act("Gửi trả lời khách hàng", {}, selects={"select[name=method]": "letter"})
    support.wait_text("Ghi mã bưu gửi của thư", path=url)
    letter = support.page.locator("a[href$='.pdf']").first.get_attribute("href")
    assert letter
    pdf = support.page.request.get(support.base + letter)
    assert pdf.status == 200 and pdf.body().startswith(b"%PDF")
    support.check("16-case-letter")
    form = support.page.locator("form[action$='/tracking']").first
    form.locator("input[name=tracking_number]").fill("EE123456789VN")
    with support.page.expect_navigation():
        form.locator("button[type=submit]").click()
    support.wait_text("Đã đóng", path=url)
    support.close()

    # the customer reads the letter's words on their page too
    token = customer_link_token(live.capability_keys, url.rsplit("/", 1)[1], reference)
    customer = Person.open(chromium, live.url)
    customer.wait_text("Trả lời của chúng tôi", path=f"/c/{token}")
    answers = customer.page.locator("#replies").inner_text()
    assert "Thư (bưu điện)" in answers, answers
    assert "Máy nén hỏng, thay mới miễn phí" in answers, answers  # the letter's words
    customer.check("16b-customer-page-reply")
    customer.close()

    supervisor = Person.open(chromium, live.url)
    supervisor.sign_in("supervisor")
    supervisor.check("17-supervisor-dashboard")
    before_reopen = datetime.now(UTC)
    supervisor.goto(url)
    supervisor.act("Mở lại hồ sơ", {"textarea[name=reason]": "Khách báo máy vẫn lỗi"})
    supervisor.wait_text("Đang phân tích", path=url)
    supervisor.check("18-case-reopened")
    supervisor.close()

    auditor = Person.open(chromium, live.url)
    auditor.sign_in("auditor")
    auditor.page.fill("#reference", reference)
    with auditor.page.expect_navigation():
        auditor.page.click("main form[role=search] button[type=submit]")
    assert "Reopened" in auditor.page.content()
    auditor.check("19-audit-now")
    local = before_reopen.astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
    auditor.page.fill("#as_of", local.strftime("%Y-%m-%dT%H:%M:%S"))
    with auditor.page.expect_navigation():
        auditor.page.click("main form[role=search] button[type=submit]")
    shown = auditor.page.locator("#h-then").locator("xpath=..").inner_text()
    assert "Đã đóng" in shown, shown
    assert "Reopened" not in auditor.page.locator("table.grid").inner_text()
    auditor.check("20-audit-as-of")
    auditor.close()


def test_public_web_form(live: LiveSystem, chromium: Any) -> None:
    visitor = Person.open(chromium, live.url)
    visitor.goto("/complaint")
    visitor.check("21-public-form")
    visitor.page.fill("#name", "Phạm Văn Dũng")
    visitor.page.fill("#phone", "12")
    visitor.page.fill("#description", "Tư vấn mua trả góp")
    visitor.page.click("button.primary[type=submit]")
    visitor.page.wait_for_selector("#err-customer-phone")
    visitor.check("22-public-form-errors")
    visitor.page.fill("#phone", "0912000111")
    visitor.page.click("button.primary[type=submit]")
    visitor.page.wait_for_selector("text=PHIẾU TIẾP NHẬN YÊU CẦU")
    visitor.check("23-public-receipt")
    visitor.close()


def test_supervisor_waives_a_late_filing(live: LiveSystem, chromium: Any) -> None:
    agent = Person.open(chromium, live.url)
    agent.sign_in("agent")
    agent.goto("/intake")
    page = agent.page
    page.fill("#name", "Vũ Thị Hạnh")
    page.fill("#phone", "0903111222")
    page.select_option("#product", "gia-dung")
    page.fill("#incident_date", "2026-01-05")
    page.locator("#incident_date").dispatch_event("change")
    page.wait_for_selector("#filing >> text=Quá thời hạn")  # shown before submit
    page.fill("#description", "Nồi cơm điện hỏng")
    agent.check("24-intake-late-filing")
    page.click("button.primary[type=submit]")
    page.wait_for_selector("text=PHIẾU TIẾP NHẬN YÊU CẦU")
    reference = agent.reference()
    agent.close()

    supervisor = Person.open(chromium, live.url)
    supervisor.sign_in("supervisor")
    supervisor.wait_text(reference, path="/supervisor")  # awaiting review: listed
    with supervisor.page.expect_navigation():
        supervisor.page.click(f"#h-reviews ~ table a:has-text('{reference}')")
    assert "Gửi quá hạn, chờ giám sát xem xét" in supervisor.page.content()
    supervisor.act("Chấp nhận ngoại lệ (gửi quá hạn)",
                   {"textarea[name=waiver_reason]": "Khách nằm viện, có giấy ra viện"})
    supervisor.wait_text("Đang phân tích")
    supervisor.check("25-case-late-filing-waived")
    supervisor.close()

"""The records behind a case in headless Chromium: the email as the customer received it,
found from a queue search by email; a supervisor recording a department's answer on its
behalf; the letter opened in the browser and downloaded. Every page: axe-core finds no
serious or critical violation, the browser logs no error, and a screenshot is saved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.console.pages import Person
from tests.support.browser import LiveSystem

pytestmark = pytest.mark.browser


def _web_complaint(live: LiveSystem, email: str) -> str:
    r = httpx.post(f"{live.service_urls['intake']}/api/complaints", timeout=30, json={
        "kind": "complaint", "channel": "web", "product": "dien-lanh",
        "customer": {"name": "Phạm Thị Thu Hà", "email": email, "phone": "0912000111",
                     "address": "8 Hai Bà Trưng, Hoàn Kiếm, Hà Nội"},
        "description": "Máy giặt rung mạnh khi vắt"})
    assert r.status_code == 201, r.text
    return str(r.json()["reference"])


def test_email_as_sent_on_behalf_and_letter(live: LiveSystem, chromium: Any) -> None:
    other = _web_complaint(live, "someone.else@example.vn")
    reference = _web_complaint(live, "thuha.pham@example.vn")
    support = Person.open(chromium, live.url)
    support.sign_in("support")
    support.goto("/queue?q=THUHA.PHAM%40example.vn")  # by email, in any case
    support.wait_text(reference, path="/queue?q=THUHA.PHAM%40example.vn")
    assert other not in support.page.content()
    assert support.page.input_value("#q") == "THUHA.PHAM@example.vn"
    support.check("30-queue-search-by-email")
    with support.page.expect_navigation():
        support.page.click(f"a:has-text('{reference}')")
    url = str(support.page.url).removeprefix(support.base)
    support.wait_text("Xem thư điện tử đã gửi", path=url)
    with support.page.expect_navigation():
        support.page.click("text=Xem thư điện tử đã gửi")
    content = support.page.content()
    assert reference in content and "thuha.pham@example.vn" in content
    assert "cap1." not in content  # the customer's link token stays theirs
    support.check("31-email-as-sent")

    support.goto(url)
    support.wait_text("(c) Chuyển bộ phận liên quan", path=url)
    support.act("(c) Chuyển bộ phận liên quan",
                {"textarea[name=question]": "Kiểm tra bộ giảm chấn"},
                selects={"select[name=department]": "ky-thuat-bao-hanh"})
    support.wait_text("Đã chuyển bộ phận liên quan", path=url)

    supervisor = Person.open(chromium, live.url)
    supervisor.sign_in("supervisor")
    supervisor.goto(url)
    supervisor.wait_text("Ghi kết quả thay mặt bộ phận", path=url)
    supervisor.act("Ghi kết quả thay mặt bộ phận",
                   {"textarea[name=result]": "Bộ phận báo qua điện thoại: thay giảm chấn"})
    supervisor.wait_text("Bộ phận đã có kết quả", path=url)
    assert "giám sát ghi thay mặt bộ phận" in supervisor.page.content()
    supervisor.check("32-case-answered-on-behalf")
    supervisor.close()

    support.wait_text("thay giảm chấn", path=url)
    support.act("Gửi trả lời khách hàng", {}, selects={"select[name=method]": "letter"})
    support.wait_text("Tải thư (PDF)", path=url)
    support.check("33-case-letter-view-download")
    with support.page.expect_download() as download:
        support.page.click("text=Tải thư (PDF)")
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF")
    viewed = support.page.locator("a[href$='.pdf']").first.get_attribute("href")
    assert viewed
    response = support.page.request.get(support.base + viewed)
    assert response.headers["content-disposition"].startswith("inline")
    support.close()

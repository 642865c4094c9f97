"""Possible duplicates on the case page in headless Chromium: a customer's web complaint
and their email about the same order; support sees the link, dismisses it, and the page
says so. axe-core finds no serious or critical violation; the browser logs no error."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.browser.console.pages import Person
from tests.support.browser import LiveSystem
from tests.support.staff import auth

pytestmark = pytest.mark.browser


def _complaint(live: LiveSystem, channel: str, description: str) -> str:
    r = httpx.post(f"{live.service_urls['intake']}/api/complaints", timeout=30,
                   headers=auth("agent") if channel != "web" else {}, json={
                       "kind": "complaint", "channel": channel, "order_ref": "DH-88123",
                       "customer": {"name": "Đỗ Minh Quân", "email": "quan.do@example.vn"},
                       "description": description})
    assert r.status_code == 201, r.text
    return str(r.json()["reference"])


def test_support_dismisses_a_possible_duplicate(live: LiveSystem, chromium: Any) -> None:
    first = _complaint(live, "web", "Đơn hàng DH-88123 giao thiếu một thùng sữa")
    second = _complaint(live, "email", "Nhắc lại: đơn hàng DH-88123 vẫn thiếu hàng")
    support = Person.open(chromium, live.url)
    support.sign_in("support")
    for _ in range(100):  # a reference search opens the case once routing has it
        support.goto(f"/queue?q={second}")
        if "/cases/" in support.page.url:
            break
        support.page.wait_for_timeout(300)
    url = str(support.page.url).removeprefix(support.base)
    assert url.startswith("/cases/"), url
    support.wait_text("Có thể trùng lặp", path=url)
    assert first in support.page.content()
    support.check("40-possible-duplicate")
    with support.page.expect_navigation():
        support.page.click("button:has-text('Không trùng')")
    support.page.wait_for_load_state("load")
    support.wait_text("Đã ghi nhận: không trùng lặp.")
    assert "/duplicates/" not in support.page.content()  # decided: no buttons left
    support.check("41-duplicate-dismissed")
    support.close()

"""Over the real bus: a case withdrawn while its department still owed the result tells
that department by email (notify consumes routing's ComplaintClosed), seen on the case;
the customer withdraws on their own page."""

from __future__ import annotations

import re

import httpx

from tests.integration.console.conftest import ConsoleSystem
from tests.integration.console.test_console_flow import _wait_for, act_retrying, case_to_refer
from tests.support.console import customer_link_token
from tests.support.waiting import eventually


async def test_a_withdrawal_tells_the_department_that_owed_its_result(
        console_system: ConsoleSystem) -> None:
    support, _reference, url = await case_to_refer(console_system.console)
    await act_retrying(support, url, "refer", department="ky-thuat-bao-hanh",
                       question="Kiểm tra lỗi máy nén")
    await _wait_for(support, url, "Báo bộ phận có hồ sơ chuyển đến")
    await act_retrying(support, url, "withdraw", reason="Khách đã tự sửa được máy")
    page = await _wait_for(support, url, "Báo bộ phận hồ sơ đã kết thúc, không cần kết quả")
    assert page.count("Báo bộ phận hồ sơ đã kết thúc") == 1


async def test_the_customer_withdraws_on_their_page_over_the_bus(
        console_system: ConsoleSystem) -> None:
    """The customer's page → intake (WithdrawalRequested) → routing withdraws the case →
    notify tells the department that owed its result and confirms it to the customer;
    intake's page says it was withdrawn; staff see the customer withdrew it."""
    support, reference, url = await case_to_refer(console_system.console,
                                                  email="binh@example.com")
    await act_retrying(support, url, "refer", department="ky-thuat-bao-hanh",
                       question="Kiểm tra lỗi máy nén")
    complaint_id = url.rsplit("/", 1)[1]
    token = customer_link_token(console_system.capability_keys, complaint_id, reference)
    customer = httpx.AsyncClient(transport=httpx.ASGITransport(app=console_system.console),
                                 base_url="http://console")
    page = (await customer.get(f"/c/{token}")).text
    assert "Rút yêu cầu" in page and f'action="/c/{token}/withdraw"' in page
    form_token = re.search(r'name="form_token" value="([^"]+)"', page)
    assert form_token

    unticked = await customer.post(f"/c/{token}/withdraw", data={
        "form_token": form_token.group(1), "reason": "Đã tự sửa được máy"})
    assert unticked.status_code == 400 and "đánh dấu xác nhận" in unticked.text
    r = await customer.post(f"/c/{token}/withdraw", data={
        "form_token": form_token.group(1), "reason": "Đã tự sửa được máy", "confirm": "1"})
    assert r.status_code == 303, r.text[:3000]
    assert "Chúng tôi đã ghi nhận yêu cầu rút" in (await customer.get(r.headers["location"])
                                                    ).text

    async def withdrawn() -> str | None:
        text = (await customer.get(f"/c/{token}")).text
        return text if "Quý khách đã rút yêu cầu" in text else None

    page = await eventually(withdrawn, timeout=30, message="the page says withdrawn")
    assert f'action="/c/{token}/withdraw"' not in page  # no second withdrawal offered
    case = await _wait_for(support, url, "Khách hàng đã rút yêu cầu")
    assert "Đã tự sửa được máy" in case
    await _wait_for(support, url, "Báo bộ phận hồ sơ đã kết thúc, không cần kết quả")
    await _wait_for(support, url, "Xác nhận khách hàng rút yêu cầu")  # told in writing
    await _wait_for(support, url, "Báo người phụ trách: khách tự rút yêu cầu")
    late = await customer.post(f"/c/{token}/withdraw", data={
        "form_token": form_token.group(1), "confirm": "1"})
    assert late.status_code == 409 and "không thể rút yêu cầu nữa" in late.text

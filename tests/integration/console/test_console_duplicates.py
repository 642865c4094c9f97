"""The case page shows a request's possible duplicates (intake's link) and lets support or
a supervisor merge or dismiss each; agents see the link without the buttons. An incident
date the customer gave after an undated email complaint is shown with its verdict."""

from __future__ import annotations

import re

import httpx

from tests.integration.console.conftest import ConsoleSystem
from tests.support.console import counter_intake, csrf_of, signed_in
from tests.support.staff import auth
from tests.support.waiting import eventually


async def _case_page(client: httpx.AsyncClient, reference: str, text: str) -> tuple[str, str]:
    page = await client.get(f"/queue?q={reference}")
    assert page.status_code == 303, page.text[:2000]
    url = str(page.headers["location"])

    async def shown() -> str | None:
        r = await client.get(url)
        return r.text if r.status_code == 200 and text in r.text else None

    return url, await eventually(shown, timeout=30, message=f"{text!r} on {url}")


async def test_support_merges_and_dismisses_possible_duplicates(
        console_system: ConsoleSystem) -> None:
    agent = await signed_in(console_system.console, "agent")
    support = await signed_in(console_system.console, "support")
    first = await counter_intake(agent)
    second = await counter_intake(agent, channel="hotline")  # same phone, same product
    third = await counter_intake(agent, description="Gọi lại lần nữa về tủ lạnh")

    # the agent sees the link but may not decide
    _, page = await _case_page(agent, second, "Có thể trùng lặp")
    assert first in page and "Chưa xử lý" in page
    assert "/duplicates/" not in page

    url, page = await _case_page(support, second, "Có thể trùng lặp")
    action = re.search(r'action="(/cases/[0-9a-f-]{36}/duplicates/[0-9a-f-]{36})/confirm"',
                       page)
    assert action, page[-4000:]
    token = await csrf_of(support, url)
    r = await support.post(f"{action.group(1)}/confirm",
                           data={"csrf_token": token, "reason": "khách gọi lại"})
    assert r.status_code == 303, r.text[:3000]
    page = (await support.get(str(r.headers["location"]))).text
    assert f"Yêu cầu này đã được gộp vào {first}" in page and "Đã gộp" in page
    # the earlier case records what was merged into it
    _, page = await _case_page(support, first, f"Đã gộp vào hồ sơ này: {second}")

    # the third links to both; support dismisses the link to the first
    url, page = await _case_page(support, third, "Có thể trùng lặp")
    assert first in page and second in page
    links = re.findall(r'action="(/cases/[0-9a-f-]{36}/duplicates/[0-9a-f-]{36})/confirm"',
                       page)
    assert len(links) == 2, page[-4000:]
    token = await csrf_of(support, url)
    r = await support.post(f"{links[0]}/dismiss", data={"csrf_token": token})
    assert r.status_code == 303, r.text[:3000]
    page = (await support.get(str(r.headers["location"]))).text
    assert "Không trùng" in page and "Đã ghi nhận: không trùng lặp." in page
    assert len(re.findall(r"/duplicates/[0-9a-f-]{36}/confirm", page)) == 1
    # deciding it again is refused with intake's reason, beside the link, in Vietnamese
    token = await csrf_of(support, url)
    r = await support.post(f"{links[0]}/confirm", data={"csrf_token": token})
    assert r.status_code == 409 and "đã được quyết định" in r.text, r.text[-3000:]
    assert "already decided" not in r.text


async def test_an_incident_date_given_later_is_shown_with_its_verdict(
        console_system: ConsoleSystem) -> None:
    support = await signed_in(console_system.console, "support")
    async with console_system.system.client("intake") as intake:
        r = await intake.post("/api/complaints", headers=auth("agent"), json={
            "kind": "complaint", "channel": "email",
            "customer": {"name": "Nguyễn Văn An", "email": "an.nguyen@example.vn"},
            "description": "Tủ lạnh không lạnh, mong công ty kiểm tra."})
        assert r.status_code == 201, r.text
        reference = r.json()["reference"]
        # as staff would: from the case page, once routing opened the case
        await _case_page(support, reference, "Email không nêu rõ ngày xảy ra sự việc")
        r = await intake.post(f"/api/complaints/{reference}/info", headers=auth(), json={
            "channel": "hotline", "content": "Khách nói: hôm qua tủ ngừng chạy.",
            "items": []})
        assert r.status_code == 202, r.text
    _, page = await _case_page(support, reference, "khách cho biết sau: «hôm qua»")
    assert "Trong hạn (hạn cuối" in page

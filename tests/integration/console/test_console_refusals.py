"""When routing refuses an action taken on the console (the case moved on meanwhile, a
date already past), the person reads why in the language of their page."""

from __future__ import annotations

from tests.integration.console.conftest import ConsoleSystem
from tests.integration.console.test_console_flow import (
    _act,
    _case_url,
    _wait_for,
    case_to_refer,
    phone_reply_awaiting_outcome,
)
from tests.support.console import counter_intake, csrf_of, signed_in


async def test_an_action_on_a_case_someone_else_moved_is_refused_in_the_viewers_words(
        console_system: ConsoleSystem) -> None:
    agent = await signed_in(console_system.console, "agent")
    support = await signed_in(console_system.console, "support")
    reference = await counter_intake(agent)
    url = await _case_url(agent, reference)
    await _wait_for(support, url, "(c) Chuyển bộ phận liên quan")
    stale_token = await csrf_of(support, url)  # support's page, open before the agent acts
    await _act(agent, url, "resolve", resolution="Đổi tủ lạnh mới tại cửa hàng")

    refused = await support.post(f"{url}/act/refer", data={
        "csrf_token": stale_token, "department": "ky-thuat-bao-hanh", "question": "?"})
    assert refused.status_code == 409, refused.text[:2000]
    assert "Không thực hiện được nữa" in refused.text
    assert "“Hỗ trợ đã giải quyết”" in refused.text
    assert "cannot refer" not in refused.text

    support.cookies.set("hotro_lang", "en")
    again = await support.post(f"{url}/act/refer", data={
        "csrf_token": await csrf_of(support, url), "department": "ky-thuat-bao-hanh",
        "question": "?"})
    assert again.status_code == 409
    assert "This can no longer be done" in again.text
    assert "“Resolved by support”" in again.text


async def test_a_date_already_past_is_refused_with_the_forms_label(
        console_system: ConsoleSystem) -> None:
    support, _reference, url = await case_to_refer(console_system.console)
    refused = await support.post(f"{url}/act/refer", data={
        "csrf_token": await csrf_of(support, url), "department": "ky-thuat-bao-hanh",
        "question": "Kiểm tra lỗi máy nén", "internal_due": "2020-01-06"})
    assert refused.status_code == 422, refused.text[:2000]
    assert "ngày 06/01/2020 đã qua" in refused.text
    assert "is before today" not in refused.text


async def test_recording_a_delivery_twice_is_refused_in_the_viewers_words(
        console_system: ConsoleSystem) -> None:
    agent = await signed_in(console_system.console, "agent")
    _reference, url, outcome = await phone_reply_awaiting_outcome(agent)
    stale_token = await csrf_of(agent, url)
    first = await agent.post(outcome, data={"csrf_token": stale_token,
                                            "summary": "Khách đồng ý", "proof": "CALL-1"})
    assert first.status_code == 303, first.text[:2000]
    again = await agent.post(outcome, data={"csrf_token": stale_token,
                                            "summary": "Khách đồng ý", "proof": "CALL-2"})
    assert again.status_code == 409, again.text[:2000]
    assert "Lần gửi này đã ở tình trạng “đã gửi”" in again.text
    assert "dispatch is sent" not in again.text

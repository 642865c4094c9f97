"""Over the real bus: a case withdrawn while its department still owed the result tells
that department by email (notify consumes routing's ComplaintClosed), seen on the case."""

from __future__ import annotations

from tests.integration.console.conftest import ConsoleSystem
from tests.integration.console.test_console_flow import _case_url, _wait_for
from tests.support.console import counter_intake, csrf_of, signed_in
from tests.support.waiting import eventually


async def test_a_withdrawal_tells_the_department_that_owed_its_result(
        console_system: ConsoleSystem) -> None:
    support = await signed_in(console_system.console, "support")
    reference = await counter_intake(support)
    url = await _case_url(support, reference)
    await _wait_for(support, url, "(c) Chuyển bộ phận liên quan")

    async def act(action: str, **fields: str) -> bool | None:
        # routing may be noting sla's deadline at the same instant: 409, tried again
        r = await support.post(f"{url}/act/{action}", data={
            "csrf_token": await csrf_of(support, url), **fields})
        assert r.status_code in (303, 409), r.text[:2000]
        return True if r.status_code == 303 else None

    await eventually(lambda: act("refer", department="ky-thuat-bao-hanh",
                                 question="Kiểm tra lỗi máy nén"), timeout=30,
                     message="referred")
    await _wait_for(support, url, "Báo bộ phận có hồ sơ chuyển đến")
    await eventually(lambda: act("withdraw", reason="Khách đã tự sửa được máy"),
                     timeout=30, message="withdrawn")
    page = await _wait_for(support, url, "Báo bộ phận hồ sơ đã kết thúc, không cần kết quả")
    assert page.count("Báo bộ phận hồ sơ đã kết thúc") == 1

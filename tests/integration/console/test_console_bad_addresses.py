"""An address a person typed or edited wrongly gets a page that says what is wrong (4xx),
in the console's language: not the framework's JSON, not "the system is down" (502)."""

from __future__ import annotations

import re

import pytest

from tests.integration.console.conftest import ConsoleSystem
from tests.support.console import signed_in


def _alert(html: str) -> str:
    found = re.search(r'role="alert">([^<]*)<', html)
    assert found, html[-2000:]
    return found.group(1)


@pytest.mark.parametrize(("query", "reason"), [
    ("state=xx", "state: phải là một trong: new, "),
    ("channel=%3Cscript%3E", "Kênh nhận: phải là một trong: counter, hotline, email"),
    ("sla=late", "sla: phải là một trong: breached, approaching"),
    ("page=abc", "page: phải là một số"), ("mine=yes", "mine: phải là một số")])
async def test_a_queue_filter_that_means_nothing_is_refused_with_its_reason(
        console_system: ConsoleSystem, query: str, reason: str) -> None:
    support = await signed_in(console_system.console, "support")
    r = await support.get(f"/queue?{query}")
    assert r.status_code == 400, (r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("text/html")
    alert = _alert(r.text)
    assert alert.startswith(f"Yêu cầu không hợp lệ: {reason}"), alert
    assert "<script>" not in r.text.split("<main", 1)[-1]


async def test_a_case_address_that_is_no_id_is_not_found(console_system: ConsoleSystem
                                                         ) -> None:
    support = await signed_in(console_system.console, "support")
    support.cookies.set("hotro_lang", "en")
    r = await support.get("/cases/not-a-uuid")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert _alert(r.text) == "Not found."


async def test_no_such_page_is_a_page_and_a_wrong_method_says_which_are_allowed(
        console_system: ConsoleSystem) -> None:
    support = await signed_in(console_system.console, "support")
    r = await support.get("/no-such-page")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert _alert(r.text) == "Không tìm thấy."
    r = await support.post("/queue")
    assert r.status_code == 405 and r.headers["allow"] == "GET"
    assert _alert(r.text).startswith("Yêu cầu không hợp lệ: Method Not Allowed")

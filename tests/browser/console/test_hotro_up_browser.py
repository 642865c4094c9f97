"""The console as `hotro up` runs it — nats-server, the four services and the console as
separate processes behind the gateway, signed in with the demo users its banner prints —
walked in headless Chromium: counter intake to the receipt slip, the supervisor's
dashboard with its compliance charts, and the auditor's integrity check and evidence pack
of that case. Every page: no serious or critical axe-core violation, no browser error,
a screenshot."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.browser.console.pages import Person

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@dataclass
class Up:
    url: str
    people: dict[str, tuple[str, str]]  # role -> (user id, password)


def _banner(proc: subprocess.Popen[str]) -> str:
    lines: list[str] = []
    deadline = time.monotonic() + 180
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Press Ctrl-C" in line:
            return "".join(lines)
    raise AssertionError("hotro up did not come up:\n" + "".join(lines))


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    data_dir = tmp_path_factory.mktemp("up") / "var"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTRO_")}
    env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.Popen([sys.executable, "-m", "hotro.cli", "up", "--data-dir",
                             str(data_dir)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    try:
        banner = _banner(proc)
        address = re.search(r"Open:\s+(http://127\.0\.0\.1:\d+)/", banner)
        assert address, banner
        people: dict[str, tuple[str, str]] = {}
        for role, user_id, password in re.findall(
                r"^\s{4}(\w+)\s+(\S+)\s+password (\S{12,})\s+token \S+$", banner,
                re.MULTILINE):
            people.setdefault(role, (user_id, password))
        assert {"agent", "supervisor", "auditor"} <= set(people), banner
        yield Up(address.group(1), people)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)


def _sign_in(person: Person, up: Up, role: str) -> None:
    user_id, password = up.people[role]
    person.goto("/sign-in")
    assert person.page.locator("#user_id").count(), (role, person.page.url)
    person.page.fill("#user_id", user_id)
    person.page.fill("#password", password)
    with person.page.expect_navigation():
        person.page.click("main button[type=submit]")
    person.page.wait_for_load_state("load")
    assert "/sign-in" not in person.page.url, person.page.content()[:2000]


def test_counter_intake_supervisor_and_auditor_on_hotro_up(up: Up, chromium: Any) -> None:
    agent = Person.open(chromium, up.url)
    agent.goto("/")
    agent.check("20-up-sign-in")
    _sign_in(agent, up, "agent")
    agent.goto("/intake")
    page = agent.page
    page.fill("#name", "Lê Thị Mai")
    page.fill("#phone", "0987654321")
    page.fill("#email", "mai.le@example.vn")
    page.fill("#address", "45 Trần Hưng Đạo, Hoàn Kiếm, Hà Nội")
    page.select_option("#product", "dien-lanh")
    page.select_option("#category", "chat-luong-san-pham")
    page.fill("#incident_date", datetime.now(UTC).date().isoformat())
    page.locator("#incident_date").dispatch_event("change")
    page.wait_for_selector("#filing >> text=Trong thời hạn")
    page.fill("#description", "Máy lạnh chảy nước sau khi lắp đặt")
    agent.check("21-up-intake-form")
    page.click("button.primary[type=submit]")
    page.wait_for_selector("text=PHIẾU TIẾP NHẬN YÊU CẦU")
    reference = agent.reference()
    agent.check("22-up-receipt-slip")
    agent.goto("/queue?q=le+thi+mai")  # by name, without diacritics
    agent.wait_text(reference, path="/queue?q=le+thi+mai", timeout_s=60)
    agent.check("23-up-queue-search-by-name")
    agent.close()

    supervisor = Person.open(chromium, up.url)
    _sign_in(supervisor, up, "supervisor")
    supervisor.goto("/supervisor")
    supervisor.wait_text('id="chart-channel"', path="/supervisor", timeout_s=60)
    assert supervisor.page.locator("figure.chart svg").count() >= 3
    supervisor.check("24-up-supervisor-dashboard")
    supervisor.close()

    auditor = Person.open(chromium, up.url)
    _sign_in(auditor, up, "auditor")
    deadline = time.monotonic() + 60
    # asked outside the page (a 404 page would be a browser error): routing has the case
    while auditor.page.request.get(f"{up.url}/audit?reference={reference}").status != 200:
        assert time.monotonic() < deadline, "the audit page never found the case"
        auditor.page.wait_for_timeout(1000)
    while True:  # the services seal every second: the case's rows may not be in a seal yet
        assert time.monotonic() < deadline, auditor.page.content()[-3000:]
        auditor.goto(f"/audit?reference={reference}")
        auditor.check("25-up-audit")
        auditor.page.click("#integrity a.button")  # htmx swaps the result in place
        auditor.page.wait_for_selector("#integrity-result")
        if auditor.page.locator("#integrity-result .sla-on_track").count() == 4:
            break
        auditor.page.wait_for_timeout(1000)
    assert "Có sai lệch" not in auditor.page.content()
    auditor.check("26-up-audit-integrity")
    with auditor.page.expect_download() as download:
        auditor.page.click("text=Hồ sơ chứng cứ (PDF)")
    pack = Path(download.value.path())
    assert pack.read_bytes().startswith(b"%PDF")
    auditor.close()

"""The records behind a case in the console: the email as sent, the letter viewed and
downloaded, a department's answer recorded on its behalf, the auditor's integrity check
(which sees a row edited in a store), evidence pack and exports, and the supervisor's
compliance charts by month, channel, product and department."""

from __future__ import annotations

import re
import sqlite3
import uuid
from pathlib import Path

from hotro.services.console.i18n import translator
from tests.integration.console.conftest import ConsoleSystem
from tests.integration.console.test_console_flow import (
    _act,
    _case_url,
    _wait_for,
    phone_reply_awaiting_outcome,
)
from tests.support.console import counter_intake, csrf_of, signed_in
from tests.support.staff import auth
from tests.support.waiting import eventually


async def test_email_as_sent_and_letter_view_or_download(console_system: ConsoleSystem
                                                         ) -> None:
    support = await signed_in(console_system.console, "support")
    received = await console_system.system.client("intake").post("/api/complaints", json={
        "kind": "complaint", "channel": "web", "product": "dien-lanh",
        "customer": {"name": "Nguyễn Văn Bình", "email": "binh.nguyen@example.vn",
                     "address": "12 Lê Lợi, Quận 1, TP Hồ Chí Minh"},
        "description": "Tủ lạnh không lạnh"})
    assert received.status_code == 201, received.text
    reference = received.json()["reference"]
    url = await _case_url(support, reference)
    # the web form's acknowledgement goes by email
    page = await _wait_for(support, url, "Xem thư điện tử đã gửi")
    link = re.search(r'href="(/cases/[0-9a-f-]{36}/messages/([0-9a-f-]{36}))"', page)
    assert link, page[-4000:]
    shown = await support.get(link.group(1))
    assert shown.status_code == 200
    assert reference in shown.text and "binh.nguyen@example.vn" in shown.text
    assert "Nguyễn Văn Bình" in shown.text  # the text as the customer received it

    notify = console_system.system.client("notify")
    dispatch = link.group(2)
    message = await notify.get(f"/api/deliveries/{dispatch}/message", headers=auth("agent"))
    assert message.status_code == 200
    assert message.json()["message_id"].startswith("<") and message.json()["text"]
    # the customer's link is their credential: staff see that it went out, not the token
    assert "/c/[đường dẫn riêng của khách hàng" in message.json()["text"]
    assert "cap1." not in message.json()["text"] and "cap1." not in shown.text
    assert (await notify.get(f"/api/deliveries/{dispatch}/message",
                             headers=auth("department"))).status_code == 403
    assert (await notify.get(f"/api/deliveries/{uuid.uuid4()}/message",
                             headers=auth("agent"))).status_code == 404
    missing = await support.get(f"{url}/messages/{uuid.uuid4()}")
    assert missing.status_code == 404 and "Không xem lại được thư này" in missing.text

    await _wait_for(support, url, "(b) Hỗ trợ giải quyết ngay")
    await _act(support, url, "resolve", resolution="Đổi tủ lạnh mới")
    await _act(support, url, "request_reply", method="letter", content="Chúng tôi đổi máy.")
    page = await _wait_for(support, url, "Tải thư (PDF)")
    letter = re.search(r"/cases/[0-9a-f-]{36}/letters/[0-9a-f-]{36}\.pdf", page)
    assert letter
    viewed = await support.get(letter.group(0))
    assert viewed.headers["content-disposition"].startswith("inline")
    downloaded = await support.get(letter.group(0), params={"download": 1})
    assert downloaded.headers["content-disposition"].startswith("attachment")
    assert downloaded.content.startswith(b"%PDF")


async def test_supervisor_records_a_department_answer_on_its_behalf(
        console_system: ConsoleSystem) -> None:
    assert translator("en")("action.record_department_response_on_behalf") == \
        "Record the department's result on its behalf"
    support = await signed_in(console_system.console, "support")
    reference = await counter_intake(support)
    url = await _case_url(support, reference)
    await _wait_for(support, url, "(c) Chuyển bộ phận liên quan")
    await _act(support, url, "refer", department="ky-thuat-bao-hanh",
               question="Kiểm tra lỗi máy nén")
    assert "Ghi kết quả thay mặt bộ phận" not in (await support.get(url)).text
    supervisor = await signed_in(console_system.console, "supervisor")
    page = await _wait_for(supervisor, url, "Ghi kết quả thay mặt bộ phận")
    assert 'value="ky-thuat-bao-hanh" selected' in page  # the department referred to
    await _act(supervisor, url, "record_department_response_on_behalf",
               department="ky-thuat-bao-hanh", result="Bộ phận báo qua điện thoại: thay máy")
    page = await _wait_for(support, url, "Bộ phận đã có kết quả")
    assert "Bộ phận báo qua điện thoại" in page
    assert "giám sát ghi thay mặt bộ phận" in page  # told apart from the department's own


async def test_auditor_integrity_evidence_and_exports(console_system: ConsoleSystem,
                                                      tmp_path: Path) -> None:
    support = await signed_in(console_system.console, "support")
    reference = await counter_intake(support)
    url = await _case_url(support, reference)
    case_id = url.rsplit("/", 1)[-1]
    await _wait_for(support, url, "(b) Hỗ trợ giải quyết ngay")  # routing has opened it
    auditor = await signed_in(console_system.console, "auditor")
    page = await auditor.get("/audit", params={"reference": reference})
    assert "Kiểm tra toàn vẹn" in page.text and "/audit/evidence.pdf" in page.text

    async def all_intact() -> str | None:
        r = await auditor.get("/audit/integrity", params={"reference": reference})
        return r.text if r.status_code == 200 and r.text.count("Nguyên vẹn") == 4 and \
            "chưa niêm phong" not in r.text else None

    checked = await eventually(all_intact, timeout=60, message="four services sealed")
    assert "Có sai lệch" not in checked
    fragment = await auditor.get("/audit/integrity", params={"reference": reference},
                                 headers={"HX-Request": "true"})
    assert fragment.text.lstrip().startswith("<table")
    report = await console_system.system.client("routing").get(
        f"/api/integrity/cases/{case_id}", headers=auth("auditor"))
    assert report.status_code == 200 and report.json()["chain_ok"] is True
    assert report.json()["case_rows"] >= 2  # opened and triaged at least
    assert (await console_system.system.client("routing").get(
        f"/api/integrity/cases/{uuid.uuid4()}", headers=auth("agent"))).status_code == 403

    pdf = await auditor.get("/audit/evidence.pdf", params={"reference": reference})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert f"evidence-{reference}.pdf" in pdf.headers["content-disposition"]
    exported = await auditor.get("/audit/export.csv", params={"reference": reference})
    assert exported.status_code == 200
    assert exported.content.startswith("\ufeff".encode())
    lines = exported.text.lstrip("\ufeff").splitlines()
    assert lines[0] == "at,service,event,actor,state,detail"
    assert any(",intake,Received," in line for line in lines[1:])
    assert (await support.get("/audit/evidence.pdf",
                              params={"reference": reference})).status_code == 403

    # someone edits a sealed row of intake's database behind the service's back
    with sqlite3.connect(tmp_path / "intake.sqlite") as db:
        row_id, state = db.execute("SELECT rowid, state FROM stored_events "
                                   "ORDER BY rowid LIMIT 1").fetchone()
        db.execute("UPDATE stored_events SET state = ? WHERE rowid = ?",
                   (bytes(state) + b"\x00", row_id))
    altered = await auditor.get("/audit/integrity", params={"reference": reference})
    assert "Có sai lệch" in altered.text
    assert altered.text.count("Nguyên vẹn") == 3  # the other services are untouched


async def test_supervisor_compliance_charts(console_system: ConsoleSystem) -> None:
    agent = await signed_in(console_system.console, "agent")
    reference, url, outcome = await phone_reply_awaiting_outcome(agent)
    token = await csrf_of(agent, url)
    await agent.post(outcome, data={"csrf_token": token, "summary": "Khách đồng ý",
                                    "proof": "C-1"})
    open_reference = await counter_intake(agent, phone="0912345679")

    sla = console_system.system.client("sla")

    async def decided() -> dict[str, str] | None:
        r = await sla.get("/api/reports/compliance/outcomes", headers=auth("supervisor"))
        outcomes: dict[str, str] = r.json()["outcomes"]
        return outcomes if sorted(outcomes.values()) == ["on_time", "open"] else None

    await eventually(decided, timeout=60, message="one reply on time, one open")
    assert (await sla.get("/api/reports/compliance/outcomes",
                          headers=auth("agent"))).status_code == 403
    attributes = await console_system.system.client("routing").get(
        "/api/case-stats/attributes", headers=auth("supervisor"))
    assert attributes.status_code == 200
    assert {tuple(c[1:]) for c in attributes.json()["cases"]} == \
        {("complaint", "counter", "dien-lanh", "support")}

    supervisor = await signed_in(console_system.console, "supervisor")

    async def charted() -> str | None:
        r = await supervisor.get("/supervisor")
        return r.text if "100.0 % (1/1)" in r.text and r.text.count("<svg") == 4 else None

    text = await eventually(charted, timeout=30, message="four charts with the reply")
    for group in ("month", "channel", "product", "department"):
        assert f'id="chart-{group}"' in text
    channel = text[text.index('id="chart-channel"'):text.index('id="chart-product"')]
    assert "Tại quầy" in channel and "100.0 % (1/1)" in channel
    assert ">1</td><td>0</td><td>1</td><td>100.0 %" in channel  # on time, late, open
    assert open_reference != reference

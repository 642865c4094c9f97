"""Issue 14, items 2 and 3 end to end: a complaint filed late is reviewed and accepted by a
supervisor, replied to and closed; the customer writes again by email (a real SMTP
conversation with intake), the case's owner is alerted and the supervisor reopens it; it
is replied to again. The four services run in-process over a real nats-server and
PostgreSQL; every message the customer receives is read from a real SMTP sink."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from hotro.natsbin import NatsServerProcess
from hotro.services.sla.domain.clock import Clock
from hotro.shared.clock import VIETNAM_TZ
from hotro.shared.staff.users import write_demo_users
from tests.conftest import TEST_LEASE_TTL_S, TEST_PARTITIONS
from tests.integration.intake.mailer import can_connect, deliver, free_port
from tests.support.postgres import PostgresSchemas
from tests.support.smtp import SmtpSink, running_sink
from tests.support.system import InProcessSystem, running_system
from tests.support.waiting import eventually

pytestmark = pytest.mark.postgres

EMAIL = "hanh.vu@example.vn"
CUSTOMER = {"name": "Vũ Thị Hạnh", "phone": "0903 111 222", "email": EMAIL}


def _text(message: EmailMessage) -> str:
    plain = message.get_body(("plain",))
    assert plain is not None, message
    content: str = plain.get_content()
    return content


def _dmy(iso: str) -> str:
    return date.fromisoformat(iso).strftime("%d/%m/%Y")


class Scenario:
    def __init__(self, system: InProcessSystem, tokens: dict[str, str], box: SmtpSink,
                 routing: httpx.AsyncClient) -> None:
        self.system = system
        self.tokens = tokens
        self.box = box
        self.routing = routing

    async def act(self, role: str, cid: uuid.UUID, action: str,
                  body: dict[str, Any] | None = None) -> dict[str, Any]:
        r = await self.routing.post(f"/api/cases/{cid}/actions/{action}", json=body or {},
                                    headers={"Authorization": f"Bearer {self.tokens[role]}"})
        assert r.status_code == 200, f"{action}: {r.text}"
        case: dict[str, Any] = r.json()
        return case

    async def case_in(self, cid: uuid.UUID, state: str) -> dict[str, Any]:
        async def check() -> dict[str, Any] | None:
            r = await self.routing.get(
                f"/api/cases/{cid}", headers={"Authorization": f"Bearer {self.tokens['auditor']}"})
            body: dict[str, Any] = r.json()
            return body if r.status_code == 200 and body["state"] == state else None
        return await eventually(check, message=f"case {state}")

    async def mail(self, to: str, reference: str, subject_part: str) -> EmailMessage:
        """The one message to ``to`` about ``reference`` whose subject has ``subject_part``."""
        def found() -> list[EmailMessage]:
            return [m for m in self.box.to(to, reference) if subject_part in str(m["Subject"])]
        [message] = await eventually(found, message=f"{subject_part!r} to {to}")
        return message

    def reply_clocks(self, cid: uuid.UUID) -> dict[str, Clock]:
        sla = self.system.application("sla")
        return {c.kind: c for c in sla.clocks_of(cid) if c.kind.startswith("reply")}


async def test_late_filing_accepted_replied_followed_up_reopened_and_replied_again(
        provisioned: NatsServerProcess, tmp_path: Path, pg_schemas: PostgresSchemas) -> None:
    tokens = write_demo_users(tmp_path / "users.toml")
    smtp_in = free_port()
    with running_sink() as (box, smtp_out):
        async with running_system(
                provisioned.url, pg_schemas.url, tmp_path, partitions=TEST_PARTITIONS,
                lease_ttl_s=TEST_LEASE_TTL_S,
                settings_extra={
                    "routing": {"users_file": str(tmp_path / "users.toml")},
                    "intake": {"smtp_listen_port": smtp_in},
                    "notify": {"smtp_host": "127.0.0.1", "smtp_port": smtp_out,
                               "smtp_starttls": False}}) as system, \
                system.client("routing") as routing, system.client("intake") as intake:
            await _walk(Scenario(system, tokens, box, routing), intake, smtp_in)


async def _walk(s: Scenario, intake: httpx.AsyncClient, smtp_in: int) -> None:
    # ---- 1. filed 40 days after the incident: acknowledged as under review --------------
    incident = datetime.now(VIETNAM_TZ).date() - timedelta(days=40)
    r = await intake.post("/api/complaints", headers={"Idempotency-Key": str(uuid.uuid4())},
                          json={"kind": "complaint", "channel": "web", "customer": CUSTOMER,
                                "product": "gia-dung", "incident_date": incident.isoformat(),
                                "description": "Nồi cơm điện hỏng sau hai tuần."})
    assert r.status_code == 201, r.text
    cid, ref = uuid.UUID(r.json()["id"]), r.json()["reference"]
    case = await s.case_in(cid, "awaiting_filing_review")
    ack = _text(await s.mail(EMAIL, ref, "Xác nhận đã tiếp nhận"))
    assert "đang được giám sát viên xem xét" in ack
    assert "Hạn trả lời" not in ack  # no reply date is promised before the decision
    assert not s.reply_clocks(cid)  # and no reply clock runs

    # ---- 2. the supervisor waives the deadline: the reply clock starts now ----------------
    case = await s.act("supervisor", cid, "accept_late_filing",
                       {"waiver_reason": "Khách nằm viện, có giấy ra viện"})
    assert case["state"] == "analysing"
    assert case["filing_review"]["decision"] == "accepted"
    accepted = _text(await s.mail(EMAIL, ref, "đã được chấp nhận xem xét"))
    reply = (await eventually(lambda: s.reply_clocks(cid).get("reply"),
                              message="reply clock")).snapshot()
    assert reply["start"] == datetime.now(VIETNAM_TZ).date().isoformat()
    assert f"Hạn trả lời: chậm nhất ngày {_dmy(reply['last_day'])}" in accepted

    # ---- 3. replied to by email, closed on delivery -------------------------------------
    await s.act("support", cid, "resolve", {"resolution": "Đổi nồi mới"})
    await s.act("support", cid, "request_reply",
                {"method": "email", "content": "Chúng tôi sẽ đổi nồi cơm điện mới."})
    answer = await s.mail(EMAIL, ref, "Trả lời")
    assert "đổi nồi cơm điện mới" in _text(answer)
    await s.case_in(cid, "closed")

    # ---- 4. the customer writes back to the answer: a follow-up, not silence ------------
    await eventually(lambda: can_connect(smtp_in), message="intake's SMTP listener")
    code, said = await deliver(smtp_in, _follow_up(EMAIL, ref, str(answer["Message-ID"])),
                               mail_from=EMAIL)
    assert code == 250, said
    assert ref in said
    closed = await s.case_in(cid, "closed")
    alert = await s.mail("demo.support@vhv.vn", ref, "Khách gửi thêm")
    assert "Nồi vẫn không nóng" in _text(alert)  # the owner reads what the customer wrote
    told = _text(await s.mail(EMAIL, ref, "Đã nhận thông tin bổ sung"))
    assert "nhân viên phụ trách để xem xét" in told
    flagged = await eventually(lambda: _flagged(s, cid), message="follow-up on the case")
    assert flagged["follow_ups"][-1]["channel"] == "email"
    assert closed["state"] == "closed"

    # ---- 5. the supervisor reopens it: a new reply clock, and the customer is told ------
    await s.act("supervisor", cid, "reopen", {"reason": "Khách báo nồi vẫn lỗi"})
    reopened = _text(await s.mail(EMAIL, ref, "đã được mở lại"))
    again = (await eventually(lambda: s.reply_clocks(cid).get("reply/reopen-1"),
                              message="the reopen's reply clock")).snapshot()
    assert f"Hạn trả lời mới: chậm nhất ngày {_dmy(again['last_day'])}" in reopened
    assert not (await s.case_in(cid, "analysing"))["follow_up_pending"]

    # ---- 6. replied to again, closed again --------------------------------------------
    await s.act("support", cid, "resolve", {"resolution": "Thay mâm nhiệt"})
    await s.act("support", cid, "request_reply",
                {"method": "email", "content": "Chúng tôi sẽ thay mâm nhiệt cho nồi."})
    answers = await eventually(
        lambda: [m for m in s.box.to(EMAIL, ref) if "Trả lời" in str(m["Subject"])
                 and "thay mâm nhiệt" in _text(m)], message="the second answer")
    assert len(answers) == 1
    await s.case_in(cid, "closed")
    clocks = s.reply_clocks(cid)
    assert clocks["reply/reopen-1"].status == "met"


async def _flagged(s: Scenario, cid: uuid.UUID) -> dict[str, Any] | None:
    r = await s.routing.get(f"/api/cases/{cid}",
                            headers={"Authorization": f"Bearer {s.tokens['supervisor']}"})
    body: dict[str, Any] = r.json()
    return body if body.get("follow_up_pending") else None


def _follow_up(sender: str, reference: str, answer_id: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Vũ Thị Hạnh <{sender}>"
    msg["To"] = "Hỗ trợ khách hàng <contact@vhv.vn>"
    msg["Subject"] = f"Re: Trả lời khiếu nại {reference}"
    msg["Message-ID"] = f"<{uuid.uuid4()}@example.vn>"
    msg["In-Reply-To"] = answer_id
    msg["References"] = answer_id
    msg.set_content("Nồi vẫn không nóng sau khi đổi, đề nghị kiểm tra lại.")
    return msg.as_bytes()

"""Issue 14, items 2 and 4 joined: an email complaint that states no incident date is asked
for it (``ngay-su-co``); the date the customer then gives by email reaches routing. Three
weeks back it is a late filing found after receipt: the case goes under the supervisor's
filing review, the reply clock from receipt stops, the customer is told it is under review;
the supervisor accepts and the reply clock counts from that decision. A date in time only
records the date: the case stays in its branch and its reply clock runs on.

All five pieces are real: SMTP conversations with intake's listener, notify's mail read
from a real SMTP sink, nats-server and PostgreSQL, the four services in-process."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from hotro.natsbin import NatsServerProcess
from hotro.services.intake.application import IntakeApplication
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

EMAIL = "binh.tran@example.vn"


def _mail(message_id: str, body: str, subject: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Trần Văn Bình <{EMAIL}>"
    msg["To"] = "contact@vhv.vn"
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    msg.set_content(body)
    return msg.as_bytes()


def _text(message: EmailMessage) -> str:
    plain = message.get_body(("plain",))
    assert plain is not None, message
    content: str = plain.get_content()
    return content


def _dmy(day: date | str) -> str:
    return (date.fromisoformat(day) if isinstance(day, str) else day).strftime("%d/%m/%Y")


class Desk:
    def __init__(self, system: InProcessSystem, tokens: dict[str, str], box: SmtpSink,
                 routing: httpx.AsyncClient, smtp_in: int) -> None:
        self.system = system
        self.tokens = tokens
        self.box = box
        self.routing = routing
        self.smtp_in = smtp_in

    async def complaint_by_email(self, tag: str, body: str) -> tuple[uuid.UUID, str]:
        message_id = f"<{tag}.{uuid.uuid4()}@example.vn>"
        code, said = await deliver(self.smtp_in, _mail(message_id, body, "Khiếu nại"),
                                   mail_from=EMAIL)
        assert code == 250 and "Received as KN-" in said, said
        intake: IntakeApplication = self.system.application("intake")
        request_id = intake.request_for_message(message_id)
        assert request_id is not None
        return request_id, intake.get_request(request_id).reference

    async def customer_answers(self, reference: str, body: str) -> None:
        code, said = await deliver(self.smtp_in, _mail(
            f"<answer.{uuid.uuid4()}@example.vn>", body,
            f"Re: {reference} bổ sung thông tin"), mail_from=EMAIL)
        assert code == 250 and f"Added to {reference}" in said, said

    async def act(self, role: str, cid: uuid.UUID, action: str,
                  body: dict[str, Any]) -> dict[str, Any]:
        r = await self.routing.post(f"/api/cases/{cid}/actions/{action}", json=body,
                                    headers={"Authorization": f"Bearer {self.tokens[role]}"})
        assert r.status_code == 200, f"{action}: {r.text}"
        case: dict[str, Any] = r.json()
        return case

    async def case_in(self, cid: uuid.UUID, state: str) -> dict[str, Any]:
        async def check() -> dict[str, Any] | None:
            r = await self.routing.get(f"/api/cases/{cid}", headers={
                "Authorization": f"Bearer {self.tokens['auditor']}"})
            body: dict[str, Any] = r.json()
            return body if r.status_code == 200 and body["state"] == state else None
        return await eventually(check, message=f"case {state}")

    async def mail(self, reference: str, subject_part: str) -> EmailMessage:
        def found() -> list[EmailMessage]:
            return [m for m in self.box.to(EMAIL, reference)
                    if subject_part in str(m["Subject"])]
        [message] = await eventually(found, message=f"{subject_part!r} to the customer")
        return message

    def reply_clocks(self, cid: uuid.UUID) -> dict[str, Clock]:
        sla = self.system.application("sla")
        return {c.kind: c for c in sla.clocks_of(cid) if c.kind.startswith("reply")}

    def routing_case(self, cid: uuid.UUID) -> Any:
        return self.system.application("routing").get_case(cid)

    async def asked_for_the_date(self, cid: uuid.UUID, reference: str) -> None:
        """Routing proposes ``ngay-su-co``; support asks; the customer has the request and
        the acknowledgement with its reply date (the reply clock runs from receipt)."""
        case = await self.case_in(cid, "analysing")
        assert case["triage"]["checklist"][0] == "ngay-su-co", case["triage"]
        due = datetime.now(VIETNAM_TZ).date() + timedelta(days=10)
        asked = await self.act("support", cid, "request_info", {
            "items": ["ngay-su-co"], "due_date": due.isoformat(),
            "message": "Xin Quý khách cho biết ngày xảy ra sự việc."})
        assert asked["state"] == "awaiting_customer_info"
        assert "Hạn trả lời" in _text(await self.mail(reference, "Xác nhận đã tiếp nhận"))
        await self.mail(reference, "Đề nghị bổ sung thông tin")
        await eventually(lambda: self.reply_clocks(cid).get("reply"),
                         message="the reply clock from receipt")


async def test_a_date_given_later_puts_a_late_filing_under_review_and_one_in_time_not(
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
                system.client("routing") as routing:
            await eventually(lambda: can_connect(smtp_in), message="intake's SMTP listener")
            desk = Desk(system, tokens, box, routing, smtp_in)
            await _late_date_reviewed_and_accepted(desk)
            await _late_date_refused(desk)
            await _date_in_time_changes_nothing_else(desk)


async def _late_date_reviewed_and_accepted(d: Desk) -> None:
    today = datetime.now(VIETNAM_TZ).date()
    cid, ref = await d.complaint_by_email("late", "Tủ lạnh không lạnh, mong công ty kiểm tra.")
    await d.asked_for_the_date(cid, ref)

    # three weeks back: well past the 7 working days from the incident
    incident = today - timedelta(days=21)
    await d.customer_answers(ref, f"Dạ, sự việc xảy ra ngày {_dmy(incident)} ạ.")
    await d.case_in(cid, "awaiting_filing_review")
    assert d.routing_case(cid).incident_date == incident.isoformat()
    told = _text(await d.mail(ref, "đang được xem xét vì gửi sau thời hạn"))
    assert f"sự việc xảy ra ngày {_dmy(incident)}" in told
    assert "Hạn trả lời đã báo trước đây tạm thời không áp dụng" in told
    stopped = await eventually(
        lambda: (c := d.reply_clocks(cid).get("reply")) and c.status == "stopped" and c,
        message="the reply clock from receipt stopped")
    assert stopped

    # the supervisor accepts: the reply clock counts from the decision
    accepted = await d.act("supervisor", cid, "accept_late_filing",
                           {"waiver_reason": "Khách ở xa, không gửi kịp"})
    assert accepted["state"] == "analysing"
    clock = (await eventually(lambda: d.reply_clocks(cid).get("reply/filing-review"),
                              message="the decision's reply clock")).snapshot()
    assert clock["start"] == today.isoformat()
    told = _text(await d.mail(ref, "đã được chấp nhận xem xét"))
    assert f"Hạn trả lời: chậm nhất ngày {_dmy(clock['last_day'])}" in told
    # the redelivery-proof part: one under-review message, one acceptance
    assert len([m for m in d.box.to(EMAIL, ref) if "xem xét" in str(m["Subject"])]) == 2


async def _late_date_refused(d: Desk) -> None:
    cid, ref = await d.complaint_by_email("refused", "Lò vi sóng không chạy, đề nghị đổi.")
    await d.asked_for_the_date(cid, ref)
    incident = datetime.now(VIETNAM_TZ).date() - timedelta(days=30)
    await d.customer_answers(ref, f"Ngày {_dmy(incident)} lò bắt đầu hỏng.")
    await d.case_in(cid, "awaiting_filing_review")
    await d.mail(ref, "đang được xem xét vì gửi sau thời hạn")
    refused = await d.act("supervisor", cid, "refuse_late_filing", {})
    assert refused["state"] == "refused"
    # the refusal states the date the customer gave later (the complaint had none)
    letter = _text(await d.mail(ref, "Thông báo không thụ lý"))
    assert f"sự việc xảy ra ngày {_dmy(incident)}" in letter
    assert f"kết thúc vào ngày {_dmy(d.routing_case(cid).filing_deadline)}" in letter


async def _date_in_time_changes_nothing_else(d: Desk) -> None:
    yesterday = datetime.now(VIETNAM_TZ).date() - timedelta(days=1)
    cid, ref = await d.complaint_by_email("timely", "Máy giặt rò nước, mong được hỗ trợ.")
    await d.asked_for_the_date(cid, ref)
    await d.customer_answers(ref, f"Sự việc xảy ra ngày {_dmy(yesterday)}.")

    def dated() -> Any:
        case = d.routing_case(cid)
        return case if case.incident_date == yesterday.isoformat() else None
    case = await eventually(dated, message="routing recorded the date")
    assert (case.filed_late, case.state.value) == (False, "analysing")
    assert case.filing_review is None
    assert "IncidentDateRecorded" in [e["event"] for e in case.timeline]
    assert d.reply_clocks(cid)["reply"].status != "stopped"
    assert not [m for m in d.box.to(EMAIL, ref) if "xem xét" in str(m["Subject"])]

"""Step 2–4 end to end, one scenario per branch: intake, routing, sla and notify in-process
over a real nats-server and PostgreSQL, driven through the HTTP APIs like the people who use
them (customer and counter at intake, staff and departments at routing with their own
tokens). Email goes through a real SMTP conversation (aiosmtpd)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from hotro.natsbin import NatsServerProcess
from hotro.shared.clock import VIETNAM_TZ
from hotro.shared.staff.users import write_demo_users
from tests.conftest import TEST_LEASE_TTL_S, TEST_PARTITIONS
from tests.integration.intake.mailer import can_connect, deliver, free_port
from tests.support.postgres import PostgresSchemas
from tests.support.smtp import SmtpSink, running_sink
from tests.support.staff import auth as intake_auth
from tests.support.system import InProcessSystem, running_system
from tests.support.waiting import eventually

pytestmark = pytest.mark.postgres

CORPUS = Path(__file__).parents[2] / "unit" / "intake_email" / "corpus"

CUSTOMER = {"name": "Nguyễn Thị Ánh", "phone": "0912 345 678",
            "email": "anh.nguyen@example.com", "address": "12 Hàng Bài, Hoàn Kiếm, Hà Nội"}


Mailbox = SmtpSink


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    with running_sink() as running:
        yield running


class Desk:
    """The people: a customer at intake, and one demo user per role at routing."""

    def __init__(self, system: InProcessSystem, tokens: dict[str, str]) -> None:
        self.system = system
        self.tokens = tokens
        self.intake = system.client("intake")
        self.routing = system.client("routing")

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    async def submit(self, **overrides: Any) -> tuple[uuid.UUID, str]:
        body: dict[str, Any] = {"kind": "complaint", "channel": "web", "customer": CUSTOMER,
                                "product": "dien-lanh", "category": "chat-luong-san-pham",
                                "description": "Tủ lạnh mới mua không lạnh."}
        body.update(overrides)
        staff = intake_auth("agent") if body["channel"] != "web" else {}  # the counter
        response = await self.intake.post("/api/complaints", json=body,
                                          headers={"Idempotency-Key": str(uuid.uuid4()),
                                                   **staff})
        assert response.status_code == 201, response.text
        return uuid.UUID(response.json()["id"]), response.json()["reference"]

    async def case(self, cid: uuid.UUID, role: str = "auditor") -> dict[str, Any]:
        response = await self.routing.get(f"/api/cases/{cid}", headers=self.auth(role))
        return response.json() if response.status_code == 200 else {}

    async def reaches(self, cid: uuid.UUID, state: str) -> dict[str, Any]:
        async def check() -> dict[str, Any]:
            case = await self.case(cid)
            return case if case.get("state") == state else {}
        return await eventually(check, message=f"case {cid} {state}")

    async def act(self, role: str, cid: uuid.UUID, action: str,
                  body: dict[str, Any] | None = None) -> httpx.Response:
        return await self.routing.post(f"/api/cases/{cid}/actions/{action}", json=body,
                                       headers=self.auth(role))

    async def ok(self, role: str, cid: uuid.UUID, action: str,
                 body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.act(role, cid, action, body)
        assert response.status_code == 200, f"{action}: {response.text}"
        result: dict[str, Any] = response.json()
        return result


@contextlib.asynccontextmanager
async def desk(nats: NatsServerProcess, tmp_path: Path, pg: PostgresSchemas,
               smtp_port: int, *, intake_smtp_port: int | None = None) -> AsyncIterator[Desk]:
    """With ``intake_smtp_port``, intake also listens for mail there (bounces come back)."""
    tokens = write_demo_users(tmp_path / "users.toml")
    intake = {} if intake_smtp_port is None else {"smtp_listen_port": intake_smtp_port}
    async with running_system(
            nats.url, pg.url, tmp_path, partitions=TEST_PARTITIONS,
            lease_ttl_s=TEST_LEASE_TTL_S,
            settings_extra={"routing": {"users_file": str(tmp_path / "users.toml")},
                            "notify": {"smtp_host": "127.0.0.1", "smtp_port": smtp_port,
                                       "smtp_starttls": False},
                            "intake": intake}) as system:
        d = Desk(system, tokens)
        async with d.intake, d.routing:
            yield d


def _events(case: dict[str, Any]) -> list[str]:
    """The case's steps; sla's reply deadline, noted whenever its DeadlineSet arrives, is
    left out: its place among the steps depends on sla's timing, not on the scenario."""
    return [e["event"] for e in case["timeline"] if e["event"] != "ReplyDeadlineNoted"]


def _due(days: int) -> str:
    return (datetime.now(VIETNAM_TZ).date() + timedelta(days=days)).isoformat()


async def test_a_information_requested_twice_then_resolved_and_replied_by_email(
        provisioned: NatsServerProcess, tmp_path: Path, pg_schemas: PostgresSchemas,
        mailbox: tuple[Mailbox, int]) -> None:
    box, port = mailbox
    async with desk(provisioned, tmp_path, pg_schemas, port) as d:
        cid, ref = await d.submit()
        await d.reaches(cid, "analysing")

        for number, (items, channel) in enumerate(
                [(["hoa-don", "phieu-bao-hanh"], "email"), (["anh-san-pham"], "counter")],
                start=1):
            asked = await d.ok("support", cid, "request_info",
                               {"items": items, "due_date": _due(5),
                                "message": "Xin quý khách bổ sung giấy tờ."})
            assert asked["state"] == "awaiting_customer_info"
            assert asked["info_rounds"] == number
            # notify asks the customer by email
            # the acknowledgement, then one email per round
            def emailed(n: int = 1 + number) -> bool:
                return len(box.to(CUSTOMER["email"], ref)) >= n
            await eventually(emailed, message=f"information request {number} emailed")
            # the customer answers through intake; routing ticks the items named
            answer = await d.intake.post(f"/api/complaints/{cid}/info",
                                         headers=intake_auth("support"),
                                         json={"channel": channel, "items": items,
                                               "content": f"Bổ sung lần {number}"})
            assert answer.status_code == 202, answer.text
            case = await d.reaches(cid, "analysing")
            assert all(case["checklist"][item] for item in items)

        assert case["checklist"] == {"hoa-don": True, "phieu-bao-hanh": True,
                                     "anh-san-pham": True}
        await d.ok("support", cid, "resolve", {"resolution": "Đổi máy mới cho khách."})
        await d.ok("support", cid, "request_reply",
                   {"method": "email", "content": "Công ty sẽ đổi tủ lạnh mới cho quý khách."})

        case = await d.reaches(cid, "closed")
        assert case["reply_sent"]["method"] == "email"
        assert case["outcome"]["reason"] == "replied to the customer by email"
        replies = [m for m in box.to(CUSTOMER["email"], ref)
                   if "đổi tủ lạnh mới" in m.get_body(("plain",)).get_content()]  # type: ignore[union-attr]
        assert len(replies) == 1
        assert case["reply_sent"]["proof"] == replies[0]["Message-ID"]
        events = _events(case)
        assert events.count("InfoRequested") == 2 and events.count("InfoProvided") == 2
        assert events[-4:] == ["ResolvedBySupport", "ReplyRequested", "ReplySent", "Closed"]
        staff = [e for e in case["timeline"] if e["actor_kind"] == "staff"]
        assert {e["actor_id"] for e in staff} == {"demo.support"}


async def test_b_referred_to_a_department_that_responds_then_replied_by_letter(
        provisioned: NatsServerProcess, tmp_path: Path, pg_schemas: PostgresSchemas,
        mailbox: tuple[Mailbox, int]) -> None:
    box, port = mailbox
    async with desk(provisioned, tmp_path, pg_schemas, port) as d:
        cid, ref = await d.submit()
        case = await d.reaches(cid, "analysing")
        assert case["triage"]["department"] == "ky-thuat-bao-hanh"  # the rule's proposal
        await d.ok("support", cid, "refer", {"department": "ky-thuat-bao-hanh",
                                             "question": "Máy nén có lỗi nhà sản xuất?",
                                             "internal_due": _due(3)})

        async def in_department_queue() -> list[dict[str, Any]]:
            response = await d.routing.get("/api/departments/ky-thuat-bao-hanh/queue",
                                           headers=d.auth("department"))
            return [r for r in response.json() if r["complaint_id"] == str(cid)]
        await eventually(in_department_queue,
                         message="the referral in the department queue")
        # the department is alerted by email (notify)
        await eventually(lambda: box.to("kythuat@vhv.vn", ref),
                         message="department alerted")

        answered = await d.ok("department", cid, "record_department_response",
                              {"result": "Lỗi máy nén do nhà sản xuất: đổi máy."})
        assert answered["state"] == "department_responded"
        assert answered["referrals"][-1]["response"]["result"].startswith("Lỗi máy nén")

        await d.ok("support", cid, "request_reply",
                   {"method": "letter", "content": "Công ty xin đổi máy mới cho quý khách."})
        async with d.system.client("notify", role="support") as notify:
            # notify prints the letter; the staff member who posts it records the number
            async def printed() -> list[dict[str, Any]]:
                deliveries = (await notify.get("/api/deliveries",
                                               params={"complaint_id": str(cid)})).json()
                return [x for x in deliveries
                        if x["purpose"] == "reply" and x["status"] == "awaiting_post"]
            found: list[dict[str, Any]] = await eventually(
                printed, message="the reply letter printed")
            [letter] = found
            assert letter["method"] == "letter"
            assert letter["to"] == CUSTOMER["address"]
            pdf = await notify.get(f"/api/letters/{letter['id']}.pdf")
            assert pdf.content.startswith(b"%PDF")
            posted = await notify.post(f"/api/deliveries/{letter['id']}/tracking",
                                       json={"tracking_number": "RR123456789VN",
                                             "carrier": "VNPost"})
            assert posted.status_code == 200, posted.text
        case = await d.reaches(cid, "closed")
        assert case["reply_sent"]["method"] == "letter"
        assert case["reply_sent"]["proof"] == "post:VNPost:RR123456789VN"
        assert _events(case)[-4:] == ["DepartmentResponded", "ReplyRequested", "ReplySent",
                                      "Closed"]
        responded = [e for e in case["timeline"] if e["event"] == "DepartmentResponded"]
        assert responded[0]["actor_id"] == "demo.kythuat"


async def test_c_resolved_at_once_and_replied_by_phone_recorded_by_staff(
        provisioned: NatsServerProcess, tmp_path: Path, pg_schemas: PostgresSchemas,
        mailbox: tuple[Mailbox, int]) -> None:
    _, port = mailbox
    async with desk(provisioned, tmp_path, pg_schemas, port) as d:
        cid, _ = await d.submit(kind="advice", channel="hotline", product=None, category=None,
                                description="Hỏi cách bật chế độ tiết kiệm điện.")
        case = await d.reaches(cid, "analysing")
        assert case["triage"]["outcome"] == "support_can_resolve"
        await d.ok("agent", cid, "resolve", {"resolution": "Hướng dẫn chế độ Eco."})
        called_at = datetime.now(UTC) - timedelta(minutes=3)
        replied = await d.ok("agent", cid, "record_reply_sent",
                             {"method": "phone", "at": called_at.isoformat(),
                              "summary": "Đã gọi khách, hướng dẫn bật Eco; khách hài lòng.",
                              "proof": "call-2025-7781"})
        assert replied["state"] == "replied"
        assert "close" not in replied["allowed_actions"]  # an agent does not close
        closed = await d.ok("support", cid, "close",
                            {"reason": "Đã tư vấn qua điện thoại, khách đồng ý."})
        assert closed["state"] == "closed"
        reply = closed["reply_sent"]
        assert reply["recorded_by"] == "demo.agent"
        assert reply["summary"].startswith("Đã gọi khách")
        assert datetime.fromisoformat(reply["sent_at"]) == called_at
        assert closed["outcome"]["reason"] == "Đã tư vấn qua điện thoại, khách đồng ý."
        # sla hears the case closed and stops its reply clock
        sla = d.system.application("sla")
        await eventually(lambda: [c for c in sla.clocks_of(cid)
                                  if c.kind == "reply" and c.status != "running"],
                         message="reply clock no longer running")


async def test_d_late_complaint_reviewed_and_refused_with_the_rule(
        provisioned: NatsServerProcess, tmp_path: Path, pg_schemas: PostgresSchemas,
        mailbox: tuple[Mailbox, int]) -> None:
    box, port = mailbox
    async with desk(provisioned, tmp_path, pg_schemas, port) as d:
        incident = datetime.now(VIETNAM_TZ).date() - timedelta(days=40)
        cid, ref = await d.submit(incident_date=incident.isoformat())
        await d.reaches(cid, "awaiting_filing_review")
        # support may not decide it; the supervisor refuses it with the rule
        assert (await d.act("support", cid, "refuse_late_filing", {})).status_code == 403
        await d.ok("supervisor", cid, "refuse_late_filing", {})
        case = await d.reaches(cid, "refused")
        assert case["outcome"]["reason"] == "late_filing"
        assert "7 ngày làm việc" in case["outcome"]["explanation"]
        assert case["filing_review"]["by"] == "demo.supervisor"
        assert case["allowed_actions"] == []  # the auditor only reads
        [refusal] = await eventually(lambda: [m for m in box.to(CUSTOMER["email"], ref)
                                              if "không thụ lý" in str(m["Subject"])],
                                     message="refusal emailed to the customer")
        plain = refusal.get_body(("plain",))
        assert plain is not None
        text = plain.get_content()
        assert f"đã kết thúc vào ngày {case['filing_deadline'][8:10]}/" in text
        assert "trong vòng 7 ngày làm việc kể từ ngày xảy ra sự việc" in text

        async def refusal_noted() -> list[dict[str, Any]]:
            return [n for n in (await d.case(cid))["notes"]
                    if n["text"].startswith("refusal delivered by email")]
        await eventually(refusal_noted,
                         message="the refusal delivery on the case")


async def test_e_a_department_cannot_close_and_nothing_is_stored(
        provisioned: NatsServerProcess, tmp_path: Path, pg_schemas: PostgresSchemas,
        mailbox: tuple[Mailbox, int]) -> None:
    _, port = mailbox
    async with desk(provisioned, tmp_path, pg_schemas, port) as d:
        cid, _ = await d.submit()
        await d.reaches(cid, "analysing")
        await d.ok("support", cid, "refer", {"department": "ky-thuat-bao-hanh",
                                             "question": "Có bảo hành không?"})
        await d.ok("department", cid, "record_department_response", {"result": "Có."})
        routing = d.system.application("routing")
        before = routing.max_notification_id()
        for action in ("close", "force_close"):
            refused = await d.act("department", cid, action, {"reason": "xong"})
            assert refused.status_code == 403
            # refused by the route's policy: only the roles that may take the action
            assert refused.json()["detail"].startswith("role 'department' may not call this")
        reply = await d.act("department", cid, "request_reply",
                            {"method": "email", "content": "x"})
        assert reply.status_code == 403
        assert routing.max_notification_id() == before
        assert (await d.case(cid))["state"] == "department_responded"


async def test_f_a_reply_by_email_that_bounces_is_due_again_and_sent_by_letter(
        provisioned: NatsServerProcess, tmp_path: Path, pg_schemas: PostgresSchemas,
        mailbox: tuple[Mailbox, int]) -> None:
    box, port = mailbox
    inbound = free_port()
    async with desk(provisioned, tmp_path, pg_schemas, port, intake_smtp_port=inbound) as d:
        cid, ref = await d.submit()
        await d.reaches(cid, "analysing")
        await d.ok("support", cid, "resolve", {"resolution": "Đổi máy mới cho khách."})
        await d.ok("support", cid, "request_reply",
                   {"method": "email", "content": "Công ty sẽ đổi tủ lạnh mới cho quý khách."})
        closed = await d.reaches(cid, "closed")
        message_id = closed["reply_sent"]["proof"]
        assert [m["Message-ID"] for m in box.to(CUSTOMER["email"], ref)
                if "đổi tủ lạnh mới" in m.get_body(("plain",)).get_content()  # type: ignore[union-attr]
                ] == [message_id]

        # the customer's mail server sends it back: a delivery status notification
        await eventually(lambda: can_connect(inbound), message="intake's SMTP listener up")
        dsn = (CORPUS / "bounce_dsn.eml").read_bytes()
        dsn = dsn.replace(b"<kn-2026-000123.ack@VHV.vn>", message_id.encode()).replace(
            b"khach.hang@example.net", CUSTOMER["email"].encode())
        code, text = await deliver(inbound, dsn, mail_from="")
        assert code == 250 and "Bounce recorded on" in text, text

        case = await d.reaches(cid, "reply_due")
        assert case["reply_sent"] is None and case["outcome"] is None
        assert case["reply_undelivered"]["proof"] == message_id
        assert f"our email {message_id} bounced" in case["reply_undelivered"]["reason"]
        assert _events(case)[-3:] == ["Closed", "Reopened", "ReplyUndelivered"]
        assert "request_reply" in (await d.case(cid, "support"))["allowed_actions"]
        # sla counts a reply again; the customer's own page shows the case open again
        sla = d.system.application("sla")
        await eventually(lambda: [c for c in sla.clocks_of(cid)
                                  if c.kind.startswith("reply") and c.status == "running"],
                         message="a reply clock running again")
        intake = d.system.application("intake")
        await eventually(lambda: "Reopened" in [type(e).__name__ for e in
                                                intake.repository.event_store.get(cid)]
                         and not intake.get_request(cid).closed,
                         message="the customer's request open again")

        # support sends it by letter: notify prints it, staff post it
        resent = await d.ok("support", cid, "request_reply",
                            {"method": "letter",
                             "content": "Công ty sẽ đổi tủ lạnh mới cho quý khách."})
        assert resent["state"] == "reply_due" and resent["reply_undelivered"] is None
        assert "request_reply" not in resent["allowed_actions"]

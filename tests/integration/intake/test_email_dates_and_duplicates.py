"""Over real SMTP conversations (smtplib against intake's own listener), real NATS and
PostgreSQL: an email complaint's incident date read from its Vietnamese text applies the
filing window (routing opens the case with it); one without a date has routing's first
information request ask for it, and the date the customer then sends gets the filing
verdict; the same customer by HTTP and email about the same order
is linked as a possible duplicate, which staff merge or dismiss over HTTP (events), and
another customer is not linked."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from hotro.natsbin import NatsServerProcess
from hotro.services.intake.application import IntakeApplication
from hotro.services.intake.domain import Request
from hotro.shared.clock import SettableClock
from tests.conftest import TEST_LEASE_TTL_S, TEST_PARTITIONS
from tests.support.postgres import PostgresSchemas
from tests.support.staff import auth
from tests.support.system import running_system
from tests.support.waiting import eventually

from .mailer import can_connect, deliver, free_port

#: Friday 20/11/2026, 09:00 in Hanoi
NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
CUSTOMER = "an.nguyen@example.vn"


def mail(message_id: str, body: str, *, sender: str = CUSTOMER,
         subject: str = "Khiếu nại về tủ lạnh") -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Nguyễn Văn An <{sender}>"
    msg["To"] = "contact@vhv.vn"
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    msg.set_content(body)
    return msg.as_bytes()


async def _received(intake: IntakeApplication, port: int, message_id: str, body: str,
                    sender: str = CUSTOMER) -> Request:
    code, text = await deliver(port, mail(message_id, body, sender=sender), mail_from=sender)
    assert code == 250 and "Received as KN-" in text, text
    request_id = intake.request_for_message(message_id)
    assert request_id is not None
    return intake.get_request(request_id)


async def test_the_incident_date_in_an_emails_text_applies_the_filing_window(
        provisioned: NatsServerProcess, pg_schemas: PostgresSchemas, tmp_path: Path) -> None:
    port = free_port()
    async with running_system(
            provisioned.url, pg_schemas.url, tmp_path, partitions=TEST_PARTITIONS,
            lease_ttl_s=TEST_LEASE_TTL_S, clock=SettableClock(NOW),
            services=("intake", "routing"),
            settings_extra={"intake": {"smtp_listen_port": port}}) as system:
        intake: IntakeApplication = system.application("intake")
        routing: Any = system.application("routing")
        await eventually(lambda: can_connect(port), message="SMTP listener up")

        # 7 working days from Thu 05/11/2026 end on Mon 16/11: received on 20/11, late
        late = await _received(intake, port, "<late.1@example.vn>",
                               "Kính gửi công ty,\nNgày 05/11/2026 tôi nhận tủ lạnh bị móp "
                               "cửa.\nMong được đổi hàng.")
        assert late.details["incident_date"] == "2026-11-05"
        assert late.details["incident_date_source"] == {
            "source": "extracted_from_text", "phrase": "Ngày 05/11/2026",
            "rule": "dd/mm/yyyy"}
        assert (late.filed_late, late.filing_deadline) == (True, "2026-11-16")

        timely = await _received(intake, port, "<timely.1@example.vn>",
                                 "Hôm qua máy giặt nhà tôi bị rò nước khi vắt.")
        assert timely.details["incident_date"] == "2026-11-19"
        assert (timely.filed_late, timely.filing_deadline) == (False, "2026-11-30")

        # no date (and two different ones) : no filing window, the customer is asked
        undated = await _received(intake, port, "<undated.1@example.vn>",
                                  "Tủ lạnh không lạnh, mong công ty kiểm tra giúp.")
        assert undated.details["incident_date"] is None
        assert undated.details["incident_date_source"] == {
            "source": "not_found", "why": "none", "phrases": []}
        assert (undated.filed_late, undated.filing_deadline) == (False, None)
        ambiguous = await _received(intake, port, "<two-dates.1@example.vn>",
                                    "Mua ngày 01/11/2026, đến 12/11/2026 thì hỏng.")
        assert ambiguous.details["incident_date_source"]["why"] == "ambiguous"
        assert ambiguous.details["incident_date"] is None

        def case(request: Request) -> Any:
            try:
                return routing.get_case(request.id)
            except Exception:  # not opened yet
                return None

        opened = await eventually(lambda: all(case(r) for r in (late, timely, undated,
                                                                ambiguous)),
                                  message="routing opened the four cases")
        assert opened
        assert (case(late).incident_date, case(late).filed_late) == ("2026-11-05", True)
        assert (case(timely).incident_date, case(timely).filed_late) == ("2026-11-19", False)
        for asked in (undated, ambiguous):
            assert case(asked).triage["checklist"][0] == "ngay-su-co", case(asked).triage
        for dated in (late, timely):
            assert "ngay-su-co" not in case(dated).triage["checklist"]
        # staff see the proposal through routing's API (what the console pre-ticks)
        async with system.client("routing") as client:
            view = (await client.get(f"/api/cases/{undated.id}", headers=auth())).json()
        assert view["triage"]["checklist"][0] == "ngay-su-co"

        # the customer answers by email (the reference in the subject threads it): the date
        # they give gets the filing verdict as of the complaint's receipt (20/11: late)
        code, text = await deliver(port, mail(
            "<answer.1@example.vn>", "Dạ, sự việc xảy ra ngày 10/11/2026 ạ.",
            subject=f"Re: {undated.reference} bổ sung thông tin"), mail_from=CUSTOMER)
        assert code == 250 and f"Added to {undated.reference}" in text, text
        assert intake.get_request(undated.id).incident_date_given == {
            "incident_date": "2026-11-10", "phrase": "ngày 10/11/2026", "rule": "dd/mm/yyyy",
            "filing_deadline": "2026-11-19", "filed_late": True}


async def test_the_same_customer_by_http_and_email_is_linked_and_staff_decide(
        provisioned: NatsServerProcess, pg_schemas: PostgresSchemas, tmp_path: Path) -> None:
    port = free_port()
    clock = SettableClock(NOW)
    async with running_system(
            provisioned.url, pg_schemas.url, tmp_path, partitions=TEST_PARTITIONS,
            lease_ttl_s=TEST_LEASE_TTL_S, clock=clock, services=("intake",),
            settings_extra={"intake": {"smtp_listen_port": port}}) as system:
        intake: IntakeApplication = system.application("intake")
        await eventually(lambda: can_connect(port), message="SMTP listener up")
        async with system.client("intake") as client:
            r = await client.post("/api/complaints", headers=auth("agent"), json={
                "kind": "complaint", "channel": "counter",
                "customer": {"name": "Nguyễn Văn An", "email": CUSTOMER},
                "product": "dien-lanh", "category": "chat-luong-san-pham",
                "order_ref": "DH-2026-7781", "incident_date": "2026-11-18",
                "description": "Tủ lạnh giao về không lạnh."})
            assert r.status_code == 201, r.text
            counter = r.json()
            clock.advance(hours=5)

            first = await _received(intake, port, "<dup.1@example.vn>",
                                    "Về mã đơn hàng dh-2026-7781: tủ lạnh vẫn không lạnh.")
            [link] = first.duplicates.values()
            assert (link["reference"], link["matched_on"], link["contact"],
                    link["status"]) == (counter["reference"], ["order"], ["email"],
                                        "possible")
            [found] = [e for e in intake.events.get(first.id)
                       if type(e).__name__ == "PossibleDuplicatesFound"]
            assert found.candidates[0]["reference"] == counter["reference"]  # type: ignore[attr-defined]

            # another customer about the same order: no link
            stranger = await _received(intake, port, "<other.1@example.vn>",
                                       "Đơn hàng DH-2026-7781 là của tôi, giao thiếu.",
                                       sender="hoa.le@example.vn")
            assert stranger.duplicates == {}

            # support confirms: merged into the counter's case, an event on both
            r = await client.post(
                f"/api/complaints/{first.reference}/duplicates/{counter['reference']}/confirm",
                json={"reason": "cùng đơn hàng, khách gửi lại qua email"}, headers=auth())
            assert r.status_code == 200, r.text
            assert r.json()["merged_into"] == counter["reference"]
            assert [type(e).__name__ for e in intake.events.get(first.id)][-1] == \
                "DuplicateMerged"
            assert [type(e).__name__ for e in intake.events.get(counter["id"])][-1] == \
                "DuplicateAbsorbed"
            view = (await client.get(f"/api/complaints/{counter['reference']}",
                                     headers=auth())).json()
            assert view["merged_from"] == [first.reference]

            # a third message links to both earlier ones; a supervisor dismisses one
            clock.advance(days=1)
            again = await _received(intake, port, "<dup.2@example.vn>",
                                    "Đơn hàng số DH20267781 — tôi hỏi lại lần nữa.")
            assert {v["reference"] for v in again.duplicates.values()} == {
                counter["reference"], first.reference}
            r = await client.post(
                f"/api/complaints/{again.reference}/duplicates/{counter['reference']}/dismiss",
                json={}, headers=auth("supervisor"))
            assert r.status_code == 200 and r.json()["status"] == "dismissed", r.text
            view = (await client.get(f"/api/complaints/{again.reference}",
                                     headers=auth())).json()
            statuses = {d["reference"]: d["status"] for d in view["possible_duplicates"]}
            assert statuses == {counter["reference"]: "dismissed",
                                first.reference: "possible"}
            assert view["merged_into"] is None

"""Notify end to end: intake and sla → JetStream → notify → a real SMTP conversation
(aiosmtpd), the dispatch log, staff-recorded phone replies, and an SMTP outage seen by
routing. sla runs too: the acknowledgement promises its reply clock's last day."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import date
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from hotro.natsbin import NatsServerProcess
from hotro.shared.contracts import events
from hotro.shared.contracts.envelope import Actor, Envelope
from tests.conftest import TEST_LEASE_TTL_S, TEST_PARTITIONS
from tests.support.postgres import PostgresSchemas
from tests.support.staff import staff_id
from tests.support.system import InProcessSystem, running_system
from tests.support.waiting import eventually
from tests.unit.notify.conftest import free_port
from tests.unit.notify.test_email_smtp import Sink

COMPLAINT: dict[str, Any] = {
    "kind": "complaint",
    "channel": "web",
    "customer": {"name": "Nguyễn Thị Ánh", "phone": "0912 345 678",
                 "email": "anh.nguyen@example.com"},
    "description": "Tủ lạnh mới mua không lạnh, đề nghị bảo hành.",
}


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def sink(smtp_port: int) -> Iterator[Sink]:
    handler = Sink()
    controller = Controller(handler, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()


def _smtp(port: int) -> dict[str, dict[str, Any]]:
    return {"notify": {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_starttls": False}}


async def _submit(system: InProcessSystem, **overrides: Any) -> dict[str, Any]:
    async with system.client("intake") as client:
        response = await client.post("/api/complaints", json={**COMPLAINT, **overrides},
                                     headers={"Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 201, response.text
    return dict(response.json())


def _mails(sink: Sink, reference: str) -> list[EmailMessage]:
    out = []
    for envelope in sink.received:
        message = message_from_bytes(envelope.original_content or b"", policy=policy.default)
        if reference in str(message["Subject"]):
            out.append(message)
    return out


def _wire(system: InProcessSystem, event_type: str, complaint_id: uuid.UUID) -> list[Envelope]:
    return [e for e in system.application("notify").envelopes()
            if e.event_type == event_type and e.complaint_id == complaint_id]


async def test_vietnamese_acknowledgement_over_smtp_once_and_a_phone_reply(
        provisioned: NatsServerProcess, tmp_path: Path, sink: Sink, smtp_port: int) -> None:
    async with running_system(provisioned.url, lambda s: f"sqlite:///{tmp_path}/{s}.sqlite",
                              tmp_path, partitions=TEST_PARTITIONS,
                              lease_ttl_s=TEST_LEASE_TTL_S, settings_extra=_smtp(smtp_port),
                              services=("intake", "sla", "notify")) as system:
        created = await _submit(system)
        reference, complaint_id = created["reference"], uuid.UUID(created["id"])

        [mail] = await eventually(lambda: _mails(sink, reference), message="acknowledgement")
        assert str(mail["Subject"]) == \
            f"[{reference}] Xác nhận đã tiếp nhận khiếu nại của Quý khách"
        assert str(mail["To"]) == "Nguyễn Thị Ánh <anh.nguyen@example.com>"
        body = mail.get_body(("plain",))
        assert body is not None and body.get_content_charset() == "utf-8"
        text = body.get_content()
        assert "Kính gửi Quý khách Nguyễn Thị Ánh," in text and reference in text

        # the date promised is sla's reply deadline
        [deadline] = [e for e in system.application("sla").envelopes()
                      if e.event_type == "DeadlineSet" and e.complaint_id == complaint_id
                      and e.payload["clock"] == "reply"]
        last_day = date.fromisoformat(deadline.payload["last_day"])
        assert f"chậm nhất ngày {last_day:%d/%m/%Y}" in text

        # the Message-ID is the recorded proof: on the wire and in the dispatch log
        [ack] = await eventually(lambda: _wire(system, "AcknowledgementSent", complaint_id),
                                 message="AcknowledgementSent")
        assert ack.payload["proof"] == mail["Message-ID"] and ack.payload["method"] == "email"
        async with system.client("notify", role="support") as notify:
            log = (await notify.get("/api/deliveries",
                                    params={"complaint_id": str(complaint_id)})).json()
        assert [(e["purpose"], e["status"], e["proof"]) for e in log] == \
            [("acknowledgement", "sent", mail["Message-ID"])]

        # the same request event delivered twice sends once
        notify_app = system.application("notify")
        received = next(e for e in system.application("intake").envelopes()
                        if e.event_type == "ComplaintReceived"
                        and e.complaint_id == complaint_id)
        assert await asyncio.to_thread(notify_app.handle, received) is False
        intake_relay = system.runtime("intake").relay
        assert intake_relay is not None
        intake_relay.replay_from(0)
        other = await _submit(system)  # a later complaint flows through the same path
        await eventually(lambda: _mails(sink, other["reference"]), message="second ack")
        await eventually(lambda: intake_relay.position
                         >= system.application("intake").max_notification_id(),
                         message="intake relay replayed its log")
        assert len(_mails(sink, reference)) == 1
        assert len(_wire(system, "AcknowledgementSent", complaint_id)) == 1

        # a phone reply: a staff task; ReplySent once the staff member records the call
        request = events.ReplyRequested(reference=reference, method="phone",
                                        content="Gọi điện hướng dẫn khách bảo hành.")
        routing_event = Envelope(
            event_id=uuid.uuid4(), event_type=request.EVENT_TYPE, schema_version=1,
            complaint_id=complaint_id, producer="routing", notification_id=1,
            occurred_at=ack.occurred_at, actor=Actor(kind="staff", id="staff-7"),
            correlation_id=ack.correlation_id, payload=request.model_dump(mode="json"))
        assert await asyncio.to_thread(notify_app.handle, routing_event)
        async with system.client("notify", role="support") as notify:
            [task] = (await notify.get("/api/deliveries", params={
                "complaint_id": str(complaint_id), "status": "task_open"})).json()
            assert task["method"] == "phone" and task["to"] == "+84912345678"
            done = await notify.post(f"/api/deliveries/{task['id']}/outcome",
                                     json={"summary": "Đã gọi, khách đồng ý mang máy đến.",
                                           "proof": "CALL-0042"})
        assert done.status_code == 200, done.text
        [reply] = await eventually(lambda: _wire(system, "ReplySent", complaint_id),
                                   message="ReplySent")
        assert reply.payload["recorded_by"] == staff_id("support")  # the token's user
        assert reply.payload["method"] == "phone" and reply.payload["proof"] == "CALL-0042"
        assert reply.correlation_id != ack.correlation_id  # the staff action's own trace


@pytest.mark.postgres
async def test_smtp_down_retries_then_fails_and_mail_flows_once_it_is_back(
        provisioned: NatsServerProcess, tmp_path: Path, pg_schemas: PostgresSchemas,
        smtp_port: int) -> None:
    async with running_system(provisioned.url, pg_schemas.url, tmp_path,
                              partitions=TEST_PARTITIONS, lease_ttl_s=TEST_LEASE_TTL_S,
                              settings_extra=_smtp(smtp_port),
                              services=("intake", "routing", "sla", "notify")) as system:
        down = await _submit(system)
        complaint_id = uuid.UUID(down["id"])
        [failed] = await eventually(lambda: _wire(system, "NotificationFailed", complaint_id),
                                    message="NotificationFailed")
        assert failed.payload["attempts"] == 5  # NotifySettings.max_attempts
        assert failed.payload["purpose"] == "acknowledgement"
        routing = system.application("routing")
        await eventually(lambda: any("acknowledgement by email failed after 5" in n["text"]
                                     for n in routing._find(complaint_id).notes),
                         message="routing noted the failed acknowledgement")
        async with system.client("notify", role="support") as notify:
            log = (await notify.get("/api/deliveries",
                                    params={"complaint_id": str(complaint_id)})).json()
        assert {(e["purpose"], e["to"]) for e in log} == {
            ("acknowledgement", "anh.nguyen@example.com"),
            ("alert_delivery_failed", "support@vhv.vn")}
        assert next(e for e in log if e["purpose"] == "acknowledgement")["attempts"] == 5

        handler = Sink()
        controller = Controller(handler, hostname="127.0.0.1", port=smtp_port)
        controller.start()
        try:
            back = await _submit(system)
            [mail] = await eventually(lambda: _mails(handler, back["reference"]),
                                      message="acknowledgement after SMTP came back")
            [ack] = await eventually(
                lambda: _wire(system, "AcknowledgementSent", uuid.UUID(back["id"])),
                message="AcknowledgementSent after SMTP came back")
            assert ack.payload["proof"] == mail["Message-ID"]
        finally:
            controller.stop()

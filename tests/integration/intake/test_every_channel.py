"""Issue 7 acceptance, one scenario per channel against real servers: nats-server, the
service's own SMTP listener (smtplib client), HTTP, and notify sending the acknowledgement
whose Message-ID a reply then threads on."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import unicodedata
import uuid
from pathlib import Path
from typing import Any

from hotro.natsbin import NatsServerProcess
from hotro.services.intake.adapters import hotline_webhook as hotline
from hotro.services.intake.adapters.inbound_mail import MailIntake
from hotro.services.intake.application import IntakeApplication
from hotro.shared.contracts import events as wire
from tests.conftest import TEST_LEASE_TTL_S, TEST_PARTITIONS
from tests.support.staff import auth
from tests.support.system import InProcessSystem, running_system
from tests.support.waiting import eventually

from .mailer import PDF, can_connect, cp1258_mail, deliver, free_port, utf8_mail

SECRET = "hotline-test-secret"


def received(intake: IntakeApplication) -> list[wire.ComplaintReceived]:
    return [p for p in (wire.parse_payload(e.event_type, e.schema_version, e.payload)
                        for e in intake.envelopes())
            if isinstance(p, wire.ComplaintReceived)]


def acknowledgement_proof(system: InProcessSystem, reference: str) -> str | None:
    for e in system.application("notify").envelopes():
        if e.event_type == "AcknowledgementSent" and e.payload["reference"] == reference:
            proof: str = e.payload["proof"]
            return proof
    return None


def signed(event: dict[str, Any], secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    ts = str(int(time.time()))
    return body, {hotline.TIMESTAMP_HEADER: ts, "content-type": "application/json",
                  hotline.SIGNATURE_HEADER: hotline.sign(secret, ts, body)}


async def test_every_channel_makes_exactly_one_case(provisioned: NatsServerProcess,
                                                    tmp_path: Path) -> None:
    port = free_port()
    async with running_system(
            provisioned.url, lambda s: f"sqlite:///{tmp_path}/{s}.sqlite", tmp_path,
            partitions=TEST_PARTITIONS, lease_ttl_s=TEST_LEASE_TTL_S,
            services=("intake", "sla", "notify"),  # sla owns the reply date
            settings_extra={"intake": {"smtp_listen_port": port,
                                       "hotline_webhook_secret": SECRET}}) as system:
        intake: IntakeApplication = system.application("intake")
        mail: MailIntake = system.apps["intake"].state.mail
        await eventually(lambda: can_connect(port), message="SMTP listener up")

        # ---- web / counter over HTTP ----
        async with system.client("intake") as client:
            r = await client.post("/api/complaints", headers=auth("agent"), json={
                "kind": "complaint", "channel": "counter",
                "customer": {"name": "Đỗ Minh Khoa", "phone": "0903 123 456"},
                "product": "dien-thoai-may-tinh-bang", "category": "bao-hanh-sua-chua",
                "description": "Màn hình điện thoại bị sọc.", "incident_date": None})
            assert r.status_code == 201, r.text
            assert r.json()["reference"].startswith("KN-")

        # ---- email, UTF-8: Vietnamese subject, HTML body, an attachment ----
        code, text = await deliver(port, utf8_mail("<first.utf8@example.vn>"))
        assert code == 250, text
        assert "Received as KN-" in text
        request_id = intake.request_for_message("<first.utf8@example.vn>")
        assert request_id is not None
        case = intake.get_request(request_id)
        assert case.channel == "email"
        customer = await asyncio.to_thread(intake.customer_of, case)
        assert customer is not None and customer["email"] == "an.nguyen@example.vn"
        description = case.details["description"]
        assert description.startswith("Khiếu nại: điều hòa kêu rất to")
        assert "kêu rất to" in description and "alert(1)" not in description
        [attachment] = case.details["attachments"]
        assert attachment["sha256"] == hashlib.sha256(PDF).hexdigest()
        assert attachment["filename"] == "hóa-đơn.pdf"
        assert mail.attachments.read(attachment["sha256"]) == PDF

        # ---- email, windows-1258 ----
        subject = "Đề nghị đổi máy giặt lỗi"
        code, text = await deliver(port, cp1258_mail(
            "<legacy.1258@example.vn>", subject=subject,
            html="<p>Máy giặt <i>không vắt được</i>, xin đổi máy mới.</p>"),
            mail_from="lan.pham@example.vn")
        assert code == 250, text
        legacy_id = intake.request_for_message("<legacy.1258@example.vn>")
        assert legacy_id is not None
        legacy = intake.get_request(legacy_id)
        assert unicodedata.is_normalized("NFC", legacy.details["description"])
        assert legacy.details["description"].startswith(subject)
        assert "không vắt được" in legacy.details["description"]
        assert len(legacy.details["attachments"]) == 1

        # ---- notify acknowledges by email; its Message-ID comes back to intake ----
        proof = await eventually(lambda: acknowledgement_proof(system, case.reference),
                                 message="acknowledgement sent by notify")
        assert proof is not None
        await eventually(lambda: intake.message_index(proof), message="ack Message-ID known")
        maildir_files = [p for p in (tmp_path / "mail").rglob("*") if p.is_file()]
        assert any(proof.encode() in p.read_bytes() for p in maildir_files)

        # ---- the customer replies to the acknowledgement: information, not a new case ----
        code, text = await deliver(port, utf8_mail(
            "<reply.1@example.vn>", subject="Re: Xác nhận đã nhận yêu cầu",
            in_reply_to=proof, attachment=b""))
        assert code == 250, text
        assert f"Added to {case.reference}" in text
        case = intake.get_request(case.id)
        assert len(case.info) == 1 and case.info[0]["channel"] == "email"

        # ---- the same Message-ID delivered again makes no second case ----
        code, text = await deliver(port, utf8_mail("<first.utf8@example.vn>"))
        assert code == 250 and "Already received" in text, text
        references = [p.reference for p in received(intake)]
        assert len(references) == 3 == len(set(references))
        email_received = [p for p in received(intake) if p.channel == "email"]
        assert {p.inbound_message_id for p in email_received} == {
            "<first.utf8@example.vn>", "<legacy.1258@example.vn>"}

        # ---- hotline webhook: a valid and an invalid signature ----
        async with system.client("intake") as client:
            event = {"event": "call.started", "call_id": f"pbx-{uuid.uuid4()}",
                     "caller": "0903123456"}
            body, headers = signed(event)
            ok = await client.post("/api/intake/hotline/calls", content=body, headers=headers)
            assert ok.status_code == 200, ok.text
            assert ok.json()["status"] == "linked"  # the counter case of the same number
            assert ok.json()["reference"] == r.json()["reference"]
            forged_body, forged = signed({**event, "call_id": "forged"}, secret="guess")
            bad = await client.post("/api/intake/hotline/calls", content=forged_body,
                                    headers=forged)
            assert bad.status_code == 401
            stranger_body, stranger = signed({"event": "call.started", "call_id": "pbx-2",
                                              "caller": "0977000111"})
            draft = await client.post("/api/intake/hotline/calls", content=stranger_body,
                                      headers=stranger)
            assert draft.json()["status"] == "draft"
            drafts = (await client.get("/api/intake/hotline/drafts",
                                      headers=auth("agent"))).json()
            assert [d["call_id"] for d in drafts] == ["pbx-2"]
        assert len(received(intake)) == 3  # calls create drafts or links, never cases

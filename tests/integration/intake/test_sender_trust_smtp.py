"""Sender trust over real SMTP conversations (smtplib against intake's own listener), with
notify sending the acknowledgement whose Message-ID the replies quote: a stranger's reply
and a spoofed header From become new flagged cases and leave the victim's case as it was;
the customer's own reply, DKIM-signed, joins and its verdict is recorded."""

from __future__ import annotations

from pathlib import Path

from hotro.natsbin import NatsServerProcess
from hotro.services.intake.application import IntakeApplication
from hotro.services.intake.domain import Request
from tests.conftest import TEST_LEASE_TTL_S, TEST_PARTITIONS
from tests.support.staff import auth
from tests.support.system import InProcessSystem, running_system
from tests.support.waiting import eventually
from tests.unit.intake.dkim_keys import Keys

from .mailer import can_connect, deliver, free_port, utf8_mail

CUSTOMER = "an.nguyen@example.vn"
STRANGER = "ke.gian@evil.example"


def acknowledgement_proof(system: InProcessSystem, reference: str) -> str | None:
    for e in system.application("notify").envelopes():
        if e.event_type == "AcknowledgementSent" and e.payload["reference"] == reference:
            proof: str = e.payload["proof"]
            return proof
    return None


def _crlf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


async def test_only_the_customer_can_add_to_their_case_by_email(
        provisioned: NatsServerProcess, tmp_path: Path) -> None:
    port = free_port()
    keys = Keys()
    async with running_system(
            provisioned.url, lambda s: f"sqlite:///{tmp_path}/{s}.sqlite", tmp_path,
            partitions=TEST_PARTITIONS, lease_ttl_s=TEST_LEASE_TTL_S,
            services=("intake", "sla", "notify"),  # notify acknowledges, on sla's date
            settings_extra={"intake": {"smtp_listen_port": port}},
            factory_extra={"intake": {"dkim_dns": keys.dns}}) as system:
        intake: IntakeApplication = system.application("intake")
        await eventually(lambda: can_connect(port), message="SMTP listener up")

        code, text = await deliver(port, utf8_mail("<victim.1@example.vn>"),
                                   mail_from=CUSTOMER)
        assert code == 250 and "Received as KN-" in text, text
        victim_id = intake.request_for_message("<victim.1@example.vn>")
        assert victim_id is not None
        victim = intake.get_request(victim_id)
        proof = await eventually(lambda: acknowledgement_proof(system, victim.reference),
                                 message="acknowledgement sent by notify")
        assert proof is not None
        await eventually(lambda: intake.message_index(proof), message="ack Message-ID known")

        # ---- a stranger replies to the victim's acknowledgement ----
        code, text = await deliver(port, utf8_mail(
            "<cancel.1@evil.example>", subject="Re: Xác nhận - tôi muốn hủy khiếu nại",
            sender=STRANGER, in_reply_to=proof, attachment=b""), mail_from=STRANGER)
        assert code == 250 and "Received as KN-" in text, text
        assert victim.reference not in text  # the stranger learns nothing of the case
        stranger_id = intake.request_for_message("<cancel.1@evil.example>")
        assert stranger_id is not None and stranger_id != victim_id
        stranger = intake.get_request(stranger_id)
        assert stranger.details["flags"] == ["sender_mismatch"]
        assert stranger.details["claimed"]["reference"] == victim.reference

        # ---- the customer's address in the header From, another envelope sender ----
        code, text = await deliver(port, utf8_mail(
            "<spoof.1@evil.example>", subject="Re: Xác nhận", sender=CUSTOMER,
            in_reply_to=proof, attachment=b""), mail_from=STRANGER)
        assert code == 250 and "Received as KN-" in text, text
        spoof_id = intake.request_for_message("<spoof.1@evil.example>")
        assert spoof_id is not None and spoof_id != victim_id
        assert intake.get_request(spoof_id).details["claimed"]["reason"] == \
            "envelope_sender_differs"

        # the victim's case got nothing of either
        assert intake.get_request(victim_id).info == []
        assert not [e for e in intake.events.get(victim_id)
                    if isinstance(e, Request.InfoProvided)]
        async with system.client("intake") as client:
            view = (await client.get(f"/api/complaints/{victim.reference}",
                                     headers=auth())).json()
        assert {c["request_id"] for c in view["claimed_by"]} == {str(stranger_id),
                                                                 str(spoof_id)}

        # ---- the customer's own reply, DKIM-signed, joins ----
        signed = keys.sign(_crlf(utf8_mail("<reply.1@example.vn>", subject="Re: Xác nhận",
                                           in_reply_to=proof, attachment=b"")))
        code, text = await deliver(port, signed, mail_from=CUSTOMER)
        assert code == 250 and f"Added to {victim.reference}" in text, text
        [info] = [e for e in intake.events.get(victim_id)
                  if isinstance(e, Request.InfoProvided)]
        assert info.mail_auth == {"source": "dkim-check", "results": {"dkim": "pass"},
                                  "aligned": {"dkim": True}}

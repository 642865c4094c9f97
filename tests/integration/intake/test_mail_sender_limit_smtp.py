"""Over a real SMTP conversation (smtplib against intake's listener): one sender's new
requests beyond the limit are answered 451 (the sending server tries again later) and make
no case; another sender is not held up."""

from __future__ import annotations

from pathlib import Path

from hotro.natsbin import NatsServerProcess
from hotro.services.intake.application import IntakeApplication
from hotro.shared.contracts import events as wire
from tests.conftest import TEST_LEASE_TTL_S, TEST_PARTITIONS
from tests.support.system import running_system
from tests.support.waiting import eventually

from .mailer import can_connect, deliver, free_port, utf8_mail


async def test_a_flood_from_one_sender_is_deferred_at_the_smtp_door(
        provisioned: NatsServerProcess, tmp_path: Path) -> None:
    port = free_port()
    async with running_system(
            provisioned.url, lambda s: f"sqlite:///{tmp_path}/{s}.sqlite", tmp_path,
            partitions=TEST_PARTITIONS, lease_ttl_s=TEST_LEASE_TTL_S, services=("intake",),
            settings_extra={"intake": {"smtp_listen_port": port,
                                       "mail_per_sender": 2}}) as system:
        intake: IntakeApplication = system.application("intake")
        await eventually(lambda: can_connect(port), message="SMTP listener up")
        answers = [await deliver(port, utf8_mail(f"<flood.{n}@example.vn>"),
                                 mail_from="an.nguyen@example.vn") for n in range(4)]
        assert [code for code, _ in answers] == [250, 250, 451, 451], answers
        assert "Too many new requests from this sender" in answers[2][1]
        other = await deliver(port, utf8_mail("<other.1@example.org>",
                                              sender="binh@example.org"),
                              mail_from="binh@example.org")
        assert other[0] == 250, other
        filed = [e.payload["inbound_message_id"] for e in intake.envelopes()
                 if e.event_type == wire.ComplaintReceived.EVENT_TYPE]
        assert filed == ["<flood.0@example.vn>", "<flood.1@example.vn>",
                         "<other.1@example.org>"]

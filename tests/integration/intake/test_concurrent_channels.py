"""30 requests at once across three channels (counter and hotline staff over HTTP, email
over SMTP) on PostgreSQL: 30 cases, 30 unique references, none lost or doubled."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hotro.natsbin import NatsServerProcess
from hotro.services.intake.application import IntakeApplication
from hotro.shared.contracts import events as wire
from tests.conftest import TEST_LEASE_TTL_S, TEST_PARTITIONS
from tests.support.postgres import PostgresSchemas
from tests.support.staff import auth
from tests.support.system import running_system
from tests.support.waiting import eventually

from .mailer import can_connect, deliver, free_port, utf8_mail

PER_CHANNEL = 10


@pytest.mark.postgres
async def test_thirty_concurrent_submissions_make_thirty_cases(
        provisioned: NatsServerProcess, tmp_path: Path, pg_schemas: PostgresSchemas) -> None:
    port = free_port()
    async with running_system(provisioned.url, pg_schemas.url, tmp_path,
                              partitions=TEST_PARTITIONS, lease_ttl_s=TEST_LEASE_TTL_S,
                              services=("intake",),
                              settings_extra={"intake": {"smtp_listen_port": port}}) as system:
        intake: IntakeApplication = system.application("intake")
        await eventually(lambda: can_connect(port), message="SMTP listener up")
        async with system.client("intake") as client:

            async def by_staff(channel: str, i: int) -> str:
                r = await client.post(
                    "/api/complaints", headers=auth("agent"),
                    json={"kind": "complaint", "channel": channel,
                          "customer": {"name": f"Khách {channel} {i}",
                                       "phone": f"09{1 if channel == 'counter' else 2}"
                                                f"00000{i:02d}"},
                          "product": "gia-dung", "category": "chat-luong-san-pham",
                          "description": f"Yêu cầu số {i} qua {channel}"})
                assert r.status_code == 201, r.text
                reference: str = r.json()["reference"]
                return reference

            async def by_email(i: int) -> str:
                code, text = await deliver(port, utf8_mail(
                    f"<concurrent-{i}@example.vn>", sender=f"khach{i}@example.vn",
                    subject=f"Khiếu nại số {i}"), mail_from=f"khach{i}@example.vn")
                assert code == 250, text
                return text.rsplit(" ", 1)[-1]

            replies = await asyncio.gather(
                *(by_staff("counter", i) for i in range(PER_CHANNEL)),
                *(by_staff("hotline", i) for i in range(PER_CHANNEL)),
                *(by_email(i) for i in range(PER_CHANNEL)))

        assert len(set(replies)) == 3 * PER_CHANNEL, replies
        stored = [p for p in (wire.parse_payload(e.event_type, e.schema_version, e.payload)
                              for e in intake.envelopes())
                  if isinstance(p, wire.ComplaintReceived)]
        assert sorted(p.reference for p in stored) == sorted(replies)
        assert sorted(p.channel for p in stored) == sorted(
            ["counter"] * PER_CHANNEL + ["hotline"] * PER_CHANNEL + ["email"] * PER_CHANNEL)
        numbers = sorted(int(ref.rsplit("-", 1)[-1]) for ref in replies)
        assert numbers == list(range(1, 3 * PER_CHANNEL + 1))  # none skipped, none twice

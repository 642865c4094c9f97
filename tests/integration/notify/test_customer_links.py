"""The customer's link end to end: a complaint filed at intake is acknowledged by notify
over SMTP with the case's link; the link opens the case at intake (its customer API); a
``CustomerLinkReissued`` on the bus makes notify send a link of the new generation."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import nats

from hotro.natsbin import NatsServerProcess
from hotro.shared.contracts import events
from hotro.shared.contracts.envelope import Actor, Envelope
from hotro.shared.contracts.subjects import EVENTS_STREAM, event_subject
from hotro.shared.staff import capabilities
from hotro.shared.staff.signing import ensure_keys
from tests.conftest import TEST_LEASE_TTL_S, TEST_PARTITIONS
from tests.integration.notify.test_notify_delivery import COMPLAINT, _smtp, sink, smtp_port
from tests.support.system import running_system
from tests.support.waiting import eventually
from tests.unit.notify.test_email_smtp import Sink

__all__ = ["sink", "smtp_port"]  # the fixtures, shared with the delivery tests

LINK = re.compile(r"/c/(cap1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)")


def _mails(sink: Sink, reference: str) -> list[EmailMessage]:
    found = []
    for envelope in sink.received:
        message = message_from_bytes(envelope.original_content or b"", policy=policy.default)
        if reference in str(message["Subject"]):
            found.append(message)
    return found


def _token(mail: EmailMessage) -> str:
    body = mail.get_body(("plain",))
    assert body is not None
    tokens: list[str] = LINK.findall(body.get_content())
    assert len(tokens) == 1
    return tokens[0]


async def test_the_acknowledged_link_opens_the_case_and_a_reissue_sends_a_new_one(
        provisioned: NatsServerProcess, tmp_path: Path, sink: Sink, smtp_port: int) -> None:
    keys_file = tmp_path / "capability-keys.toml"
    keys = ensure_keys(keys_file, capabilities.PURPOSE, datetime.now(UTC))
    links: dict[str, Any] = {"capability_keys_file": str(keys_file)}
    extra = {"intake": links, "notify": {**_smtp(smtp_port)["notify"], **links}}
    async with running_system(provisioned.url, lambda s: f"sqlite:///{tmp_path}/{s}.sqlite",
                              tmp_path, partitions=TEST_PARTITIONS,
                              lease_ttl_s=TEST_LEASE_TTL_S, settings_extra=extra,
                              services=("intake", "sla", "notify")) as system:
        async with system.client("intake") as intake:
            created = await intake.post("/api/complaints", json=COMPLAINT,
                                        headers={"Idempotency-Key": str(uuid.uuid4())})
            assert created.status_code == 201, created.text
            reference, complaint_id = created.json()["reference"], created.json()["id"]

            [ack] = await eventually(lambda: _mails(sink, reference), message="acknowledgement")
            token = _token(ack)
            claims = capabilities.verify(token, keys, datetime.now(UTC))
            assert (claims.cid, claims.ref, claims.gen) == (complaint_id, reference, 0)
            # the link is the customer's key to their case at intake
            case = await intake.get("/api/customer/case",
                                    headers={"Authorization": f"Bearer {token}"})
            assert case.status_code == 200, case.text
            assert case.json()["reference"] == reference

        # intake reissues the link (its outbox will publish this): generation 1
        reissued = Envelope(
            event_id=uuid.uuid4(), event_type="CustomerLinkReissued", schema_version=1,
            complaint_id=uuid.UUID(complaint_id), producer="intake",
            notification_id=10**12, occurred_at=datetime.now(UTC),
            actor=Actor(kind="staff", id="test.support"), correlation_id=uuid.uuid4(),
            payload=events.CustomerLinkReissued(reference=reference,
                                                generation=1).model_dump(mode="json"))
        nc = await nats.connect(provisioned.url)
        try:
            await nc.jetstream().publish(
                event_subject("intake", reissued.event_type, reissued.complaint_id,
                              TEST_PARTITIONS),
                reissued.model_dump_json().encode(), stream=EVENTS_STREAM,
                headers={"Nats-Msg-Id": f"test:{reissued.event_id}"})
        finally:
            await nc.close()

        def fresh() -> list[EmailMessage]:
            return [m for m in _mails(sink, reference) if m is not ack
                    and "đường dẫn mới" in str(m["Subject"]).lower()]

        [mail] = await eventually(fresh, message="the fresh link")
        new = capabilities.verify(_token(mail), keys, datetime.now(UTC))
        assert (new.cid, new.ref, new.gen) == (complaint_id, reference, 1)

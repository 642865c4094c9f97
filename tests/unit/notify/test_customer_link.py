"""The customer's link to their case in what notify sends: it verifies with the capability
keys and names the case; a reissue (CustomerLinkReissued) sends a link of the new
generation; without keys the messages go without a link; the link is never stored."""

from __future__ import annotations

import logging
import re
import uuid
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import pytest
from pypdf import PdfReader

from hotro.services.notify.adapters.channels import Channels
from hotro.services.notify.adapters.letter_pdf import LetterStore
from hotro.services.notify.adapters.rendering import CompanyInfo
from hotro.services.notify.adapters.sms import RecordingShortMessageGateway
from hotro.services.notify.application import CustomerLinks, NotifyApplication
from hotro.services.notify.main import customer_links
from hotro.services.notify.settings import NotifySettings
from hotro.shared.contracts import events
from hotro.shared.staff import capabilities
from hotro.shared.staff.signing import KeyRing, ensure_keys, new_keyring
from tests.unit.notify.test_application import Outbox
from tests.unit.notify.wire import (
    REFERENCE,
    acknowledged,
    deadline_approaching,
    dispatches,
    envelope,
    info_requested,
    memory_app,
)

NOW = datetime(2026, 3, 6, 3, 0, tzinfo=UTC)
BASE = "https://hotro.example.vn"
LINK = re.compile(re.escape(BASE) + r"/c/(cap1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)")


@pytest.fixture
def keys() -> KeyRing:
    return new_keyring(capabilities.PURPOSE, NOW)


@pytest.fixture
def app(keys: KeyRing) -> NotifyApplication:
    return memory_app(customer_links=CustomerLinks(keys, BASE))


@pytest.fixture
def outbox() -> Outbox:
    return Outbox()


@pytest.fixture
def sms() -> RecordingShortMessageGateway:
    return RecordingShortMessageGateway()


@pytest.fixture
def channels(outbox: Outbox, sms: RecordingShortMessageGateway, tmp_path: Path) -> Channels:
    return Channels(email=outbox, sms=sms, letters=LetterStore(tmp_path / "letters"),
                    company=CompanyInfo(), clock=lambda: NOW)


def send_all(app: NotifyApplication, channels: Channels) -> None:
    for dispatch in dispatches(app):
        if dispatch.is_pending:
            app.attempt(dispatch.id, channels)


def tokens_in(text: str) -> list[str]:
    return LINK.findall(text)


def reissued(complaint_id: uuid.UUID, generation: int) -> events.Payload:
    return events.CustomerLinkReissued(reference=REFERENCE, generation=generation)


def test_the_acknowledgement_carries_a_link_that_verifies_and_names_the_case(
        app: NotifyApplication, channels: Channels, outbox: Outbox, keys: KeyRing) -> None:
    complaint = uuid.uuid4()
    acknowledged(app, complaint)
    send_all(app, channels)

    [email] = outbox.sent
    [token] = tokens_in(email.text)
    assert set(tokens_in(email.html or "")) == {token}
    claims = capabilities.verify(token, keys, NOW)
    assert (claims.cid, claims.ref, claims.gen) == (str(complaint), REFERENCE, 0)
    assert claims.expires_at > NOW
    # the link is a bearer secret: made at send time, never stored in notify's log
    stored = [n.state for n in app.recorder.select_notifications(start=1, limit=1000)]
    assert stored and not any(b"cap1." in state for state in stored)


def test_information_requests_and_reminders_carry_the_link(
        app: NotifyApplication, channels: Channels, outbox: Outbox, keys: KeyRing) -> None:
    complaint = uuid.uuid4()
    acknowledged(app, complaint)
    app.handle(info_requested(complaint))
    app.handle(deadline_approaching(complaint, "customer_info"))
    send_all(app, channels)

    by_subject = {email.subject: email for email in outbox.sent}
    assert len(by_subject) == 3
    for email in outbox.sent:
        [token] = tokens_in(email.text)
        assert capabilities.verify(token, keys, NOW).cid == str(complaint)


def test_a_reissue_sends_a_link_of_the_new_generation_once(
        app: NotifyApplication, channels: Channels, outbox: Outbox, keys: KeyRing) -> None:
    complaint = uuid.uuid4()
    acknowledged(app, complaint)
    send_all(app, channels)
    assert app.handle(envelope("intake", reissued(complaint, 1), complaint))
    send_all(app, channels)

    fresh = outbox.sent[-1]
    assert "new link" in fresh.subject.lower() or "mới" in fresh.subject
    [token] = tokens_in(fresh.text)
    claims = capabilities.verify(token, keys, NOW)
    assert (claims.cid, claims.ref, claims.gen) == (str(complaint), REFERENCE, 1)
    [link_dispatch] = [d for d in dispatches(app) if d.purpose == "customer_link"]
    assert link_dispatch.method == "email" and link_dispatch.status == "sent"

    # the same generation again (a redelivery with another id, a replay): nothing new
    app.handle(envelope("intake", reissued(complaint, 1), complaint))
    assert len([d for d in dispatches(app) if d.purpose == "customer_link"]) == 1
    # later messages carry the new generation too
    app.handle(info_requested(complaint))
    send_all(app, channels)
    [token] = tokens_in(outbox.sent[-1].text)
    assert capabilities.verify(token, keys, NOW).gen == 1
    # nothing of the link reissue goes on the wire
    assert not [e for e in app.envelopes() if "Link" in e.event_type]


def test_sms_and_paper_carry_the_link(app: NotifyApplication, channels: Channels,
                                      sms: RecordingShortMessageGateway, keys: KeyRing,
                                      tmp_path: Path) -> None:
    by_phone, at_counter = uuid.uuid4(), uuid.uuid4()
    acknowledged(app, by_phone, channel="hotline")
    acknowledged(app, at_counter, channel="counter")
    send_all(app, channels)

    [message] = sms.messages
    [token] = tokens_in(message.text)
    assert capabilities.verify(token, keys, NOW).cid == str(by_phone)
    assert message.text.startswith("Công ty VHV: da tiep nhan khieu nai KN-")

    [slip] = [d for d in dispatches(app) if d.complaint_id == at_counter]
    assert slip.method == "receipt_slip"
    pdf = (tmp_path / "letters" / f"{slip.id}.pdf").read_bytes()
    # the link wraps over lines of the printed page (paragraphs start with a space)
    text = "".join(page.extract_text().replace("\n", "")
                   for page in PdfReader(BytesIO(pdf)).pages)
    [token] = tokens_in(text)
    assert capabilities.verify(token, keys, NOW).cid == str(at_counter)


def test_a_counter_case_gets_its_fresh_link_by_email_not_by_slip(
        app: NotifyApplication, channels: Channels, outbox: Outbox) -> None:
    complaint = uuid.uuid4()
    acknowledged(app, complaint, channel="counter")
    app.handle(envelope("intake", reissued(complaint, 2), complaint))
    [fresh] = [d for d in dispatches(app) if d.purpose == "customer_link"]
    assert fresh.method == "email"


def test_without_keys_messages_go_without_a_link_and_it_is_said(
        channels: Channels, outbox: Outbox, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    app = memory_app()
    complaint = uuid.uuid4()
    acknowledged(app, complaint)
    send_all(app, channels)
    [email] = outbox.sent
    assert "/c/" not in email.text and "cap1." not in (email.html or "")
    assert REFERENCE in email.text

    settings = NotifySettings(nats_url="nats://127.0.0.1:4222", store_url="memory:",
                              allow_memory_store=True, data_dir=str(tmp_path))
    with caplog.at_level(logging.WARNING):
        assert customer_links(settings) is None
    assert "WITHOUT the customer's link" in caplog.text
    keys_file = tmp_path / "capability-keys.toml"
    ensure_keys(keys_file, capabilities.PURPOSE, NOW)
    configured = settings.model_copy(update={"capability_keys_file": str(keys_file)})
    links = customer_links(configured)
    assert links is not None and links.public_base_url == settings.public_base_url


def test_a_public_base_url_without_https_is_refused_at_start(keys: KeyRing) -> None:
    with pytest.raises(ValueError, match="https"):
        CustomerLinks(keys, "http://hotro.example.vn")

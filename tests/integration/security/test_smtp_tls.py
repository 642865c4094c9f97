"""SMTP over TLS, in real SMTP conversations: intake's listener offers STARTTLS and, when
told to, refuses AUTH, MAIL and DATA before it; notify's sender speaks STARTTLS and
implicit TLS (SMTPS) and checks the relay's certificate."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from pydantic import ValidationError

from hotro.natsbin import free_port
from hotro.services.intake.adapters.email.smtp_listener import (
    IntakeSmtpHandler,
    start_smtp_listener,
)
from hotro.services.intake.settings import IntakeSettings
from hotro.services.notify.adapters.email_smtp import OutgoingEmail, SmtpMailer
from hotro.services.notify.application.channel import ChannelFailure, TransientFailure
from hotro.shared.runtime.tls import server_context
from tests.integration.security.pki import Pki, make_pki

MESSAGE = (b"From: khach@example.vn\r\nTo: contact@vhv.vn\r\nSubject: test\r\n"
           b"Message-ID: <tls-1@example.vn>\r\n\r\nXin chao\r\n")


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[bytes, str, list[str]]] = []

    async def __call__(self, raw: bytes, mail_from: str, rcpt_tos: list[str]) -> str:
        self.messages.append((raw, mail_from, rcpt_tos))
        return "250 OK queued"


def _listener(pki: Pki, inbox: Inbox, *, require_tls: bool) -> Iterator[int]:
    port = free_port()
    controller = start_smtp_listener(
        IntakeSmtpHandler(inbox, accept_recipients=["vhv.vn"]), "127.0.0.1", port,
        tls_context=server_context(str(pki.server_cert), str(pki.server_key)),
        require_tls=require_tls)
    try:
        yield port
    finally:
        controller.stop()


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
def requiring(pki: Pki, inbox: Inbox) -> Iterator[int]:
    yield from _listener(pki, inbox, require_tls=True)


@pytest.fixture
def offering(pki: Pki, inbox: Inbox) -> Iterator[int]:
    yield from _listener(pki, inbox, require_tls=False)


def test_required_tls_refuses_auth_mail_and_data_in_clear_then_accepts_after_starttls(
        requiring: int, pki: Pki, inbox: Inbox) -> None:
    with smtplib.SMTP("127.0.0.1", requiring, timeout=10) as smtp:
        smtp.ehlo("client.example.vn")
        assert smtp.has_extn("starttls")
        assert smtp.docmd("AUTH", "PLAIN AGtoYWNoAHNlY3JldA==")[0] == 530
        assert smtp.mail("khach@example.vn")[0] == 530
        assert smtp.rcpt("contact@vhv.vn")[0] == 530
        assert smtp.docmd("DATA")[0] == 530
        assert inbox.messages == []

        assert smtp.starttls(context=pki.client_context())[0] == 220
        smtp.ehlo("client.example.vn")
        assert not smtp.has_extn("starttls")  # already encrypted
        assert isinstance(smtp.sock, ssl.SSLSocket)
        smtp.sendmail("khach@example.vn", ["contact@vhv.vn"], MESSAGE)
    assert [(frm, to) for _, frm, to in inbox.messages] == [
        ("khach@example.vn", ["contact@vhv.vn"])]
    assert b"Xin chao" in inbox.messages[0][0]


def test_offered_tls_still_takes_mail_in_clear_from_senders_without_tls(
        offering: int, inbox: Inbox) -> None:
    with smtplib.SMTP("127.0.0.1", offering, timeout=10) as smtp:
        smtp.ehlo("old-mta.example.vn")
        assert smtp.has_extn("starttls")
        smtp.sendmail("khach@example.vn", ["contact@vhv.vn"], MESSAGE)
    assert len(inbox.messages) == 1


def test_starttls_to_a_client_that_does_not_trust_the_certificate_fails(
        requiring: int, inbox: Inbox) -> None:
    with smtplib.SMTP("127.0.0.1", requiring, timeout=10) as smtp:
        smtp.ehlo()
        with pytest.raises(ssl.SSLCertVerificationError):
            smtp.starttls(context=ssl.create_default_context())  # system CAs only
    assert inbox.messages == []


def test_tls_settings_are_checked_at_start(pki: Pki, tmp_path: Path) -> None:
    base: dict[str, Any] = {"nats_url": "nats://127.0.0.1:1", "store_url": "memory:",
                            "allow_memory_store": True, "pii_hash_secret": "x"}
    with pytest.raises(ValidationError, match="REQUIRE_TLS needs"):
        IntakeSettings(**base, smtp_require_tls=True)
    with pytest.raises(ValidationError, match="both"):
        IntakeSettings(**base, smtp_tls_cert_file=str(pki.server_cert))
    with pytest.raises(ValidationError, match="does-not-exist"):
        IntakeSettings(**base, smtp_tls_cert_file=str(tmp_path / "does-not-exist.crt"),
                       smtp_tls_key_file=str(pki.server_key))
    with pytest.raises(ValidationError, match="TLS certificate"):  # a key of another cert
        IntakeSettings(**base, smtp_tls_cert_file=str(pki.server_cert),
                       smtp_tls_key_file=str(pki.client_key))
    settings = IntakeSettings(**base, smtp_tls_cert_file=str(pki.server_cert),
                              smtp_tls_key_file=str(pki.server_key), smtp_require_tls=True)
    assert settings.smtp_tls() is not None


def _email() -> OutgoingEmail:
    return OutgoingEmail(to="contact@vhv.vn", subject="Xác nhận", text="Xin chào",
                         message_id="<ack-1@vhv.vn>", reference="KN-2026-000001")


def _mailer(port: int, context: ssl.SSLContext | None, *, implicit: bool = False,
            starttls: bool = True) -> SmtpMailer:
    return SmtpMailer("127.0.0.1", port, starttls, None, None, 10, sender="contact@vhv.vn",
                      ssl_context=context, implicit_tls=implicit)


def test_notify_sends_over_starttls_to_a_listener_that_requires_it(
        requiring: int, pki: Pki, inbox: Inbox) -> None:
    _mailer(requiring, pki.client_context()).send(_email())
    assert len(inbox.messages) == 1
    with pytest.raises(ChannelFailure, match="530"):  # without STARTTLS: refused
        _mailer(requiring, None, starttls=False).send(_email())
    with pytest.raises(TransientFailure, match="CERTIFICATE_VERIFY_FAILED"):
        _mailer(requiring, None).send(_email())  # the system's CAs do not know ours
    assert len(inbox.messages) == 1


class _Sink:
    def __init__(self) -> None:
        self.tls: list[bool] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert server.transport is not None
        self.tls.append(server.transport.get_extra_info("ssl_object") is not None)
        return "250 OK"


def test_notify_sends_over_implicit_tls(pki: Pki) -> None:
    sink = _Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port,
                            ssl_context=server_context(str(pki.server_cert),
                                                       str(pki.server_key)))
    controller.start()
    try:
        _mailer(port, pki.client_context(), implicit=True).send(_email())
        with pytest.raises(TransientFailure):
            _mailer(port, ssl.create_default_context(), implicit=True).send(_email())
    finally:
        controller.stop()
    assert sink.tls == [True]

"""Email sender trust (``MailIntake.handle`` directly; the SMTP conversation is in
tests/integration/intake/test_sender_trust_smtp.py): a message joins the case it claims
only when its envelope sender AND header From are the case's contact; otherwise it is a
new case flagged ``sender_mismatch``, linked for staff, and the claimed case is unchanged.
What vouches for the sender (our MTA's Authentication-Results, else our own DKIM check) is
recorded; punycode and lookalike domains are kept as received and flagged."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from hotro.services.intake.adapters.email import AttachmentStore, EmailLimits, QuarantineStore
from hotro.services.intake.adapters.email.authentication import (
    parse_authentication_results,
    verify_dkim,
)
from hotro.services.intake.adapters.inbound_mail import MailIntake
from hotro.services.intake.application import IntakeApplication
from hotro.services.intake.domain import Request
from hotro.shared.clock import SettableClock
from hotro.shared.contracts import events as wire
from tests.support.staff import auth

from .dkim_keys import Keys
from .upstream import deliver

CUSTOMER = "an.nguyen@example.vn"
ATTACKER = "ke.gian@evil.example"
ACK = "<kn-ack-1@vhv.vn>"


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


@pytest.fixture
def intake(application: IntakeApplication, tmp_path: Path, keys: Keys) -> MailIntake:
    return MailIntake(application, limits=EmailLimits(),
                      attachments=AttachmentStore(tmp_path / "att"),
                      quarantine=QuarantineStore(tmp_path / "q"), authserv_id="mx.vhv.vn",
                      dkim_dns=keys.dns)


def mail(message_id: str, *, sender: str = CUSTOMER, subject: str = "Re: Xác nhận",
         in_reply_to: str | None = None, body: str = "Tôi gửi thêm hóa đơn.",
         headers: tuple[tuple[str, str], ...] = ()) -> bytes:
    msg = EmailMessage()
    for name, value in headers:
        msg[name] = value
    msg["From"] = f"Nguyễn Văn An <{sender}>"
    msg["To"] = "contact@vhv.vn"
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg.set_content(body)
    return msg.as_bytes()


@pytest.fixture
def victim(intake: MailIntake, application: IntakeApplication,
           clock: SettableClock) -> Request:
    """A customer's case, filed by email, acknowledged by notify (its Message-ID known)."""
    first = intake.handle(mail("<first@example.vn>", subject="Khiếu nại máy giặt"), CUSTOMER,
                          ["contact@vhv.vn"])
    assert first.action == "created" and first.request_id is not None
    deliver(application, clock, "notify", first.request_id, wire.AcknowledgementSent(
        reference=first.reference or "", method="email", sent_at=clock(), proof=ACK))
    return application.get_request(first.request_id)


def _unchanged(application: IntakeApplication, victim: Request) -> None:
    now = application.get_request(victim.id)
    assert now.version == victim.version and now.info == []


async def test_a_strangers_reply_with_the_victims_in_reply_to_is_a_new_flagged_case(
        intake: MailIntake, application: IntakeApplication, victim: Request,
        client: httpx.AsyncClient) -> None:
    outcome = intake.handle(mail("<x1@evil.example>", sender=ATTACKER, in_reply_to=ACK,
                                 body="Tôi muốn hủy khiếu nại này."), ATTACKER,
                            ["contact@vhv.vn"])
    assert outcome.action == "created" and outcome.reference != victim.reference
    assert "sender_mismatch" in outcome.flags
    assert victim.reference not in outcome.reply  # the stranger learns nothing
    _unchanged(application, victim)
    assert outcome.request_id is not None
    new = application.get_request(outcome.request_id)
    assert new.details["claimed"] == {"request_id": str(victim.id),
                                      "reference": victim.reference, "via": "in-reply-to",
                                      "reason": "sender_differs"}
    # staff see the link on both cases
    theirs = (await client.get(f"/api/complaints/{new.reference}", headers=auth())).json()
    assert theirs["flags"] == ["sender_mismatch"]
    assert theirs["claimed"]["reference"] == victim.reference
    mine = (await client.get(f"/api/complaints/{victim.reference}", headers=auth())).json()
    assert mine["claimed_by"] == [{"request_id": str(new.id), "reference": new.reference,
                                   "reason": "sender_differs", "via": "in-reply-to"}]
    assert mine["info_provided"] == []


@pytest.mark.parametrize(("envelope", "header", "reason"), [
    (ATTACKER, CUSTOMER, "envelope_sender_differs"),  # a spoofed header From
    (CUSTOMER, ATTACKER, "header_from_differs"),
    ("imap:INBOX", CUSTOMER, "envelope_sender_differs"),  # no envelope (IMAP, no Return-Path)
])
def test_both_senders_must_be_the_customer(
        intake: MailIntake, application: IntakeApplication, victim: Request,
        envelope: str, header: str, reason: str) -> None:
    outcome = intake.handle(mail("<x2@example.net>", sender=header, in_reply_to=ACK),
                            envelope, ["contact@vhv.vn"])
    assert outcome.action == "created" and "sender_mismatch" in outcome.flags
    assert outcome.request_id is not None
    assert application.get_request(outcome.request_id).details["claimed"]["reason"] == reason
    _unchanged(application, victim)


def test_a_reference_in_the_subject_from_a_stranger_does_not_join(
        intake: MailIntake, application: IntakeApplication, victim: Request) -> None:
    outcome = intake.handle(mail("<x3@evil.example>", sender=ATTACKER,
                                 subject=f"Về hồ sơ {victim.reference}"), ATTACKER,
                            ["contact@vhv.vn"])
    assert outcome.action == "created" and outcome.request_id is not None
    claimed = application.get_request(outcome.request_id).details["claimed"]
    assert (claimed["reference"], claimed["via"]) == (victim.reference, "subject")
    _unchanged(application, victim)


def test_the_customers_own_reply_still_joins(intake: MailIntake,
                                             application: IntakeApplication,
                                             victim: Request) -> None:
    outcome = intake.handle(mail("<r1@example.vn>", sender="An.Nguyen@Example.VN",
                                 in_reply_to=ACK), "an.nguyen@EXAMPLE.vn", ["contact@vhv.vn"])
    assert (outcome.action, outcome.reference) == ("threaded", victim.reference)
    by_subject = intake.handle(mail("<r2@example.vn>", subject=f"Bổ sung {victim.reference}"),
                               CUSTOMER, ["contact@vhv.vn"])
    assert by_subject.action == "threaded"
    assert len(application.get_request(victim.id).info) == 2


def test_dkim_verified_here_is_recorded(intake: MailIntake, application: IntakeApplication,
                                        victim: Request, keys: Keys) -> None:
    signed = keys.sign(mail("<d1@example.vn>", in_reply_to=ACK))
    passed = intake.handle(signed, CUSTOMER, ["contact@vhv.vn"])
    assert passed.action == "threaded"
    assert passed.mail_auth == {"source": "dkim-check", "results": {"dkim": "pass"},
                                "aligned": {"dkim": True}}
    assert b"sel._domainkey.example.vn." in keys.looked_up
    [info] = [e for e in application.events.get(victim.id)
              if isinstance(e, Request.InfoProvided)]
    assert info.mail_auth == passed.mail_auth  # recorded with the information

    tampered = keys.sign(mail("<d2@example.vn>", in_reply_to=ACK)).replace(
        "hóa đơn".encode(), "hợp đồng".encode())
    failed = intake.handle(tampered, CUSTOMER, ["contact@vhv.vn"])
    assert failed.mail_auth is not None and failed.mail_auth["results"] == {"dkim": "fail"}
    keys.records[b"sel._domainkey.bulk.example."] = \
        keys.records[b"sel._domainkey.example.vn."]
    elsewhere = intake.handle(keys.sign(mail("<d6@example.vn>", in_reply_to=ACK),
                                        domain=b"bulk.example"), CUSTOMER, ["contact@vhv.vn"])
    assert elsewhere.mail_auth == {"source": "dkim-check", "results": {"dkim": "pass"},
                                   "aligned": {"dkim": False}}  # vouched by another domain
    unsigned = intake.handle(mail("<d3@example.vn>", in_reply_to=ACK), CUSTOMER,
                             ["contact@vhv.vn"])
    assert unsigned.mail_auth == {"source": "dkim-check", "results": {"dkim": "none"}}


def test_dkim_results_without_a_key_or_without_dns(keys: Keys) -> None:
    signed = keys.sign(mail("<d4@example.vn>"), domain=b"other.example")
    assert verify_dkim(signed, dns=keys.dns).results == {"dkim": "permerror"}

    def down(name: bytes, timeout: float = 5) -> bytes | None:
        raise TimeoutError("no resolver")

    assert verify_dkim(keys.sign(mail("<d5@example.vn>")), dns=down).results == {
        "dkim": "temperror"}


def test_our_receiving_hosts_authentication_results_are_recorded(
        intake: MailIntake, victim: Request) -> None:
    ours = ("Authentication-Results", "mx.vhv.vn; spf=pass smtp.mailfrom=example.vn; "
                                      "dkim=pass (2048-bit key) header.d=example.vn; "
                                      "dmarc=pass (p=reject) header.from=example.vn")
    outcome = intake.handle(mail("<a1@example.vn>", in_reply_to=ACK, headers=(ours,)),
                            CUSTOMER, ["contact@vhv.vn"])
    assert outcome.action == "threaded"
    assert outcome.mail_auth == {
        "source": "authentication-results", "authserv_id": "mx.vhv.vn",
        "results": {"spf": "pass", "dkim": "pass", "dmarc": "pass"},
        "aligned": {"spf": True, "dkim": True, "dmarc": True}}


def test_only_the_topmost_header_of_our_own_host_is_trusted(intake: MailIntake,
                                                            victim: Request) -> None:
    forged = ("Authentication-Results", "mx.vhv.vn; dkim=pass header.d=example.vn")
    theirs = ("Authentication-Results", "mx.elsewhere.example; spf=fail")
    below = intake.handle(mail("<a2@example.vn>", in_reply_to=ACK, headers=(theirs, forged)),
                          CUSTOMER, ["contact@vhv.vn"])
    assert below.mail_auth == {"source": "dkim-check", "results": {"dkim": "none"}}
    other_host = intake.handle(mail("<a3@example.vn>", in_reply_to=ACK, headers=(theirs,)),
                               CUSTOMER, ["contact@vhv.vn"])
    assert other_host.mail_auth is not None
    assert other_host.mail_auth["source"] == "dkim-check"


def test_a_dmarc_fail_from_our_host_keeps_the_mail_out_of_the_case(
        intake: MailIntake, application: IntakeApplication, victim: Request) -> None:
    failing = ("Authentication-Results", "mx.vhv.vn; spf=fail smtp.mailfrom=example.vn; "
                                         "dmarc=fail header.from=example.vn")
    outcome = intake.handle(mail("<a4@example.vn>", in_reply_to=ACK, headers=(failing,)),
                            CUSTOMER, ["contact@vhv.vn"])
    assert outcome.action == "created" and outcome.request_id is not None
    assert application.get_request(outcome.request_id).details["claimed"]["reason"] == \
        "dmarc_fail"
    _unchanged(application, victim)


def test_punycode_and_lookalike_domains_are_kept_as_received_and_flagged(
        intake: MailIntake, application: IntakeApplication, victim: Request) -> None:
    puny = f"xn--{'exámple'.encode('punycode').decode()}.vn"
    spoof = f"an.nguyen@{puny}"
    outcome = intake.handle(mail("<p1@x.example>", sender=spoof, in_reply_to=ACK), spoof,
                            ["contact@vhv.vn"])
    assert outcome.action == "created" and outcome.request_id is not None
    assert set(outcome.flags) == {"sender_mismatch", "punycode_domain", "lookalike_domain"}
    new = application.get_request(outcome.request_id)
    contact = application.customer_of(new)
    assert contact is not None and contact["email"] == spoof  # never decoded to Unicode
    assert new.details["flags"] == sorted(outcome.flags)
    _unchanged(application, victim)

    digit = "an.nguyen@examp1e.vn"
    lookalike = intake.handle(mail("<p2@x.example>", sender=digit, in_reply_to=ACK), digit,
                              ["contact@vhv.vn"])
    assert set(lookalike.flags) == {"sender_mismatch", "lookalike_domain"}
    ours = "ho.tro@vhv-vn.com"
    near_us = intake.handle(mail("<p3@x.example>", sender="cs@vnv.vn"), ours,
                            ["contact@vhv.vn"])
    assert near_us.flags == ("lookalike_domain",)  # a new case: no mismatch, one look


def test_the_authentication_results_parser() -> None:
    parsed = parse_authentication_results(
        'mx.vhv.vn 1; dkim=fail (bad sig) header.d=a.example; dkim=pass header.d=b.example;'
        ' spf=softfail smtp.mailfrom="x@c.example"; foo=bar; dmarc=none')
    assert parsed is not None and parsed.authserv_id == "mx.vhv.vn"
    assert parsed.results == {"dkim": "pass", "spf": "softfail", "dmarc": "none"}
    assert parsed.domains["dkim"] == "b.example"
    assert parse_authentication_results(";;") is None

"""By email, one sender may file so many new requests in a window, and fewer when its
domain's DMARC check failed (the From may be forged); beyond it a message is deferred
(SMTP 451: the sending server tries again later), nothing of it recorded, so the address
in its From is not sent an acknowledgement per message. Replies to the sender's own case,
other senders and mail that is no request are not held up."""

from __future__ import annotations

import threading
from email.message import EmailMessage
from pathlib import Path

from hotro.services.intake.adapters.email import AttachmentStore, EmailLimits, QuarantineStore
from hotro.services.intake.adapters.inbound_mail import MailIntake
from hotro.services.intake.application import IntakeApplication
from hotro.services.intake.public_limits import SenderLimit
from hotro.shared.contracts import events as wire
from tests.support.monotonic import SettableMonotonic
from tests.unit.intake.conftest import AppFactory
from tests.unit.intake.test_mail_intake import CORPUS, FROM, mail, wire_events

TO = ["contact@vhv.vn"]


def _received(app: IntakeApplication) -> list[str | None]:
    return [p.inbound_message_id for p in wire_events(app)
            if isinstance(p, wire.ComplaintReceived)]


def test_beyond_the_limit_a_senders_new_request_is_deferred_and_filed_later(
        make_app: AppFactory) -> None:
    http = make_app(mail_per_sender=2, public_window_s=3600)
    intake: MailIntake = http.state.mail
    app: IntakeApplication = http.state.runtime.app
    assert intake.sender_limit is not None
    clock = SettableMonotonic()
    intake.sender_limit.senders.local.monotonic = clock

    first = intake.handle(mail(message_id="<n1@example.vn>"), FROM, TO)
    second = intake.handle(mail(message_id="<n2@example.vn>"), FROM, TO)
    assert (first.action, second.action) == ("created", "created")
    # the same mailbox however its address is written
    third = intake.handle(mail(message_id="<n3@example.vn>", sender="An.Nguyen@EXAMPLE.vn"),
                          FROM, TO)
    assert third.action == "deferred"
    assert third.reply.startswith("451 4.7.1 ") and "60 minutes" in third.reply
    assert third.retry_after_s == 3600
    assert _received(app) == ["<n1@example.vn>", "<n2@example.vn>"]  # nothing of the third

    # not held up: a reply threading into the sender's case, another sender, a bounce
    threaded = intake.handle(mail(f"Bổ sung {first.reference}", message_id="<r1@example.vn>"),
                             FROM, TO)
    assert threaded.action == "threaded"
    other = intake.handle(mail(message_id="<o1@example.org>", sender="binh@example.org"),
                          "binh@example.org", TO)
    assert other.action == "created"
    auto = intake.handle((CORPUS / "out_of_office_vi.eml").read_bytes(), FROM, TO)
    assert auto.action == "ignored"

    clock.now += 1800  # half the window: still the two requests in it
    assert intake.handle(mail(message_id="<n3@example.vn>"), FROM, TO).action == "deferred"
    clock.now += 1800  # the first two leave the window: the message comes again, filed once
    again = intake.handle(mail(message_id="<n3@example.vn>"), FROM, TO)
    assert again.action == "created"
    assert intake.handle(mail(message_id="<n3@example.vn>"), FROM, TO).action == "duplicate"
    assert _received(app).count("<n3@example.vn>") == 1


def test_concurrent_messages_from_one_sender_pass_no_more_than_the_limit() -> None:
    limit = SenderLimit(per_sender=2, window_s=60)
    start = threading.Barrier(8)
    admitted: list[bool] = []

    def deliver() -> None:
        start.wait()
        admitted.append(limit.admit("sender-key") is None)

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(admitted) == [False] * 6 + [True] * 2


def _authenticated(message_id: str, dmarc: str) -> bytes:
    msg = EmailMessage()
    msg["Authentication-Results"] = (f"mx.vhv.vn; spf={dmarc} smtp.mailfrom=example.vn; "
                                     f"dmarc={dmarc} header.from=example.vn")
    msg["From"] = f"Nguyễn Văn An <{FROM}>"
    msg["To"] = "contact@vhv.vn"
    msg["Subject"] = "Khiếu nại máy giặt"
    msg["Message-ID"] = message_id
    msg.set_content("Máy giặt không vắt được.")
    return msg.as_bytes()


def test_a_sender_whose_dmarc_failed_files_fewer_new_requests(
        application: IntakeApplication, tmp_path: Path) -> None:
    intake = MailIntake(application, limits=EmailLimits(),
                        attachments=AttachmentStore(tmp_path / "att"),
                        quarantine=QuarantineStore(tmp_path / "q"), authserv_id="mx.vhv.vn",
                        sender_limit=SenderLimit(per_sender=3, per_unverified_sender=1,
                                                 window_s=3600))
    outcomes = [intake.handle(_authenticated(f"<f{n}@example.vn>", "fail"), FROM, TO).action
                for n in range(2)]
    assert outcomes == ["created", "deferred"]  # one acknowledgement to a maybe-forged From
    # the same address, authenticated: its own budget, the unverified one counted in it
    passing = [intake.handle(_authenticated(f"<p{n}@example.vn>", "pass"), FROM, TO).action
               for n in range(3)]
    assert passing == ["created", "created", "deferred"]
    assert _received(application) == ["<f0@example.vn>", "<p0@example.vn>", "<p1@example.vn>"]


def test_a_refusal_by_the_senders_limit_gives_back_the_unverified_place() -> None:
    limit = SenderLimit(per_sender=1, per_unverified_sender=1, window_s=60)
    assert limit.admit("k") is None  # verified: the sender's one place
    assert limit.admit("k", verified=False) is not None  # refused by the sender's limit...
    assert limit.unverified.local.retry_after("k") is None  # ...nothing left counted


def test_unverified_senders_together_have_one_budget() -> None:
    """A forger varying the From address: each new address has its own place, but all of
    them together only the shared budget; verified senders are not held up."""
    limit = SenderLimit(per_sender=1, per_unverified_sender=1, unverified_in_all=3,
                        window_s=60)
    outcomes = [limit.admit(f"forged-{n}", verified=False) for n in range(5)]
    assert [o is None for o in outcomes] == [True, True, True, False, False]
    assert outcomes[3] is not None and 0 < outcomes[3] <= 60
    assert limit.admit("genuine") is None
    # the refused ones left nothing counted under their own address (one place each)
    assert limit.unverified.local.retry_after("forged-3") is None
    assert limit.senders.local.retry_after("forged-4") is None
    assert limit.senders.local.retry_after("forged-0") is not None

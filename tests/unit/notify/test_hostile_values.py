"""Hostile values, generated, through notify's real rendering (``Channels.deliver``):
every purpose × method it sends by (email, letter, counter receipt, SMS) × language, with
the customer's name, email address, phone and postal address, and the words a message
carries (a reply, a refusal's explanation, a withdrawal's reason, a department's question
and name, a follow-up's excerpt, a checklist item, a relay's bounce reason) made of line
breaks, header look-alikes, HTML and ``<script>``, encoded-word look-alikes, very long
lines and words, many lines, emoji, combining marks, right-to-left and CJK script,
characters the letter's font lacks, U+FFFD, U+FEFF, zero-width and control characters.

What must hold whatever they are made of:

* an email is built: the stdlib parser reads it without a defect, with exactly the
  headers we set (our From, one To, one Subject, nothing injected), 7-bit, CRLF only, no
  line over 998 octets; its parts decode back to the text rendered, the value's words in
  them; the HTML part escapes every value (no tag or attribute but the templates' own);
* a letter is a PDF whose text (``pdftotext``, when installed) has the value's words,
  whatever glyphs the font lacks;
* an SMS is bounded and has no control character;
* nothing raises but a ``PermanentFailure`` for a recipient no channel can take (an
  address with a non-ASCII local part, a number that is none).

What they found (each also pinned by an example test below): a name stored with a line
break (before intake refused them) made every email to that customer fail as unbuildable;
a plain-ASCII name longer than a line was written on one header line (thousands of
octets); an address with an internationalised domain, which intake accepts, was refused
although its A-label needs no SMTPUTF8; a staff clock's alert printed the department's
name into its HTML unescaped (through the macros it shares with the text); and a letter
paragraph of thousands of lines took minutes to print.
"""

from __future__ import annotations

import email
import email.policy
import shutil
import subprocess
import unicodedata
import uuid
from datetime import UTC, date, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotro.services.notify.adapters import letter_pdf
from hotro.services.notify.adapters.channels import Channels
from hotro.services.notify.adapters.email_smtp import (
    OutgoingEmail,
    build_mime,
    subject_with_reference,
)
from hotro.services.notify.adapters.letter_pdf import Letter, LetterStore, render_letter_pdf
from hotro.services.notify.adapters.rendering import LANGS, PURPOSES, CompanyInfo, render
from hotro.services.notify.adapters.samples import INTERNAL, methods, sample_context
from hotro.services.notify.adapters.sms import RecordingShortMessageGateway
from hotro.services.notify.application.channel import PermanentFailure
from hotro.services.notify.domain import Contact, Dispatch

SENDER = Address(display_name="Công ty VHV", addr_spec="contact@vhv.vn")
NOW = datetime(2026, 3, 6, 3, 0, tzinfo=UTC)
PDFTOTEXT = shutil.which("pdftotext")
CASES = [(purpose, method) for purpose in PURPOSES for method in methods(purpose)]
DEPARTMENT_INBOX = "kythuat@vhv.vn"
THREAD = "<CAF0-khieu-nai@mail.example.vn>"
#: the context fields of each purpose that carry text someone outside notify wrote
FREE_TEXT: dict[str, tuple[str, ...]] = {
    "reply": ("content",),
    "info_request": ("message",),
    "refusal": ("detail",),
    "withdrawn": ("reason",),
    "alert_follow_up": ("excerpt",),
    "alert_new_referral": ("summary",),
    "alert_referral_ended": ("reason",),
    "alert_customer_withdrew": ("reason",),
    "alert_delivery_failed": ("reason",),
}
#: single-line values beside them: who (a staff id), and a department's name (the
#: catalogue's, or its code: a staff clock's alerts print it through shared macros)
SINGLE_LINE: dict[str, tuple[str, ...]] = {
    "alert_follow_up": ("handler",),
    "alert_new_referral": ("referred_by", "department"),
    "alert_referral_ended": ("ended_by", "department"),
    "alert_customer_withdrew": ("handler",),
    "alert_deadline_approaching": ("handler", "department"),
    "alert_deadline_breached": ("handler", "department"),
    "alert_deadline_moved": ("handler", "department"),
}
#: values these messages print only in another case: who closed it (not when the customer
#: withdrew it, as in the sample), who handles the case (not on a department's clock)
UNREAD = frozenset({("alert_referral_ended", "ended_by"), ("alert_deadline_moved", "handler")})
#: addresses as stored → as written on the envelope and in the To header
ADDRESSES = {"anh.nguyen@example.vn": "anh.nguyen@example.vn",
             "A.B+kn@Sub.Example.VN": "A.B+kn@Sub.Example.VN",
             "an@tênmiền.vn": "an@xn--tnmin-hsa0954c.vn",
             DEPARTMENT_INBOX: DEPARTMENT_INBOX}
#: numbers as stored that reach +84912345678 (a trailing line break is only space to it)
PHONE_NUMBERS = ("+84912345678", "0912 345 678", "+84912345678\n")

# ---- values ---------------------------------------------------------------------------------

_LETTERS = ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
            "ăâđêôơưáàảãạấầẩẫậắằẳẵặéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵĐ")
#: a word that must come through: letters and digits the letter's font has
WORD = st.text(alphabet=_LETTERS, min_size=2, max_size=12)
FRAGMENTS = (
    "\r\n", "\n", "\r", "\n\n", "\t", "\r\nBcc: victim@example.com\r\n", "\nTo: x@evil.example",
    "\x00", "\x0b\x0c", "\x1c\x1d\x1e", "\x85", "\u2028", "\u2029", "\x1b[31m", "\x7f",
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "</p></body>", "&amp;",
    "&lt;b&gt;", "]]>", "<b>", "<br/>", '"', "'", "<para>", "</font>",
    "=?utf-8?b?QmNjOiB2aWN0aW1AZXhhbXBsZS5jb20=?=", "=?", "?=", "=0D=0A", "=", ".",
    "\n.\n", "\nFrom ", "--=_hotro_", "\ufffd", "\ufeff", "\u200b\u200c\u200d", "\u00a0",
    "\u202egpj.exe", "\u2066", "e\u0301\u0302\u0303\u0304", "\u0301", "😀", "👩‍👩‍👧‍👦",
    "🇻🇳", "\U0001F9E0", "𝔘𝔫𝔦", "ꙮ", "𒀀", "ᚠᛇ", "ㄱㄴ", "中文字", "﷽", "שלום עולם",
    "مرحبا بالعالم", "\U0010fffd", "\uffff", "x" * 1200, "ạ" * 400, "word " * 300,
    "a\n" * 120, "\t" * 50, " " * 100,
)
_PIECE = st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=20))


def _one_line(value: str) -> str:
    """What intake lets through where one line is expected: nothing unprintable."""
    return "".join(ch for ch in value if ch.isprintable() or ch == " ")


@st.composite
def free_text(draw: st.DrawFn, *, single_line: bool = False) -> tuple[str, list[str]]:
    """A value and the words in it a reader must find again. Each word stands between
    spaces, so no neighbouring combining mark or joiner becomes part of it."""
    pieces: list[str] = []
    words: list[str] = []
    for _ in range(draw(st.integers(1, 8))):
        if draw(st.booleans()):
            word = draw(WORD)
            words.append(word)
            pieces.append(f" {word} ")
        else:
            pieces.append(draw(_PIECE))
    value = "".join(pieces)
    return (_one_line(value) if single_line else value), words


NAMES: st.SearchStrategy[tuple[str, list[str]]] = st.one_of(
    free_text(single_line=True),
    free_text(),  # stored before intake refused line breaks in names
    st.builds(lambda w: (" ".join([w] * 400), [w]), WORD),  # thousands of characters
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=60,
            max_size=3000).map(lambda name: (name, [])),  # plain ASCII, long
)
EMAILS = st.one_of(st.sampled_from(sorted(set(ADDRESSES) - {DEPARTMENT_INBOX})),
                   st.sampled_from(["nguyễn@example.vn", "a b@example.vn",
                                    "a@example.vn\r\nBcc: v@example.com", ""]))
PHONES = st.one_of(st.sampled_from(PHONE_NUMBERS),
                   st.sampled_from(["not a phone", "☎", "+84912345678\nx", ""]))
IN_REPLY_TO = st.sampled_from([None, THREAD, "<a\r\nBcc: v@example.com>", "<a<b@x.vn>",
                               "<a\x01b@x.vn>"])


@st.composite
def deliveries(draw: st.DrawFn) -> dict[str, Any]:
    purpose, method = draw(st.sampled_from(CASES))
    return {
        "purpose": purpose, "method": method, "lang": draw(st.sampled_from(LANGS)),
        "kind": draw(st.sampled_from(["complaint", "advice"])),
        "name": draw(NAMES), "address": draw(free_text(single_line=draw(st.booleans()))),
        "texts": {key: draw(free_text()) for key in FREE_TEXT.get(purpose, ())},
        "lines": {key: draw(free_text(single_line=True))
                  for key in SINGLE_LINE.get(purpose, ())},
        "item": draw(free_text(single_line=True)),
        "email": draw(EMAILS), "phone": draw(PHONES), "in_reply_to": draw(IN_REPLY_TO),
    }


def everywhere(purpose: str, method: str, lang: str, value: tuple[str, list[str]],
               **changes: Any) -> dict[str, Any]:
    """A case with ``value`` in every field (its printable part where one line is meant)."""
    line = (_one_line(value[0]), value[1])
    case = {"purpose": purpose, "method": method, "lang": lang, "kind": "complaint",
            "name": value, "address": value,
            "texts": {key: value for key in FREE_TEXT.get(purpose, ())},
            "lines": {key: line for key in SINGLE_LINE.get(purpose, ())},
            "item": line, "email": "anh.nguyen@example.vn", "phone": PHONE_NUMBERS[0],
            "in_reply_to": None}
    return {**case, **changes}


# ---- the channels, with transports that keep what they are given ----------------------------

class Mailbox:
    """Builds every email's bytes as the SMTP and Maildir mailers do (``build_mime``)."""

    def __init__(self) -> None:
        self.sent: list[tuple[OutgoingEmail, bytes]] = []

    def send(self, message: OutgoingEmail) -> None:
        self.sent.append((message, build_mime(message, SENDER, date=NOW)))


class LetterTray(LetterStore):
    """Keeps the letters' bytes in memory."""

    def __init__(self) -> None:
        super().__init__(Path("letters"))
        self.saved: list[bytes] = []

    def save(self, dispatch_id: str, pdf: bytes) -> Path:
        self.saved.append(pdf)
        return self.path_for(dispatch_id)


def _stored(context: dict[str, Any]) -> dict[str, Any]:
    """A context as the application stores it: JSON, dates as ISO strings."""
    return {k: v.isoformat() if isinstance(v, date | datetime) else v
            for k, v in context.items()}


def deliver(case: dict[str, Any]) -> None:
    """Build the dispatch ``case`` describes, deliver it, and check what came out."""
    purpose, method, lang = case["purpose"], case["method"], case["lang"]
    name, name_words = case["name"]
    address, address_words = case["address"]
    internal = purpose in INTERNAL
    context = _stored(sample_context(purpose, case["kind"], lang))
    words: list[str] = []
    for key, (value, value_words) in {**case["texts"], **case["lines"]}.items():
        context[key] = value
        words += value_words if (purpose, key) not in UNREAD else []
    if "department" in case["lines"] and purpose.startswith("alert_deadline_"):
        context["clock"] = "department"  # the clock whose alerts name the department
    if "items" in context:
        item, item_words = case["item"]
        context["items"] = [*context["items"], item]
        words += item_words
    if not internal:
        context["customer_name"] = name
        words += name_words
    complaint = uuid.uuid4()
    contact = Contact(complaint_id=complaint, reference=context["reference"], channel="web",
                      customer={"name": name, "email": case["email"], "phone": case["phone"],
                                "address": address},
                      language=lang, inbound_message_id=case["in_reply_to"],
                      received_at="2026-03-05T02:30:00+00:00", incident_date=None,
                      product=None, trace={})
    recipient = {"email": DEPARTMENT_INBOX if internal else case["email"],
                 "sms": case["phone"]}.get(method, address)
    dispatch = Dispatch(id=uuid.uuid4(), complaint_id=complaint,
                        reference=context["reference"], purpose=purpose, method=method,
                        recipient=recipient, language=lang, context=context,
                        message_id=f"<{uuid.uuid4()}@vhv.vn>" if method == "email" else None,
                        in_reply_to=case["in_reply_to"], internal=internal, trace={})
    mailbox, sms, letters = Mailbox(), RecordingShortMessageGateway(), LetterTray()
    channels = Channels(email=mailbox, sms=sms, letters=letters, company=CompanyInfo(),
                        clock=lambda: NOW)
    reachable = {"email": recipient in ADDRESSES,
                 "sms": recipient in PHONE_NUMBERS}.get(method, True)
    try:
        channels.deliver(dispatch, contact)
    except PermanentFailure:
        if reachable:
            raise
        return
    assert reachable, f"sent to {recipient!r}"
    if method == "email":
        [(sent, raw)] = mailbox.sent
        check_email(sent, raw, to=ADDRESSES[recipient], name=None if internal else name,
                    thread=THREAD if case["in_reply_to"] == THREAD else None, words=words)
    elif method == "sms":
        [message] = sms.messages
        assert message.to == "+84912345678"
        check_sms(message.text)
    else:
        [pdf] = letters.saved
        check_letter(pdf, [*words, *name_words, *address_words])


# ---- what must hold -------------------------------------------------------------------------

class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.data: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)

    def handle_data(self, data: str) -> None:
        self.data.append(data)


def _html(markup: str) -> _Html:
    parser = _Html()
    parser.feed(markup)
    parser.close()
    return parser


def _template_markup() -> tuple[set[str], set[str]]:
    """The tags and attributes the templates write themselves."""
    tags: set[str] = set()
    attributes: set[str] = set()
    for purpose in PURPOSES:
        for lang in LANGS:
            context = sample_context(purpose, "complaint", lang)
            parsed = _html(render(purpose, lang, context, CompanyInfo()).html)
            tags |= parsed.tags
            attributes |= parsed.attributes
    return tags, attributes


TEMPLATE_TAGS, TEMPLATE_ATTRIBUTES = _template_markup()


def _as_written(text: str) -> str:
    """A body as the writer sends it: LF line ends, ending in one."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text if text.endswith("\n") else text + "\n"


def _squeezed(text: str) -> str:
    return "".join(text.split())


def _without_breaks(name: str) -> str:
    return "".join(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch
                   for ch in name)


def check_email(sent: OutgoingEmail, raw: bytes, *, to: str, name: str | None,
                thread: str | None, words: list[str]) -> None:
    assert raw.isascii(), "not 7-bit"
    assert b"\r" not in raw.replace(b"\r\n", b"") and b"\n" not in raw.replace(b"\r\n", b"")
    longest = max(len(line) for line in raw.split(b"\r\n"))
    assert longest <= 998, f"a line of {longest} octets"
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert not message.defects, message.defects
    expected = ["From", "To", "Date", "Subject", "Message-ID",
                *(["In-Reply-To", "References"] if thread else []), "X-Hotro-Reference",
                *(["Auto-Submitted"] if sent.auto_submitted else []), "MIME-Version",
                "Content-Type", *(["Content-Transfer-Encoding"] if sent.html is None else [])]
    assert list(message.keys()) == expected
    for header in expected:
        assert not message[header].defects, (header, message[header].defects)
    if thread:
        assert message["In-Reply-To"] == message["References"] == thread
    [source] = message["From"].addresses
    assert (source.display_name, source.addr_spec) == (SENDER.display_name, SENDER.addr_spec)
    [recipient] = message["To"].addresses
    assert recipient.addr_spec == to == sent.to
    # the name's words, on one line (a reader may put a space between two encoded words)
    assert _squeezed(recipient.display_name) == _squeezed(_without_breaks(name or ""))
    assert message["Subject"] == subject_with_reference(sent.subject, sent.reference)
    assert message["X-Hotro-Reference"] == sent.reference
    plain = message.get_body(preferencelist=("plain",))
    assert plain is not None
    text = plain.get_content().replace("\r\n", "\n")
    assert text == _as_written(sent.text)
    for word in words:
        assert word in text, f"{word!r} lost from the text"
    if sent.html is not None:
        part = message.get_body(preferencelist=("html",))
        assert part is not None
        markup = part.get_content().replace("\r\n", "\n")
        assert markup == _as_written(sent.html)
        parsed = _html(markup)
        assert parsed.tags <= TEMPLATE_TAGS, parsed.tags - TEMPLATE_TAGS
        assert parsed.attributes <= TEMPLATE_ATTRIBUTES, parsed.attributes - TEMPLATE_ATTRIBUTES
        visible = "".join(parsed.data)
        for word in words:
            assert word in visible, f"{word!r} lost from the HTML"


def _pdf_text(pdf: bytes, *options: str) -> str:
    assert PDFTOTEXT is not None
    done = subprocess.run([PDFTOTEXT, "-enc", "UTF-8", *options, "-", "-"], input=pdf,
                          capture_output=True, check=True, timeout=120)
    return done.stdout.decode("utf-8")


def check_letter(pdf: bytes, words: list[str]) -> None:
    assert pdf.startswith(b"%PDF-")
    if PDFTOTEXT is None:
        return
    text = _pdf_text(pdf)
    for word in words:
        assert word in text, f"{word!r} not in the letter"


def check_sms(text: str) -> None:
    assert 0 < len(text) <= 3 * 153, len(text)  # three concatenated GSM-7 segments
    assert all(ch.isprintable() for ch in text), repr(text)


# ---- the properties -------------------------------------------------------------------------

@settings(max_examples=200, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=deliveries())
def test_hostile_values_make_sound_messages(case: dict[str, Any]) -> None:
    deliver(case)


@pytest.mark.parametrize(("purpose", "method"), CASES, ids=["-".join(c) for c in CASES])
def test_every_purpose_and_method_takes_all_the_fragments_at_once(purpose: str,
                                                                   method: str) -> None:
    everything = " ".join(FRAGMENTS)
    for lang in LANGS:
        deliver(everywhere(purpose, method, lang, (f"{everything} đúng {everything}", ["đúng"])))


# ---- what they found ------------------------------------------------------------------------

def test_a_name_stored_with_a_line_break_still_gets_its_email() -> None:
    """Stored before intake refused line breaks in names: it made every email to the
    customer fail as unbuildable. The name now goes on one line, and injects nothing."""
    name = "Nguyễn Ánh\r\nBcc: victim@example.com\u2028x"
    deliver(everywhere("acknowledgement", "email", "vi", (name, ["Nguyễn", "Ánh"])))


@pytest.mark.parametrize("name", ["x" * 5000, "<" * 3000, '"\\' * 800, "a" * 73,
                                  "Anh " + "N" * 80, "O'Brien & Co, " * 200])
def test_a_plain_name_longer_than_a_line_is_folded(name: str) -> None:
    """A plain-ASCII name was written as one word or one quoted string: a name of
    thousands of characters made a header line of thousands of octets."""
    message = OutgoingEmail(to="anh.nguyen@example.vn", to_name=name, subject="Hỏi",
                            text="x", message_id="<m@vhv.vn>", reference="KN-2026-000123")
    raw = build_mime(message, SENDER, date=NOW)
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert max(len(line) for line in head.split(b"\r\n")) <= 78
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert _squeezed(parsed["To"].addresses[0].display_name) == _squeezed(name)


def test_an_internationalised_domain_is_written_as_its_a_label() -> None:
    """Intake keeps ``an@tênmiền.vn`` as typed; its A-label needs no SMTPUTF8, so the
    email goes (it was refused as not ASCII). A non-ASCII local part still cannot."""
    message = OutgoingEmail(to="an@tênmiền.vn", subject="Hỏi", text="x",
                            message_id="<m@vhv.vn>", reference="KN-2026-000123")
    assert message.to == "an@xn--tnmin-hsa0954c.vn"
    with pytest.raises(ValueError, match="not a plain ASCII address"):
        OutgoingEmail(to="nguyễn@example.vn", subject="Hỏi", text="x",
                      message_id="<m@vhv.vn>", reference="KN-2026-000123")


@pytest.mark.parametrize("purpose", ["alert_deadline_approaching", "alert_deadline_breached"])
@pytest.mark.parametrize("lang", LANGS)
def test_a_staff_clocks_alert_escapes_the_department_in_its_html(purpose: str,
                                                                 lang: str) -> None:
    """The alert prints the department through macros it shares with the text and the
    subject, which escape nothing: its HTML carried the name as markup."""
    context = {**sample_context(purpose, "complaint", lang), "clock": "department",
               "department": "<b>R&D</b>"}
    rendered = render(purpose, lang, context, CompanyInfo())
    assert "<b>" not in rendered.html and "&lt;b&gt;R&amp;D&lt;/b&gt;" in rendered.html
    assert "<b>R&D</b>" in rendered.text


@pytest.mark.skipif(PDFTOTEXT is None, reason="pdftotext is not installed")
def test_a_paragraph_of_many_lines_prints_in_parts_as_one(monkeypatch: pytest.MonkeyPatch,
                                                          ) -> None:
    """A paragraph of thousands of lines took minutes (reportlab wraps what is left of a
    paragraph again at every page); printed in parts, it reads the same, blank lines at
    the parts' edges included."""
    lines = ["" if i in (39, 40, 79, 80, 81, 119) else f"dòng {i} " + "chữ " * (i % 30)
             for i in range(130)]
    letter = Letter(reference="KN-2026-000123", date=NOW.date(), recipient_name="Ánh",
                    recipient_address=["Hà Nội"], subject="Trả lời",
                    paragraphs=["\n".join(lines), "Hết."], signer_name="Hương",
                    signer_title="Trưởng phòng")
    in_parts = _pdf_text(render_letter_pdf(letter), "-layout")
    monkeypatch.setattr(letter_pdf, "_LINES_PER_PART", 10_000)
    assert in_parts == _pdf_text(render_letter_pdf(letter), "-layout")

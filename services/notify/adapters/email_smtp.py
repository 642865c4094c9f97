"""Outgoing email: write a threaded, injection-safe MIME message and hand it to SMTP or a Maildir.

Both mailers are synchronous (``smtplib``, ``mailbox``); the notify service calls them in a
worker thread. Retry policy belongs to the caller: mailers only classify failures.
"""

from __future__ import annotations

import mailbox
import re
import smtplib
import ssl
import threading
import uuid
from datetime import datetime
from email.headerregistry import Address
from os import PathLike
from pathlib import Path
from typing import Final, Protocol

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, field_validator

from hotro.services.notify.adapters import mime_writer
from hotro.services.notify.adapters.headers import HeaderInjectionError, safe_header
from hotro.services.notify.application.channel import (
    ChannelFailure,
    PermanentFailure,
    TransientFailure,
)

__all__ = [
    "HeaderInjectionError",
    "MaildirMailer",
    "Mailer",
    "OutgoingEmail",
    "SmtpMailer",
    "build_mime",
    "make_message_id",
    "subject_with_reference",
]

# ASCII only on purpose: a non-ASCII mailbox needs SMTPUTF8, which we do not negotiate.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN_RE: Final = re.compile(rf"^{_LABEL}(?:\.{_LABEL})+$")
_ADDRESS_RE: Final = re.compile(rf"^[A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~-]+@{_LABEL}(?:\.{_LABEL})+$")
# Ids quoted from customers' mail are often sloppy: only insist on <...> without whitespace
# or control characters.
_MSG_ID_RE: Final = re.compile(r"^<[^<>\s\x00-\x1f\x7f-\x9f]+>$")
_REFERENCE_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_MESSAGE_ID_NAMESPACE: Final = uuid.UUID("0c7f0a3e-5d1b-5a0e-8f44-2b6e2f1d9a61")


class OutgoingEmail(BaseModel):
    """One email to one recipient. Header fields refuse line breaks at construction."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    to: str
    subject: str
    text: str
    html: str | None = None
    message_id: str
    in_reply_to: str | None = None
    references: list[str] = Field(default_factory=list)
    reference: str
    to_name: str | None = None
    #: RFC 3834: set on automatic notices so vacation responders do not answer them.
    auto_submitted: bool = False

    @field_validator("to")
    @classmethod
    def _address(cls, value: str) -> str:
        return _check_address("to", ascii_domain(value))

    @field_validator("subject", "to_name")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        return None if value is None else safe_header("subject/to_name", value)

    @field_validator("message_id", "in_reply_to")
    @classmethod
    def _msg_id(cls, value: str | None) -> str | None:
        return None if value is None else _check_msg_id(value)

    @field_validator("references")
    @classmethod
    def _msg_ids(cls, value: list[str]) -> list[str]:
        return [_check_msg_id(item) for item in value]

    @field_validator("reference")
    @classmethod
    def _reference(cls, value: str) -> str:
        return _check_reference(value)


class Mailer(Protocol):
    """Hands one email over: to an SMTP relay, or to a local Maildir."""

    def send(self, email: OutgoingEmail) -> None: ...


def _check_address(name: str, value: str) -> str:
    safe_header(name, value)
    if not _ADDRESS_RE.fullmatch(value):
        raise ValueError(f"{name}: not a plain ASCII address: {value!r}")
    return value


def ascii_domain(address: str) -> str:
    """``address`` with an internationalised domain (``an@tênmiền.vn``, as intake keeps
    what the customer typed) written as its A-label (``an@xn--….vn``), which needs no
    SMTPUTF8; any other address as it is. A local part that is not ASCII still cannot go:
    ``_check_address`` refuses it."""
    domain = address.rpartition("@")[2]
    if domain.isascii():
        return address
    try:
        ascii_email = validate_email(address, check_deliverability=False).ascii_email
    except EmailNotValidError:
        return address
    return ascii_email or address


def is_message_id(value: str) -> bool:
    """Whether ``value`` may be written as a Message-ID, In-Reply-To or References id."""
    try:
        _check_msg_id(value)
    except ValueError:
        return False
    return True


def _check_msg_id(value: str) -> str:
    safe_header("message id", value)
    if not _MSG_ID_RE.fullmatch(value):
        raise ValueError(f"not a <message-id>: {value!r}")
    return value


def _check_reference(value: str) -> str:
    safe_header("reference", value)
    if not _REFERENCE_RE.fullmatch(value):
        raise ValueError(f"not a case reference: {value!r}")
    return value


def make_message_id(domain: str, seed: str | None = None) -> str:
    """A ``<...@domain>`` Message-ID.

    With ``seed`` (e.g. the dispatch id) the id is deterministic, so re-sending the same
    dispatch after a crash reuses it and mail clients see one message, not two.
    """
    if not _DOMAIN_RE.fullmatch(domain):
        raise ValueError(f"not a domain name: {domain!r}")
    left = uuid.uuid5(_MESSAGE_ID_NAMESPACE, seed).hex if seed is not None else uuid.uuid4().hex
    return f"<{left}@{domain}>"


def subject_with_reference(subject: str, reference: str) -> str:
    """Prefix ``[reference]`` once, so a customer's reply can be matched to the case."""
    tag = f"[{reference}]"
    return subject if tag in subject else f"{tag} {subject}"


def _as_address(value: Address | str) -> Address:
    if isinstance(value, Address):
        _check_address("from", value.addr_spec)
        safe_header("from", value.display_name)
        return value
    return Address(addr_spec=_check_address("from", value))


def build_mime(email: OutgoingEmail, sender: Address | str, *,
               date: datetime | None = None, linesep: bytes = b"\r\n") -> bytes:
    """The message's bytes: multipart/alternative (or text only), UTF-8, 7-bit clean
    (``mime_writer``). ``linesep``: CRLF on the wire, LF in a Maildir file.

    Re-checks every header value even though ``OutgoingEmail`` validates on construction,
    because ``model_construct``/``model_copy`` skip validation.
    """
    reference = _check_reference(email.reference)
    in_reply_to = None if email.in_reply_to is None else _check_msg_id(email.in_reply_to)
    references = [_check_msg_id(item) for item in email.references]
    if in_reply_to is not None and in_reply_to not in references:
        references.append(in_reply_to)
    source = _as_address(sender)
    subject = safe_header("subject", subject_with_reference(email.subject, reference))
    headers = [
        mime_writer.mailbox("From", source.display_name, source.addr_spec),
        mime_writer.mailbox("To", safe_header("to", email.to_name or ""),
                            _check_address("to", email.to)),
        mime_writer.date_header(date),
        mime_writer.unstructured("Subject", subject),
        [f"Message-ID: {_check_msg_id(email.message_id)}"],
    ]
    if in_reply_to is not None:
        headers.append([f"In-Reply-To: {in_reply_to}"])
    if references:
        headers.append(mime_writer.fold("References", references))
    headers.append([f"X-Hotro-Reference: {reference}"])
    if email.auto_submitted:
        headers.append(["Auto-Submitted: auto-generated"])
    return mime_writer.write_message(headers, email.text, email.html, linesep=linesep)


def _build(email: OutgoingEmail, sender: Address | str, linesep: bytes) -> bytes:
    try:
        return build_mime(email, sender, linesep=linesep)
    except ValueError as exc:  # HeaderInjectionError included: never send, never retry
        raise PermanentFailure(f"refused to build the message: {exc}") from exc


def _by_code(code: int, reason: str) -> ChannelFailure:
    if 500 <= code < 600:
        return PermanentFailure(f"SMTP {code}: {reason}", code=code)
    return TransientFailure(f"SMTP {code}: {reason}", code=code)


def _reason(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


class SmtpMailer:
    """Delivers through an SMTP relay.

    TLS: STARTTLS after EHLO (``starttls``), or TLS from the first byte (``implicit_tls``,
    SMTPS), the relay's certificate checked against ``ssl_context`` (default: the system's
    CAs and the host name).

    Failures while connecting or setting up the session (refused connection, timeout, TLS,
    EHLO, AUTH) are transient: they are about the relay, not this message. During the mail
    transaction a 5xx reply is permanent and anything else transient.
    """

    def __init__(
        self,
        host: str,
        port: int,
        starttls: bool,
        username: str | None,
        password: str | None,
        timeout: float,
        *,
        sender: Address | str,
        ssl_context: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
    ) -> None:
        self._host = host
        self._port = port
        self._starttls = starttls
        self._username = username
        self._password = password
        self._timeout = timeout
        self._sender = _as_address(sender)
        self._ssl_context = ssl_context
        self._implicit_tls = implicit_tls

    def send(self, email: OutgoingEmail) -> None:
        message = _build(email, self._sender, b"\r\n")
        in_transaction = False
        try:
            with self._connect() as smtp:
                smtp.ehlo()
                if self._starttls and not self._implicit_tls:
                    smtp.starttls(context=self._ssl_context or ssl.create_default_context())
                    smtp.ehlo()
                if self._username is not None:
                    smtp.login(self._username, self._password or "")
                in_transaction = True
                smtp.sendmail(self._sender.addr_spec, [email.to], message)
        except smtplib.SMTPRecipientsRefused as exc:
            code, raw = next(iter(exc.recipients.values()))
            raise _by_code(code, _reason(raw)) from exc
        except smtplib.SMTPResponseException as exc:
            if in_transaction:
                raise _by_code(exc.smtp_code, _reason(exc.smtp_error)) from exc
            raise TransientFailure(
                f"SMTP session setup failed: {exc.smtp_code} {_reason(exc.smtp_error)}",
                code=exc.smtp_code,
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:  # OSError: refused, timeout, DNS, TLS
            raise TransientFailure(f"SMTP {self._host}:{self._port}: {exc!r}") from exc


    def _connect(self) -> smtplib.SMTP:
        if self._implicit_tls:  # SMTPS: the TLS handshake comes before any SMTP
            return smtplib.SMTP_SSL(self._host, self._port, timeout=self._timeout,
                                    context=self._ssl_context or ssl.create_default_context())
        return smtplib.SMTP(self._host, self._port, timeout=self._timeout)


class MaildirMailer:
    """The local catch-all when no relay is configured: each email becomes a Maildir file."""

    def __init__(self, path: str | PathLike[str], *, sender: Address | str) -> None:
        self._path = Path(path)
        self._sender = _as_address(sender)
        # notify sends from several threads at once: creating the folders and naming the
        # files (mailbox.Maildir's counter) are not safe to race, and a local file is
        # quick to write, so one writer at a time.
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self._path

    def send(self, email: OutgoingEmail) -> None:
        data = _build(email, self._sender, b"\n")
        try:
            with self._lock:
                mailbox.Maildir(self._path, create=True).add(data)
        except OSError as exc:
            raise TransientFailure(f"Maildir {self._path}: {exc!r}") from exc

"""A real SMTP client for the tests (smtplib), run in a worker thread (not collected)."""

from __future__ import annotations

import asyncio
import base64
import smtplib
import socket
from email.message import EmailMessage

from tests.unit.intake_email.builders import cp1258_bytes

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def can_connect(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _deliver(port: int, raw: bytes, mail_from: str, rcpt: str) -> tuple[int, str]:
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        smtp.ehlo("client.example.vn")
        code, text = smtp.mail(mail_from)
        if code != 250:
            return code, text.decode()
        code, text = smtp.rcpt(rcpt)
        if code != 250:
            return code, text.decode()
        # on the wire every line ends in CRLF (RFC 5321), as any real mail client sends it
        wire = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        try:
            code, text = smtp.data(wire)
        except smtplib.SMTPDataError as exc:
            error = exc.smtp_error
            return exc.smtp_code, error.decode() if isinstance(error, bytes) else error
        return code, text.decode()


async def deliver(port: int, raw: bytes, mail_from: str = "an.nguyen@example.vn",
                  rcpt: str = "contact@vhv.vn") -> tuple[int, str]:
    """One SMTP conversation; returns the server's answer to DATA (or the refusal)."""
    return await asyncio.to_thread(_deliver, port, raw, mail_from, rcpt)


def utf8_mail(message_id: str, *, subject: str = "Khiếu nại: điều hòa kêu rất to",
              sender: str = "an.nguyen@example.vn", in_reply_to: str | None = None,
              attachment: bytes = PDF) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Nguyễn Văn An <{sender}>"
    msg["To"] = "Hỗ trợ khách hàng <contact@vhv.vn>"
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg.set_content("Điều hòa mua tháng trước kêu rất to khi chạy.")
    msg.add_alternative("<html><body><p>Điều hòa mua tháng trước <b>kêu rất to</b>"
                        "<script>alert(1)</script> khi chạy.</p></body></html>",
                        subtype="html")
    if attachment:
        msg.add_attachment(attachment, maintype="application", subtype="pdf",
                           filename="hóa-đơn.pdf")
    return msg.as_bytes()


def cp1258_mail(message_id: str, *, subject: str, html: str,
                sender: str = "lan.pham@example.vn") -> bytes:
    """Windows-1258 (Vietnamese Windows), the way Outlook on Windows used to send it."""

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")

    return (
        f"From: Pham Lan <{sender}>\r\n"
        "To: contact@vhv.vn\r\n"
        f"Subject: =?windows-1258?B?{b64(cp1258_bytes(subject))}?=\r\n"
        f"Message-ID: {message_id}\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="XYZ"\r\n\r\n'
        "--XYZ\r\n"
        "Content-Type: text/html; charset=windows-1258\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n"
        f"{b64(cp1258_bytes(html))}\r\n"
        "--XYZ\r\n"
        'Content-Type: application/pdf; name="hoadon.pdf"\r\n'
        'Content-Disposition: attachment; filename="hoadon.pdf"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
        f"{b64(PDF)}\r\n"
        "--XYZ--\r\n"
    ).encode("ascii")

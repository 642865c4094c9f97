"""An email as it was sent, read back from the local Maildir (the local run's "relay",
``email_smtp.MaildirMailer``): the exact message, found by its Message-ID. With an SMTP
relay configured nothing is kept here (the relay's own archive is the record), so there
is nothing to read back.

An erasure deletes the customer's messages from the Maildir (shared/privacy/erasure.py);
a message gone from disk is simply not found. The token of the customer's case link is
replaced in what staff read (it is the customer's credential to their page).
"""

from __future__ import annotations

import re
import threading
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser, BytesParser
from pathlib import Path
from typing import Any

from hotro.shared.message_id import bare_message_id

#: an email body larger than this is cut (a reply is a few kilobytes)
MAX_TEXT_CHARS = 200_000
#: the customer's case link is their credential: staff see that it was sent, not the token
_CAPABILITY = re.compile(r"\bcap1\.[A-Za-z0-9_.~-]+")
LINK_HIDDEN = "[đường dẫn riêng của khách hàng / the customer's own link]"


class SentMail:
    def __init__(self, maildir: Path) -> None:
        self.maildir = maildir
        self._lock = threading.Lock()
        self._where: dict[str, Path] = {}  # Message-ID → file
        self._seen: set[str] = set()  # file names already read

    def find(self, message_id: str) -> dict[str, Any] | None:
        """The message's headers and text (its text/plain part), or None."""
        wanted = bare_message_id(message_id)
        if not wanted:
            return None
        with self._lock:
            path = self._where.get(wanted)
            if path is None or not path.exists():
                self._scan()
                path = self._where.get(wanted)
        if path is None:
            return None
        try:
            message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        except OSError:  # erased in between
            return None
        assert isinstance(message, EmailMessage)
        return _view(message)

    def _scan(self) -> None:
        """Index the files not read before (a Maildir file never changes once delivered)."""
        for folder in ("new", "cur"):
            directory = self.maildir / folder
            if not directory.is_dir():
                continue
            for path in directory.iterdir():
                if path.name in self._seen:
                    continue
                self._seen.add(path.name)
                try:
                    with path.open("rb") as handle:
                        headers = BytesHeaderParser(policy=policy.default).parse(handle)
                except OSError:
                    continue
                found = bare_message_id(str(headers.get("Message-ID") or ""))
                if found:
                    self._where[found] = path


def _view(message: EmailMessage) -> dict[str, Any]:
    body = message.get_body(preferencelist=("plain",))
    text = body.get_content() if isinstance(body, EmailMessage) else ""
    return {"message_id": str(message.get("Message-ID") or ""),
            "from": str(message.get("From") or ""), "to": str(message.get("To") or ""),
            "date": str(message.get("Date") or ""),
            "subject": str(message.get("Subject") or ""),
            "in_reply_to": str(message.get("In-Reply-To") or "") or None,
            "text": _CAPABILITY.sub(LINK_HIDDEN, str(text)[:MAX_TEXT_CHARS]),
            "has_html": message.get_body(preferencelist=("html",)) is not None}

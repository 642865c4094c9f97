"""Write an outgoing email's MIME bytes directly: every header encoded and folded here,
every body quoted-printable by ``binascii`` (C).

Why not ``email.message.EmailMessage``: building and flattening one acknowledgement
through the standard library's header registry and folder cost about 1.4 ms of CPU here,
close to half of notify's Python CPU per complaint in the end-to-end bench (docs/
performance.md). The messages notify sends have one fixed shape, so the writer is short:

* headers are 7-bit ASCII, no line longer than 78 characters (except one unbreakable
  token longer than that, e.g. a very long address: RFC 5322 allows 998);
* free text (subject, display names) that is not plain printable ASCII, or that contains
  ``=?`` (which a reader would decode), travels in RFC 2047 encoded words (UTF-8, base64),
  every space inside a word (see ``headers.encoded_words``);
* bodies are UTF-8, quoted-printable (7-bit: no reliance on the relay offering 8BITMIME);
* callers pass values already checked for line breaks (``headers.safe_header``).
"""

from __future__ import annotations

import binascii
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Final

from hotro.services.notify.adapters.headers import MAX_LINE, encoded_words

#: atext of RFC 5322 plus the space: a display name made only of these is written as is
_PHRASE_SAFE: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-/=?^_`{|}~ ")


def _plain_text(value: str) -> bool:
    """Printable ASCII that no reader would decode as an encoded word."""
    return value.isascii() and value.isprintable() and "=?" not in value


def fold(name: str, tokens: Iterable[str]) -> list[str]:
    """``name: tok tok …`` filled greedily into lines of at most MAX_LINE characters; a
    fold goes before the space that separated two tokens, so unfolding gives back
    ``" ".join(tokens)`` exactly."""
    lines = [f"{name}:"]
    for token in tokens:
        if len(lines[-1]) + 1 + len(token) <= MAX_LINE or lines[-1] == f"{name}:":
            lines[-1] += " " + token
        else:
            lines.append(" " + token)
    return lines


def unstructured(name: str, value: str) -> list[str]:
    """A free-text header (Subject). Plain ASCII is folded at its spaces; otherwise its
    leading plain words stay readable in the raw header (the ``[KN-…]`` tag) and the rest
    travels in encoded words. Text whose spaces a fold could not carry exactly (runs of
    spaces, leading or trailing ones, a word too long for a line) is encoded whole."""
    room = MAX_LINE - len(name) - 2
    words = value.split(" ")
    if _plain_text(value) and all(0 < len(w) <= room for w in words):
        return fold(name, words)
    lead: list[str] = []
    while len(lead) + 1 < len(words) and words[len(lead)] and _plain_text(words[len(lead)]) \
            and len(" ".join([*lead, words[len(lead)]])) <= room // 2:
        lead.append(words[len(lead)])
    rest = " ".join(words[len(lead):])
    first = room - (len(" ".join(lead)) + 1 if lead else 0)
    return fold(name, [*lead, *encoded_words(rest, first)])


def mailbox(name: str, display_name: str, addr_spec: str) -> list[str]:
    """``Display Name <addr>`` (RFC 5322 name-addr), or the bare address. A plain name
    with a word, or a quoted one, too long for a line travels in encoded words too: a
    fold cannot cut it, and a name of thousands of characters made a line far beyond
    RFC 5322's 998."""
    if not display_name:
        return fold(name, [addr_spec])
    room = MAX_LINE - len(name) - 2
    escaped = display_name.replace("\\", "\\\\").replace('"', '\\"')
    if _plain_text(display_name) and set(display_name) <= _PHRASE_SAFE \
            and display_name.strip(" ") == display_name and "  " not in display_name \
            and all(len(word) <= room for word in display_name.split(" ")):
        phrase = display_name.split(" ")
    elif _plain_text(display_name) and len(escaped) + 2 <= room:
        phrase = [f'"{escaped}"']
    else:
        phrase = encoded_words(display_name, room)
    return fold(name, [*phrase, f"<{addr_spec}>"])


def _text_part(text: str) -> bytes:
    """UTF-8 text, line breaks normalised to LF and ending in one, quoted-printable."""
    body = text.replace("\r\n", "\n").replace("\r", "\n")
    if not body.endswith("\n"):
        body += "\n"
    return binascii.b2a_qp(body.encode("utf-8"), quotetabs=False, istext=True, header=False)


def _part_headers(subtype: str) -> list[str]:
    return [f'Content-Type: text/{subtype}; charset="utf-8"',
            "Content-Transfer-Encoding: quoted-printable"]


def write_message(headers: list[list[str]], text: str, html: str | None, *,
                  linesep: bytes = b"\r\n", boundary: str | None = None) -> bytes:
    """The whole message: ``headers`` (each a header's folded lines, from the helpers
    above), then the text alone or a multipart/alternative of text and HTML."""
    lines = [line for header in headers for line in header]
    lines.append("MIME-Version: 1.0")
    if html is None:
        lines += _part_headers("plain")
        head = "\n".join(lines).encode("ascii") + b"\n\n"
        return _with_linesep(head + _text_part(text), linesep)
    boundary = boundary or f"=_hotro_{secrets.token_hex(16)}"
    lines += ["Content-Type: multipart/alternative;", f' boundary="{boundary}"']
    delimiter = f"--{boundary}\n".encode("ascii")
    out = ["\n".join(lines).encode("ascii"), b"\n\n"]
    for subtype, body in (("plain", text), ("html", html)):
        out += [delimiter, "\n".join(_part_headers(subtype)).encode("ascii"), b"\n\n",
                _text_part(body), b"\n"]
    out.append(f"--{boundary}--\n".encode("ascii"))
    return _with_linesep(b"".join(out), linesep)


def _with_linesep(data: bytes, linesep: bytes) -> bytes:
    return data if linesep == b"\n" else data.replace(b"\n", linesep)


def date_header(when: datetime | None = None) -> list[str]:
    return [f"Date: {format_datetime(when or datetime.now(UTC))}"]

from __future__ import annotations

from pathlib import Path

import pytest

from hotro.services.intake.adapters.email import QuarantineStore
from hotro.services.intake.adapters.email.charsets import (
    CharsetUnsupported,
    Decoded,
    Undecodable,
    decode_bytes,
)
from hotro.services.intake.adapters.email.headers import message_id_list, normalise_message_id
from hotro.services.intake.adapters.email.html_text import html_to_text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<Abc.Def@Mail.Example.COM>", "<Abc.Def@mail.example.com>"),
        ("  <abc@\r\n EXAMPLE.com>  ", "<abc@example.com>"),
        ("abc@Example.com", "<abc@example.com>"),
        ("junk <a@b.vn> more", "<a@b.vn>"),
        ("", None),
        ("<>", None),
        ("<" + "a" * 600 + "@x.vn>", None),
    ],
)
def test_normalise_message_id(raw: str, expected: str | None) -> None:
    assert normalise_message_id(raw) == expected


def test_message_id_list_dedupes_and_limits() -> None:
    value = "<a@X.vn> <b@x.vn>\r\n <a@x.vn> <c@x.vn>"
    assert message_id_list(value, limit=10) == ("<a@x.vn>", "<b@x.vn>", "<c@x.vn>")
    assert message_id_list(value, limit=2) == ("<a@x.vn>", "<b@x.vn>")
    assert message_id_list(None, limit=2) == ()


def test_charset_policy() -> None:
    text = "Đổi hàng"
    assert decode_bytes(text.encode(), "utf-8").text == text
    assert decode_bytes(text.encode(), "x-unknown").note == "charset_guessed:x-unknown->utf-8"
    assert decode_bytes(text.encode(), "viscii").text == text  # mislabelled UTF-8
    assert decode_bytes(b"plain", "viscii").text == "plain"
    assert decode_bytes(b"\xf0\xf4n", "VISCII") == Decoded("đôn", "charset_legacy:viscii")
    with pytest.raises(CharsetUnsupported):  # VPS: no table of ours
        decode_bytes(b"\xf0\xf4n", "x-viet-vps")
    with pytest.raises(Undecodable):
        decode_bytes(b"\x81\x8a\x8d", "utf-8")  # undefined in windows-1258 too
    assert decode_bytes(b"x", "base64").text == "x"  # a bytes codec is never used as charset


def test_html_to_text_drops_scripts_even_unclosed() -> None:
    assert html_to_text("<p>a<br>b</p><script>x()").split() == ["a", "b"]


def test_quarantine_store_is_idempotent(tmp_path: Path) -> None:
    store = QuarantineStore(tmp_path)
    first = store.put(b"raw message")
    assert store.put(b"raw message") == first
    assert store.exists(first) and store.read(first) == b"raw message"
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [first]
    with pytest.raises(ValueError):
        store.path_for("../../etc/passwd")

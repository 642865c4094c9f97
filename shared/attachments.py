"""Files people send us, stored by content: `root/ab/cd/<sha256>`, written atomically,
idempotent. Shared by intake (customers' attachments) and routing (departments' files).

``UploadLimits`` is the policy both apply to an upload: how many files, how large each
and together, which types (``type/*`` wildcards) and which file name extensions are
refused whatever the type claims (what a file really is: ``attachment_types.judge``)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from hotro.shared.files import write_atomically

MIB = 1024 * 1024

DEFAULT_ALLOWED_CONTENT_TYPES: frozenset[str] = frozenset(
    {
        "image/*",
        "application/pdf",
        "text/plain",
        "text/csv",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "video/mp4",
        "video/quicktime",
        "audio/mpeg",
        "audio/mp4",
        "message/rfc822",
    }
)

#: File name extensions refused whatever type the sender declares: programs and scripts,
#: and archives (their content cannot be checked). Compared with the *last* extension, so
#: "hoa-don.pdf.exe" is refused.
DEFAULT_REFUSED_EXTENSIONS: frozenset[str] = frozenset(
    {
        "exe", "com", "scr", "pif", "bat", "cmd", "msi", "msp", "dll", "cpl", "sys", "jar",
        "js", "jse", "mjs", "vbs", "vbe", "wsf", "wsh", "hta", "ps1", "psm1", "lnk", "reg",
        "py", "pyc", "pyw", "sh", "bash", "php", "pl", "rb", "apk", "app", "dmg", "deb",
        "rpm", "iso", "img", "vhd", "zip", "rar", "7z", "gz", "tgz", "tar", "bz2", "xz", "cab",
        "docm", "xlsm", "pptm", "dotm", "xltm",
    }
)


def allows_type(allowed: frozenset[str], content_type: str) -> bool:
    content_type = content_type.lower()
    major = content_type.split("/", 1)[0]
    return content_type in allowed or f"{major}/*" in allowed


def refused_extension(refused: frozenset[str], filename: str | None) -> str | None:
    """The refused extension of ``filename`` (its last one), or None."""
    if not filename or "." not in filename:
        return None
    extension = filename.rsplit(".", 1)[1].strip().lower()
    return extension if extension in refused else None


@dataclass(frozen=True, slots=True)
class UploadLimits:
    max_attachments: int = 20
    max_attachment_bytes: int = 10 * MIB
    max_total_attachment_bytes: int = 18 * MIB
    allowed_content_types: frozenset[str] = DEFAULT_ALLOWED_CONTENT_TYPES
    refused_extensions: frozenset[str] = DEFAULT_REFUSED_EXTENSIONS

    def allows(self, content_type: str) -> bool:
        return allows_type(self.allowed_content_types, content_type)

    def refuses_extension(self, filename: str | None) -> str | None:
        return refused_extension(self.refused_extensions, filename)


class ContentAddressedStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_for(self, sha256: str) -> Path:
        if not is_sha256(sha256):
            raise ValueError(f"not a lower-case sha256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes) -> str:
        """Store `data` once; returns its sha256. Safe to call concurrently for equal data."""
        sha256 = hashlib.sha256(data).hexdigest()
        target = self.path_for(sha256)
        if target.exists():
            return sha256
        write_atomically(target, data)
        return sha256

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def read(self, sha256: str) -> bytes:
        return self.path_for(sha256).read_bytes()


class AttachmentStore(ContentAddressedStore):
    """Decoded attachment bodies."""


def is_sha256(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)


# Bidi overrides can disguise "gpj.exe" as "exe.jpg"; never useful in a file name.
_BIDI_CONTROLS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F],
                               " ")
_SPACES = re.compile(r"\s+")


def upload_name(raw: str | None, index: int, *, max_chars: int = 200) -> str:
    """The file name a sender gave, without folders, NFC, one line, else ``tai-lieu-<n>``."""
    value = (raw or "").replace("\\", "/").rpartition("/")[2]
    value = unicodedata.normalize("NFC", value.encode("utf-8", "replace").decode("utf-8"))
    value = "".join(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch
                    for ch in value.translate(_BIDI_CONTROLS))
    return _SPACES.sub(" ", value).strip()[:max_chars] or f"tai-lieu-{index + 1}"

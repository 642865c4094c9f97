"""What an attachment really is, and whether we take it.

The declared type (the part's Content-Type, or its file name's extension when the client
said only application/octet-stream) is checked against the content's own signature
(``filetype``: magic numbers of the first bytes). Outcomes:

* the last extension is a refused one (``.exe``, ``.py``, ``.zip``…): refused
  (``extension_refused``), whatever the declared type — ``hoa-don.pdf.exe`` is never a PDF;
* the content is recognised and does not match the declared type: the declared type is not
  believed. If the content's type is accepted the file is stored as what it is and flagged
  (``type_mismatch``); else it is refused (``content_not_accepted``), e.g. a program sent as
  "application/pdf";
* the content is not recognised (plain text, CSV, or a format without a signature): the
  declared type decides (``type_not_accepted`` when it is not in the accepted list).

Refused files are recorded (name, declared and detected type, size, sha256, reason) and
their bytes are never stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import filetype

# Clients label many files application/octet-stream; trust the extension for allowed types.
EXTENSION_TYPES = {
    "pdf": "application/pdf",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "heic": "image/heic",
    "gif": "image/gif",
    "webp": "image/webp",
    "txt": "text/plain",
    "csv": "text/csv",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "mp3": "audio/mpeg",
    "m4a": "audio/mp4",
}

_ZIP_CONTAINERS = frozenset({  # zip archives inside; a signature check sees a zip
    "application/zip",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
})
_ISO_MEDIA = frozenset({  # the ISO base media file format family (ftyp boxes)
    "video/mp4", "video/quicktime", "audio/mp4", "video/3gpp", "image/heic", "image/heif",
    "image/avif", "audio/x-m4a", "video/x-m4v",
})
_OLE = frozenset({"application/msword", "application/vnd.ms-excel",
                  "application/vnd.ms-powerpoint", "application/x-ole-storage",
                  "application/x-cfb"})


class TypePolicy(Protocol):
    """Which types are taken and which extensions refused (``UploadLimits``, intake's
    ``EmailLimits``)."""

    def allows(self, content_type: str) -> bool: ...

    def refuses_extension(self, filename: str | None) -> str | None: ...


@dataclass(frozen=True, slots=True)
class TypeVerdict:
    declared: str
    detected: str | None
    #: what to store it as; None: refused
    store_as: str | None
    reason: str | None = None
    reason_text: str = ""

    @property
    def mismatch(self) -> bool:
        return self.detected is not None and not compatible(self.declared, self.detected)


def sniff(data: bytes) -> str | None:
    """The content's type by its signature (the first bytes), or None."""
    try:
        kind = filetype.guess(data[:8192])
    except Exception:  # a library error must not lose a complaint: "not recognised"
        return None
    return str(kind.mime).lower() if kind is not None else None


def compatible(declared: str, detected: str) -> bool:
    """Whether content recognised as ``detected`` fits the ``declared`` type."""
    declared, detected = declared.lower(), detected.lower()
    if declared == detected:
        return True
    families = (_ZIP_CONTAINERS, _ISO_MEDIA, _OLE)
    return any(declared in f and detected in f for f in families)


def declared_type(content_type: str, filename: str | None) -> str:
    """The part's Content-Type, or its extension's type when that says octet-stream."""
    content_type = content_type.lower()
    if content_type == "application/octet-stream" and filename and "." in filename:
        return EXTENSION_TYPES.get(filename.rsplit(".", 1)[1].lower(), content_type)
    return content_type


def judge(filename: str | None, content_type: str, data: bytes, limits: TypePolicy,
          *, check_content: bool = True) -> TypeVerdict:
    declared = declared_type(content_type, filename)
    detected = sniff(data) if check_content else None
    refused_extension = limits.refuses_extension(filename)
    if refused_extension is not None:
        return TypeVerdict(declared, detected, None, "extension_refused",
                           f"files ending in .{refused_extension} are not accepted")
    named = EXTENSION_TYPES.get(filename.rsplit(".", 1)[1].lower()) \
        if filename and "." in filename else None
    if detected is not None and (not compatible(declared, detected)
                                 or (named is not None and not compatible(named, detected))):
        if limits.allows(detected):
            return TypeVerdict(declared, detected, detected, None,
                               f"declared {declared}, content is {detected}")
        return TypeVerdict(declared, detected, None, "content_not_accepted",
                           f"declared {declared}, but the content is {detected}, "
                           "which is not accepted")
    if not limits.allows(declared):
        if detected is not None and limits.allows(detected):
            return TypeVerdict(declared, detected, detected)
        return TypeVerdict(declared, detected, None, "type_not_accepted",
                           f"files of type {declared} are not accepted")
    return TypeVerdict(declared, detected, declared)

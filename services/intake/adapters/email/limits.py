"""Configurable limits and policy for inbound email."""

from __future__ import annotations

from dataclasses import dataclass, field

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


#: File name extensions refused whatever type the message declares: programs and scripts,
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


@dataclass(frozen=True, slots=True)
class EmailLimits:
    """Limits for one inbound message. Content types may use a "type/*" wildcard.

    ``max_parts``: a message with more MIME parts keeps its first ``max_parts`` (in
    document order) and a note says how many were dropped."""

    max_message_bytes: int = 25 * MIB
    max_attachment_bytes: int = 10 * MIB
    max_total_attachment_bytes: int = 18 * MIB
    max_attachments: int = 20
    allowed_content_types: frozenset[str] = DEFAULT_ALLOWED_CONTENT_TYPES
    max_text_chars: int = 200_000
    max_parts: int = 200
    max_depth: int = 10
    max_references: int = 100
    refused_extensions: frozenset[str] = DEFAULT_REFUSED_EXTENSIONS
    # Mail claiming to come from these domains is quarantined (spoofing or a mail loop).
    own_domains: frozenset[str] = field(default_factory=lambda: frozenset({"vhv.vn"}))

    def allows(self, content_type: str) -> bool:
        content_type = content_type.lower()
        major = content_type.split("/", 1)[0]
        return (
            content_type in self.allowed_content_types or f"{major}/*" in self.allowed_content_types
        )

    def refuses_extension(self, filename: str | None) -> str | None:
        """The refused extension of ``filename`` (its last one), or None."""
        if not filename or "." not in filename:
            return None
        extension = filename.rsplit(".", 1)[1].strip().lower()
        return extension if extension in self.refused_extensions else None

    def is_own_domain(self, domain: str) -> bool:
        domain = domain.lower().rstrip(".")
        return any(domain == d or domain.endswith("." + d) for d in self.own_domains)

"""Configurable limits and policy for inbound email."""

from __future__ import annotations

from dataclasses import dataclass, field

from hotro.shared.attachments import (
    DEFAULT_ALLOWED_CONTENT_TYPES,
    DEFAULT_REFUSED_EXTENSIONS,
    MIB,
    allows_type,
    refused_extension,
)

__all__ = ["DEFAULT_ALLOWED_CONTENT_TYPES", "DEFAULT_REFUSED_EXTENSIONS", "MIB", "EmailLimits"]


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
        return allows_type(self.allowed_content_types, content_type)

    def refuses_extension(self, filename: str | None) -> str | None:
        """The refused extension of ``filename`` (its last one), or None."""
        return refused_extension(self.refused_extensions, filename)

    def is_own_domain(self, domain: str) -> bool:
        domain = domain.lower().rstrip(".")
        return any(domain == d or domain.endswith("." + d) for d in self.own_domains)

"""Content-addressed file stores: `root/ab/cd/<sha256>`, idempotent, atomic writes (the
store itself is shared: routing keeps department files the same way)."""

from __future__ import annotations

from hotro.shared.attachments import AttachmentStore, ContentAddressedStore

__all__ = ["AttachmentStore", "ContentAddressedStore", "QuarantineStore"]


class QuarantineStore(ContentAddressedStore):
    """Raw bytes of quarantined messages, keyed by `Quarantined.raw_sha256`."""

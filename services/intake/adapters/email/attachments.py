"""Content-addressed file stores: `root/ab/cd/<sha256>`, idempotent, atomic writes."""

from __future__ import annotations

import hashlib
from pathlib import Path

from hotro.shared.files import write_atomically


class ContentAddressedStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_for(self, sha256: str) -> Path:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
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


class QuarantineStore(ContentAddressedStore):
    """Raw bytes of quarantined messages, keyed by `Quarantined.raw_sha256`."""

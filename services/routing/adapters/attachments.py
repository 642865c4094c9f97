"""The files a department sends with its answer, kept under routing's data directory by
sha256 (shared/attachments.py: the store and the limits intake applies to customers'
uploads; shared/attachment_types.py: what a file really is, from its content).

Every file of an upload is judged before any is stored: one refused file refuses the
upload, with the reason of each refused file."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hotro.services.routing.domain.case import Case
from hotro.shared.attachment_types import judge
from hotro.shared.attachments import MIB, AttachmentStore, UploadLimits, is_sha256
from hotro.shared.eventstore.log import read_events


@dataclass(frozen=True, slots=True)
class Upload:
    filename: str
    content_type: str
    data: bytes
    #: the sender sent more than ``max_attachment_bytes`` (``data`` is cut there)
    too_large: bool = False


@dataclass(frozen=True, slots=True)
class FileRefused:
    index: int
    filename: str
    reason: str
    message: str
    #: the refusal's values (``filename`` always), for a client's own words
    params: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.params.setdefault("filename", self.filename)


class UploadRefused(Exception):
    """413 (too many or too large) or 422 (a type refused), with each file's reason."""

    def __init__(self, status: int, refused: list[FileRefused]) -> None:
        super().__init__("; ".join(f"{r.filename}: {r.message}" for r in refused))
        self.status = status
        self.refused = refused


class DepartmentFiles:
    def __init__(self, root: Path, limits: UploadLimits | None = None) -> None:
        self.store = AttachmentStore(root)
        self.limits = limits or UploadLimits()

    def accept(self, uploads: list[Upload]) -> list[dict[str, Any]]:
        """Judge every file, then store them all; the refs a response may name."""
        limits = self.limits
        if len(uploads) > limits.max_attachments:
            raise UploadRefused(413, [FileRefused(
                limits.max_attachments, uploads[limits.max_attachments].filename,
                "too_many_files", f"{len(uploads)} files; at most {limits.max_attachments} "
                                  "at a time", {"max_files": str(limits.max_attachments)})])
        too_large = [FileRefused(i, u.filename, "file_too_large",
                                 f"larger than {limits.max_attachment_bytes // MIB} MB",
                                 {"max_mb": str(limits.max_attachment_bytes // MIB)})
                     for i, u in enumerate(uploads) if u.too_large]
        if too_large:
            raise UploadRefused(413, too_large)
        if sum(len(u.data) for u in uploads) > limits.max_total_attachment_bytes:
            raise UploadRefused(413, [FileRefused(
                len(uploads) - 1, uploads[-1].filename, "total_too_large",
                f"the files together are larger than "
                f"{limits.max_total_attachment_bytes // MIB} MB",
                {"max_mb": str(limits.max_total_attachment_bytes // MIB)})])
        accepted: list[tuple[Upload, str]] = []
        refused: list[FileRefused] = []
        for i, upload in enumerate(uploads):
            verdict = judge(upload.filename, upload.content_type, upload.data, limits)
            if verdict.store_as is None:
                refused.append(FileRefused(i, upload.filename, verdict.reason or "refused",
                                           verdict.reason_text,
                                           {"declared": verdict.declared,
                                            "detected": verdict.detected or ""}))
            else:
                accepted.append((upload, verdict.store_as))
        if refused:
            raise UploadRefused(422, refused)
        return [{"sha256": self.store.put(upload.data), "filename": upload.filename,
                 "content_type": stored_as, "size": len(upload.data)}
                for upload, stored_as in accepted]

    def holds(self, sha256: str) -> bool:
        return is_sha256(sha256) and self.store.exists(sha256)

    def size(self, sha256: str) -> int:
        return self.store.path_for(sha256).stat().st_size

    def read(self, sha256: str) -> bytes:
        return self.store.read(sha256)


def department_files_only_of(routing: Any, complaint_id: uuid.UUID) -> list[str]:
    """The sha256 of department files only this complaint's case names (routing's log):
    what ``hotro erase`` deletes; a file another case also names is kept."""
    case_id = Case.create_id(complaint_id)
    own: set[str] = set()
    elsewhere: set[str] = set()
    for e in read_events(routing, topics=["hotro.routing:Case.DepartmentResponded"]):
        hashes = {str(a["sha256"]) for a in e.attachments or () if a.get("sha256")}
        (own if e.originator_id == case_id else elsewhere).update(hashes)
    return sorted(own - elsewhere)

"""``hotro erase``: destroy a complaint's data keys and record who erased it, and why.

Keys destroyed: the complaint's own (key id = complaint id: its contact in intake's and
notify's stores and on the stream, recipients and names of notify's dispatches) and the
keys of the hotline calls that belong to it (their caller numbers). Files outside the
stores that notify wrote for the complaint — letter PDFs (``<letters>/<dispatch id>.pdf``)
and copies in the local Maildir (matched by our Message-ID) — are deleted when their
folders are given, and so are the attachment files only this complaint holds: intake's
(the customer's) and routing's (its departments'). Mail sent through a real SMTP server is
outside our reach."""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hotro.shared.eventstore.trace import Trace
from hotro.shared.privacy.kv import bucket, destroy_key

ERASED_FIELDS = ["name", "phone", "email", "address"]


@dataclass
class ErasureResult:
    reference: str
    keys_destroyed: list[str] = field(default_factory=list)
    keys_absent: list[str] = field(default_factory=list)
    files_deleted: list[str] = field(default_factory=list)
    by: str = ""

    def __str__(self) -> str:
        key_state = (f"{len(self.keys_destroyed)} data key(s) destroyed"
                     if self.keys_destroyed else
                     "no data key existed (already erased or stored before sealing)")
        files = f"; {len(self.files_deleted)} file(s) deleted" if self.files_deleted else ""
        return f"{self.reference}: {key_state}{files}; erasure recorded by {self.by}"


async def erase(js: Any, intake: Any, complaint_id: uuid.UUID, *, reason: str,
                by: str, dispatch_ids: Iterable[str] = (), letters_dir: Path | None = None,
                maildir: Path | None = None, attachments_dir: Path | None = None,
                department_files: tuple[Path, Iterable[str]] | None = None
                ) -> ErasureResult:
    """Destroy the keys, delete the files, record ``Request.Erased``. Harmless twice (the
    keys are tombstones already; a second ``Erased`` records the second request)."""
    if not reason.strip():
        raise ValueError("an erasure needs a reason")
    request = await asyncio.to_thread(intake.get_request, complaint_id)
    kv = await bucket(js)
    result = ErasureResult(reference=request.reference, by=by)
    key_ids = [str(complaint_id), *intake.call_keys(request)]
    for key_id in key_ids:
        existed = await destroy_key(kv, key_id)
        (result.keys_destroyed if existed else result.keys_absent).append(key_id)
    # a key made while NATS was down and not yet moved to the KV (shared.privacy.pending)
    await asyncio.to_thread(intake.drop_pending_keys, key_ids)
    result.files_deleted = await asyncio.to_thread(
        delete_files, list(dispatch_ids), letters_dir, maildir)
    if attachments_dir is not None:  # photos of invoices, ID cards...: the customer's own
        hashes = await asyncio.to_thread(intake.attachments_only_of, complaint_id)
        result.files_deleted += await asyncio.to_thread(
            delete_attachments, attachments_dir, hashes)
    if department_files is not None:  # routing's copies of what departments sent
        folder, department_hashes = department_files
        result.files_deleted += await asyncio.to_thread(
            delete_attachments, folder, list(department_hashes))
    trace = Trace(actor_kind="staff", actor_id=by, actor_role="data-protection",
                  correlation_id=str(uuid.uuid4())).as_dict()
    await asyncio.to_thread(
        intake.record_erasure, complaint_id, reason=reason.strip(), requested_by=by,
        fields=ERASED_FIELDS, trace=trace)
    return result


def delete_attachments(root: Path, hashes: list[str]) -> list[str]:
    """Content-addressed attachment files (``root/ab/cd/<sha256>``) of these hashes."""
    deleted: list[str] = []
    for sha256 in hashes:
        path = root / sha256[:2] / sha256[2:4] / sha256
        if path.is_file():
            path.unlink()
            deleted.append(str(path))
    return deleted


def delete_files(dispatch_ids: list[str], letters_dir: Path | None,
                 maildir: Path | None) -> list[str]:
    """Letter PDFs of the dispatches and Maildir messages whose Message-ID is one of
    theirs (``<dispatch id@domain>``)."""
    deleted: list[str] = []
    if letters_dir is not None:
        for did in dispatch_ids:
            path = letters_dir / f"{did}.pdf"
            if path.exists():
                path.unlink()
                deleted.append(str(path))
    if maildir is not None and dispatch_ids:
        wanted = set(dispatch_ids)
        parser = email.parser.BytesHeaderParser(policy=email.policy.compat32)
        for sub in ("new", "cur"):
            folder = maildir / sub
            if not folder.is_dir():
                continue
            for path in folder.iterdir():
                try:
                    headers = parser.parsebytes(path.read_bytes())
                except (OSError, ValueError):
                    continue
                message_id = "".join(str(headers.get("Message-ID") or "").split())
                if message_id.strip("<>").split("@", 1)[0] in wanted:
                    path.unlink()
                    deleted.append(str(path))
    return deleted

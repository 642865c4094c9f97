"""Export: one complaint or a date range as JSON Lines or CSV (UTF-8 with BOM, so Excel
shows Vietnamese), and an evidence pack (PDF: timeline, letters, attachments).

Personal data goes out only as the privacy layer reveals it: after an erasure the name
is ``[đã xoá / erased]`` and phone, email and address are absent; without the keys
(``--no-personal-data``) it is ``[không hiển thị / withheld]`` (``hotro.audit.keys``)."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

from hotro.audit.keys import hidden
from hotro.audit.progress import Tick
from hotro.audit.stores import Stores
from hotro.audit.timeline import ICT, aggregate_ids, timeline
from hotro.shared.eventstore.log import read_events
from hotro.shared.privacy.sealing import KeyRing, reveal

CSV_COLUMNS = ("reference", "complaint_id", "at_local", "at_utc", "service", "aggregate",
               "aggregate_id", "version", "event", "actor_kind", "actor_id", "actor_role",
               "channel", "summary", "event_id", "correlation_id", "causation_id")


def complaints_between(stores: Stores, first: date, last: date) -> list[tuple[uuid.UUID, str]]:
    """Complaints received between two local dates (inclusive), in received order."""
    app = stores["intake"]
    found: list[tuple[uuid.UUID, str]] = []
    for e in read_events(app, topics=["hotro.intake:Request.Received"]):
        day = datetime.fromisoformat(e.received_at).astimezone(ICT).date()
        if first <= day <= last:
            found.append((e.originator_id, e.reference))
    return found


def rows(stores: Stores, complaints: Iterable[tuple[uuid.UUID, str]],
         keyring: KeyRing | None = None, *, progress: Tick | None = None
         ) -> Iterator[dict[str, Any]]:
    todo = list(complaints)
    for done, (cid, reference) in enumerate(todo):
        if progress is not None:
            progress("export: complaints", done, len(todo))
        for entry in timeline(stores, cid, keyring=keyring):
            yield {"reference": reference, "complaint_id": str(cid), **entry.as_json()}
    if progress is not None:
        progress("export: complaints", len(todo), len(todo))


def write_jsonl(records: Iterable[dict[str, Any]], out: io.TextIOBase | Any) -> int:
    n = 0
    for r in records:
        out.write(json.dumps(r, ensure_ascii=False) + "\n")
        n += 1
    return n


def write_csv(records: Iterable[dict[str, Any]], path: Path) -> int:
    """UTF-8 with a byte-order mark: Excel then reads Vietnamese correctly."""
    n = 0
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for r in records:
            writer.writerow(r)
            n += 1
    return n


# ---- evidence pack ----------------------------------------------------------------------

def letters(stores: Stores, complaint_id: uuid.UUID,
            keyring: KeyRing | None = None) -> list[dict[str, Any]]:
    """Every message notify recorded for the complaint (customer and internal)."""
    from hotro.services.notify.domain import Dispatch

    notify = stores["notify"]
    out = []
    for aggregate_id in aggregate_ids(stores, complaint_id).get("notify", []):
        d = notify.repository.get(aggregate_id)
        if not isinstance(d, Dispatch):
            continue  # the contact and the acknowledgement record
        out.append({"purpose": d.purpose, "method": d.method, "status": d.status,
                    "to": _recipient(d, keyring), "requested_at": d.created_on.isoformat(),
                    "sent_at": d.sent_at, "proof": d.proof, "letter_file": d.letter_file,
                    "internal": d.internal})
    return out


def _recipient(dispatch: Any, keyring: KeyRing | None) -> str:
    if dispatch.internal:
        return str(dispatch.recipient)
    value = dispatch.recipient
    if isinstance(value, dict):
        revealed = reveal(value, keyring)
        return str(revealed.get("to")) if revealed else hidden(value, keyring)
    return str(value) if value else hidden(value, keyring)


def attachments(stores: Stores, complaint_id: uuid.UUID) -> list[dict[str, Any]]:
    from hotro.services.routing.domain.case import Case

    out: list[dict[str, Any]] = []
    request = stores["intake"].get_request(complaint_id)
    for a in request.details.get("attachments") or []:
        out.append({"source": "complaint", **a})
    for number, info in enumerate(request.info, start=1):
        for a in info.get("attachments") or []:
            out.append({"source": f"information {number}", **a})
    try:
        case = stores["routing"].repository.get(Case.create_id(complaint_id))
    except Exception:
        return out
    for r in case.referrals:
        for a in ((r.get("response") or {}).get("attachments") or []):
            out.append({"source": f"department {r['department']}", **a})
    return out


def customer(stores: Stores, complaint_id: uuid.UUID,
             keyring: KeyRing | None = None) -> dict[str, Any] | None:
    request = stores["intake"].get_request(complaint_id)
    return reveal(request.customer, keyring)


def evidence_pack(stores: Stores, complaint_id: uuid.UUID, path: Path,
                  keyring: KeyRing | None = None) -> Path:
    """A PDF for one complaint: who, the timeline, the letters, the attachments."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    from hotro.services.notify.adapters.letter_fonts import BOLD, REGULAR, ensure_fonts

    ensure_fonts()
    body = ParagraphStyle("body", fontName=REGULAR, fontSize=8, leading=10)
    head = ParagraphStyle("head", fontName=BOLD, fontSize=14, leading=18)
    sub = ParagraphStyle("sub", fontName=BOLD, fontSize=10, leading=14, spaceBefore=6)
    request = stores["intake"].get_request(complaint_id)
    person = customer(stores, complaint_id, keyring)

    def p(text: Any) -> Paragraph:
        return Paragraph(_xml(text), body)

    def table(header: list[str], data: list[list[Any]], widths: list[float]) -> Table:
        t = Table([[Paragraph(_xml(h), sub) for h in header],
                   *[[p(c) for c in row] for row in data]], colWidths=widths, repeatRows=1)
        t.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))
        return t

    story: list[Any] = [
        Paragraph(_xml(f"Hồ sơ chứng cứ / Evidence pack — {request.reference}"), head),
        p(f"Mã khiếu nại / complaint id: {complaint_id}"),
        p(f"Khách hàng / customer: "
          f"{person.get('name') if person else hidden(request.customer, keyring)}"),
        p(f"Kênh / channel: {request.channel} — tiếp nhận / received: {request.received_at}"),
        p(f"Lập lúc / generated: {datetime.now(ICT).isoformat(timespec='seconds')}"),
        Spacer(1, 4 * mm),
        Paragraph(_xml("Diễn biến / Timeline"), sub),
    ]
    entries = timeline(stores, complaint_id, keyring=keyring)
    story.append(table(
        ["Giờ Hà Nội / local", "Dịch vụ", "Sự kiện / event", "Người / actor", "Tóm tắt"],
        [[e.at.astimezone(ICT).strftime("%Y-%m-%d %H:%M:%S"), e.service,
          f"{e.aggregate}.{e.event}", f"{e.actor_kind}:{e.actor_id}", e.summary]
         for e in entries],
        [34 * mm, 16 * mm, 48 * mm, 40 * mm, 130 * mm]))
    story += [Paragraph(_xml("Thư và thông báo / Letters and messages"), sub)]
    story.append(table(
        ["Mục đích", "Cách gửi", "Trạng thái", "Gửi tới", "Gửi lúc", "Bằng chứng / proof"],
        [[x["purpose"], x["method"], x["status"], x["to"], x["sent_at"] or "", x["proof"] or ""]
         for x in letters(stores, complaint_id, keyring)],
        [34 * mm, 18 * mm, 20 * mm, 60 * mm, 44 * mm, 92 * mm]))
    story += [Paragraph(_xml("Tệp đính kèm / Attachments"), sub)]
    files = attachments(stores, complaint_id)
    story.append(table(
        ["Nguồn", "Tên tệp", "Loại", "Kích thước", "sha256"],
        [[a["source"], a.get("filename"), a.get("content_type"), a.get("size"), a.get("sha256")]
         for a in files] or [["—", "không có / none", "", "", ""]],
        [30 * mm, 60 * mm, 36 * mm, 20 * mm, 122 * mm]))
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = SimpleDocTemplate(str(path), pagesize=landscape(A4), leftMargin=12 * mm,
                            rightMargin=12 * mm, topMargin=12 * mm, bottomMargin=12 * mm,
                            title=f"Evidence pack {request.reference}")
    doc.build(story)
    return path


def _xml(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

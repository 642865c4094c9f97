"""The evidence pack of one case as a PDF, made from what the auditor may read through the
services' APIs (the command line's ``hotro export --evidence`` makes the same from the
stores). reportlab, with a TrueType font that has Vietnamese glyphs."""

from __future__ import annotations

import io
import threading
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from hotro.shared.clock import VIETNAM_TZ

REGULAR = "HotroEvidence"
BOLD = "HotroEvidence-Bold"
_registered = threading.Lock()


def _font_files() -> tuple[Path, Path]:
    """Source Serif Pro (the ``font-source-serif-pro`` wheel, as notify's letters use),
    else Debian's DejaVu Serif."""
    try:
        folder = Path(str(resources.files("font_source_serif_pro") / "files"))
        regular, bold = folder / "SourceSerifPro-Regular.ttf", folder / "SourceSerifPro-Bold.ttf"
        if regular.is_file() and bold.is_file():
            return regular, bold
    except ModuleNotFoundError:
        pass
    dejavu = Path("/usr/share/fonts/truetype/dejavu")
    return dejavu / "DejaVuSerif.ttf", dejavu / "DejaVuSerif-Bold.ttf"


def _ensure_fonts() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    with _registered:
        if REGULAR in pdfmetrics.getRegisteredFontNames():
            return
        regular, bold = _font_files()
        pdfmetrics.registerFont(TTFont(REGULAR, str(regular)))
        pdfmetrics.registerFont(TTFont(BOLD, str(bold)))


def _xml(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _local(value: Any) -> str:
    try:
        instant = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value or "")
    if instant.tzinfo is None:
        return instant.isoformat(sep=" ", timespec="seconds")
    return instant.astimezone(VIETNAM_TZ).strftime("%Y-%m-%d %H:%M:%S")


def evidence_pdf(request_: dict[str, Any], timeline: list[dict[str, Any]],
                 deliveries: list[dict[str, Any]], checks: list[dict[str, Any]],
                 generated: datetime, *, case: dict[str, Any] | None = None) -> bytes:
    """``request_``: intake's view of the request; ``timeline``: the merged timeline;
    ``deliveries``: notify's log of the case; ``checks``: each service's integrity;
    ``case``: routing's case (its departments' files)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    _ensure_fonts()
    body = ParagraphStyle("body", fontName=REGULAR, fontSize=8, leading=10)
    head = ParagraphStyle("head", fontName=BOLD, fontSize=14, leading=18)
    sub = ParagraphStyle("sub", fontName=BOLD, fontSize=10, leading=14, spaceBefore=6)

    def p(text: Any) -> Paragraph:
        return Paragraph(_xml(text), body)

    def table(header: list[str], rows: list[list[Any]], widths: list[float]) -> Table:
        t = Table([[Paragraph(_xml(h), sub) for h in header],
                   *[[p(c) for c in row] for row in rows]], colWidths=widths, repeatRows=1)
        t.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))
        return t

    reference = request_["reference"]
    customer = request_.get("customer") or {}
    name = customer.get("name") or ("[đã xoá / erased]" if request_.get("erased")
                                    else "[không hiển thị / withheld]")
    story: list[Any] = [
        Paragraph(_xml(f"Hồ sơ chứng cứ / Evidence pack — {reference}"), head),
        p(f"Mã khiếu nại / complaint id: {request_['id']}"),
        p(f"Khách hàng / customer: {name}"),
        p(f"Kênh / channel: {request_.get('channel')} — tiếp nhận / received: "
          f"{_local(request_.get('received_at'))}"),
        p(f"Lập lúc / generated: {_local(generated.isoformat())}"),
        Spacer(1, 4 * mm),
        Paragraph(_xml("Kiểm tra toàn vẹn / Integrity"), sub),
        table(["Dịch vụ / service", "Kết quả / result", "Niêm phong / seal",
               "Dòng của hồ sơ / case rows", "Phát hiện / findings"],
              [[c["service"], _verdict(c), _seal_text(c),
                f"{c.get('case_rows', '')} ({c.get('case_rows_unsealed', 0)} chưa niêm phong "
                "/ not sealed yet)" if "case_rows" in c else "",
                "; ".join(f"{f['kind']}: {f['detail']}" for f in c.get("findings", []))
                or c.get("error", "")] for c in checks],
              [30 * mm, 30 * mm, 70 * mm, 50 * mm, 88 * mm]),
        Paragraph(_xml("Diễn biến / Timeline"), sub),
        table(["Giờ Hà Nội / local", "Dịch vụ", "Sự kiện / event", "Người / actor",
               "Trạng thái / state", "Chi tiết / detail"],
              [[_local(e.get("at")), e.get("service"), e.get("event"), e.get("actor") or "",
                e.get("state") or "", e.get("detail") or ""] for e in timeline],
              [34 * mm, 16 * mm, 48 * mm, 36 * mm, 40 * mm, 94 * mm]),
        Paragraph(_xml("Thư và thông báo / Letters and messages"), sub),
        table(["Mục đích", "Cách gửi", "Trạng thái", "Gửi tới", "Gửi lúc",
               "Bằng chứng / proof"],
              [[d.get("purpose"), d.get("method"), d.get("status"), d.get("to"),
                _local(d.get("sent_at")) if d.get("sent_at") else "", d.get("proof") or ""]
               for d in deliveries] or [["—", "", "", "", "", ""]],
              [34 * mm, 18 * mm, 20 * mm, 60 * mm, 44 * mm, 92 * mm]),
        Paragraph(_xml("Tệp đính kèm / Attachments"), sub),
    ]
    files = [("request", a) for a in (request_.get("details") or {}).get("attachments") or ()]
    for info in request_.get("info_provided") or ():
        files += [("info", a) for a in info.get("attachments") or ()]
    for referral in (case or {}).get("referrals") or ():
        response = referral.get("response") or {}
        while response:  # the department's own answer, then one recorded on its behalf
            files += [(str(referral.get("department")), a)
                      for a in response.get("attachments") or ()]
            response = response.get("recorded_on_behalf") or {}
    story.append(table(
        ["Nguồn", "Tên tệp", "Loại", "Kích thước", "sha256"],
        [[source, a.get("filename"), a.get("content_type"), a.get("size"), a.get("sha256")]
         for source, a in files] or [["—", "không có / none", "", "", ""]],
        [30 * mm, 60 * mm, 36 * mm, 20 * mm, 122 * mm]))
    out = io.BytesIO()
    SimpleDocTemplate(out, pagesize=landscape(A4), leftMargin=12 * mm, rightMargin=12 * mm,
                      topMargin=12 * mm, bottomMargin=12 * mm,
                      title=f"Evidence pack {reference}").build(story)
    return out.getvalue()


def _verdict(check: dict[str, Any]) -> str:
    if check.get("ok") is None:
        return "không kiểm tra được / not checked"
    return "nguyên vẹn / intact" if check["ok"] else "CÓ SAI LỆCH / ALTERED"


def _seal_text(check: dict[str, Any]) -> str:
    if not check.get("sealed"):
        return "chưa có / none yet" if check.get("ok") is not None else ""
    return (f"#{check['seal_number']} đến / up to {check['sealed_upto']} · "
            f"{_local(check.get('sealed_at'))}")

"""Printed letters (văn bản) to customers as PDF, and where they are kept until posted."""

from __future__ import annotations

import re
from datetime import date
from io import BytesIO
from os import PathLike
from pathlib import Path
from typing import Final
from xml.sax.saxutils import escape

from pydantic import BaseModel, ConfigDict, Field
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.flowables import Flowable, HRFlowable

from hotro.services.notify.adapters.letter_fonts import BOLD, REGULAR, ensure_fonts
from hotro.services.notify.adapters.rendering import CompanyInfo, Lang, format_long_date
from hotro.shared.files import write_atomically


class Letter(BaseModel):
    """Everything printed on one letter. Text fields are plain text, never markup."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reference: str
    date: date
    recipient_name: str
    recipient_address: list[str] = Field(min_length=1)
    subject: str
    paragraphs: list[str] = Field(min_length=1)
    signer_name: str
    signer_title: str
    company: CompanyInfo = CompanyInfo()
    lang: Lang = "vi"


_LABELS: Final[dict[Lang, dict[str, str]]] = {
    "vi": {
        "ref": "Số",
        "subject": "V/v",
        "to": "Kính gửi",
        "hotline": "Hotline",
        "email": "Email",
        "motto_1": "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "motto_2": "Độc lập - Tự do - Hạnh phúc",
    },
    "en": {
        "ref": "Ref",
        "subject": "Re",
        "to": "To",
        "hotline": "Hotline",
        "email": "Email",
        "motto_1": "",
        "motto_2": "",
    },
}


# FONTNAME too: a plain-string cell would otherwise pull in Helvetica, which has no "ế".
_TABLE_STYLE: Final = TableStyle(
    [("VALIGN", (0, 0), (-1, -1), "TOP"), ("FONTNAME", (0, 0), (-1, -1), REGULAR)]
)


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=REGULAR, fontSize=12, leading=16)
    return {
        "base": base,
        "body": ParagraphStyle(
            "body", parent=base, alignment=TA_JUSTIFY, firstLineIndent=10 * mm, spaceAfter=6
        ),
        # the parts of a body paragraph too long for one (``_body``): first, middle, last
        "body_head": ParagraphStyle(
            "body_head", parent=base, alignment=TA_JUSTIFY, firstLineIndent=10 * mm
        ),
        "body_part": ParagraphStyle("body_part", parent=base, alignment=TA_JUSTIFY),
        "body_tail": ParagraphStyle(
            "body_tail", parent=base, alignment=TA_JUSTIFY, spaceAfter=6
        ),
        "company": ParagraphStyle(
            "company", parent=base, fontName=BOLD, fontSize=13, alignment=TA_CENTER
        ),
        "small_center": ParagraphStyle(
            "small_center", parent=base, fontSize=10, leading=13, alignment=TA_CENTER
        ),
        "motto": ParagraphStyle(
            "motto", parent=base, fontName=BOLD, fontSize=11, leading=15, alignment=TA_CENTER
        ),
        "right": ParagraphStyle("right", parent=base, alignment=TA_RIGHT),
        "subject": ParagraphStyle(
            "subject", parent=base, fontName=BOLD, alignment=TA_CENTER, spaceBefore=8
        ),
        "sign": ParagraphStyle("sign", parent=base, alignment=TA_CENTER),
        "sign_bold": ParagraphStyle("sign_bold", parent=base, fontName=BOLD, alignment=TA_CENTER),
    }


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    # Paragraph parses a mini-markup; customer and staff text must not be able to inject tags.
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


#: the most lines of a body paragraph one reportlab Paragraph holds: one that runs over
#: a page is wrapped again from the page's first line on, at every page, so a paragraph
#: of thousands of lines (a reply may have 20,000 characters) took minutes to print.
_LINES_PER_PART: Final = 40


def _body(paragraph: str, s: dict[str, ParagraphStyle]) -> list[Flowable]:
    """A body paragraph, in parts of at most ``_LINES_PER_PART`` lines that print as the
    one paragraph would: the first indented, space after the last, and a blank line a
    no-break space (a part's first or last line, blank, would take no room)."""
    lines = paragraph.split("\n")
    if len(lines) > _LINES_PER_PART:
        lines = [line if line.strip() else "\u00a0" for line in lines]
    parts = ["\n".join(lines[i:i + _LINES_PER_PART])
             for i in range(0, len(lines), _LINES_PER_PART)]
    last = len(parts) - 1
    return [_p(part, s[("body" if i == 0 else "body_tail") if i == last
                       else ("body_head" if i == 0 else "body_part")])
            for i, part in enumerate(parts)]


def _header(letter: Letter, s: dict[str, ParagraphStyle]) -> Flowable:
    labels = _LABELS[letter.lang]
    company = letter.company
    left = [
        _p(company.name.upper(), s["company"]),
        _p(company.address, s["small_center"]),
        _p(
            f"{labels['hotline']}: {company.hotline} · {labels['email']}: {company.email}",
            s["small_center"],
        ),
        _p(f"{labels['ref']}: {letter.reference}", s["small_center"]),
    ]
    right = (
        [_p(labels["motto_1"], s["motto"]), _p(labels["motto_2"], s["motto"])]
        if labels["motto_1"]
        else []
    )
    table = Table([[left, right]], colWidths=[80 * mm, 90 * mm])
    table.setStyle(_TABLE_STYLE)
    return table


def _place_and_date(letter: Letter) -> str:
    return f"{letter.company.city}, {format_long_date(letter.date, letter.lang)}"


def _story(letter: Letter) -> list[Flowable]:
    s = _styles()
    labels = _LABELS[letter.lang]
    story: list[Flowable] = [
        _header(letter, s),
        HRFlowable(width="100%", thickness=0.5, spaceBefore=4, spaceAfter=8),
        _p(_place_and_date(letter), s["right"]),
        Spacer(1, 6 * mm),
        Paragraph(f"<b>{escape(labels['to'])}:</b> {escape(letter.recipient_name)}", s["base"]),
        *(_p(line, s["base"]) for line in letter.recipient_address),
        Paragraph(f"<b>{escape(labels['subject'])}:</b> {escape(letter.subject)}", s["subject"]),
        Spacer(1, 6 * mm),
        *(part for paragraph in letter.paragraphs for part in _body(paragraph, s)),
        Spacer(1, 10 * mm),
    ]
    signature = [
        _p(letter.signer_title.upper(), s["sign_bold"]),
        Spacer(1, 22 * mm),
        _p(letter.signer_name, s["sign_bold"]),
    ]
    block = Table([["", signature]], colWidths=[70 * mm, 100 * mm])
    block.setStyle(_TABLE_STYLE)
    story.append(block)
    return story


def render_letter_pdf(letter: Letter) -> bytes:
    """One A4 PDF with the Vietnamese-capable font embedded (subset)."""
    ensure_fonts()
    buffer = BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=25 * mm,
        rightMargin=15 * mm,
        topMargin=20 * mm,
        bottomMargin=20 * mm,
        title=f"{letter.reference} {letter.subject}",
        author=letter.company.name,
        invariant=True,
        # The canvas otherwise opens every page in Helvetica, which lands in the resources.
        initialFontName=REGULAR,
    )
    document.build(_story(letter))
    return buffer.getvalue()


_DISPATCH_ID_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")


class LetterStore:
    """Keeps rendered letters as ``<root>/<dispatch_id>.pdf`` for printing and posting."""

    def __init__(self, root: str | PathLike[str]) -> None:
        self._root = Path(root)

    def path_for(self, dispatch_id: str) -> Path:
        if not _DISPATCH_ID_RE.fullmatch(dispatch_id):
            raise ValueError(f"unsafe dispatch id for a file name: {dispatch_id!r}")
        return self._root / f"{dispatch_id}.pdf"

    def save(self, dispatch_id: str, pdf: bytes) -> Path:
        """Write atomically (temp file + rename), so a printer never picks up half a PDF."""
        return write_atomically(self.path_for(dispatch_id), pdf)

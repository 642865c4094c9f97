"""Locate and register, on first use, a TrueType family that covers Vietnamese.

reportlab's built-in Type 1 fonts only know Latin-1, so "Khiếu nại" would print with holes.
Source Serif Pro (SIL OFL 1.1) comes from the ``font-source-serif-pro`` wheel on PyPI; a
Debian/Ubuntu machine without it can fall back to ``fonts-dejavu-core``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Final

from reportlab.lib.fonts import addMapping
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

REGULAR: Final = "HotroSerif"
BOLD: Final = "HotroSerif-Bold"

_DEBIAN_DEJAVU: Final = Path("/usr/share/fonts/truetype/dejavu")


@dataclass(frozen=True)
class FontFiles:
    regular: Path
    bold: Path


class FontNotFoundError(RuntimeError):
    pass


def _from_wheel() -> FontFiles | None:
    try:
        files = resources.files("font_source_serif_pro") / "files"
    except ModuleNotFoundError:
        return None
    regular = Path(str(files / "SourceSerifPro-Regular.ttf"))
    bold = Path(str(files / "SourceSerifPro-Bold.ttf"))
    return FontFiles(regular, bold) if regular.is_file() and bold.is_file() else None


def _from_debian() -> FontFiles | None:
    regular = _DEBIAN_DEJAVU / "DejaVuSerif.ttf"
    bold = _DEBIAN_DEJAVU / "DejaVuSerif-Bold.ttf"
    return FontFiles(regular, bold) if regular.is_file() and bold.is_file() else None


def find_font_files() -> FontFiles:
    found = _from_wheel() or _from_debian()
    if found is None:
        raise FontNotFoundError(
            "no TrueType font with Vietnamese glyphs: pip install font-source-serif-pro "
            "(or apt-get install fonts-dejavu-core)"
        )
    return found


_lock = threading.Lock()
_registered: FontFiles | None = None


def ensure_fonts() -> FontFiles:
    """Register the family once per process; later calls are free."""
    global _registered
    with _lock:
        if _registered is None:
            files = find_font_files()
            pdfmetrics.registerFont(TTFont(REGULAR, str(files.regular)))
            pdfmetrics.registerFont(TTFont(BOLD, str(files.bold)))
            # No italic face is used (Source Serif Pro's italic lacks Vietnamese): map <i> upright.
            faces = ((0, 0, REGULAR), (1, 0, BOLD), (0, 1, REGULAR), (1, 1, BOLD))
            for bold, italic, face in faces:
                addMapping(REGULAR, bold, italic, face)
            _registered = files
        return _registered

"""Progress of long work on stderr — on a terminal only.

One status line, redrawn in place (carriage return, erase line) at most every
``interval_s``, cleared when the work ends. When stderr is not a terminal (a pipe, a file,
a CI log) nothing is written at all, so redirected output and logs stay clean.
``enabled`` overrides the terminal check (tests; ``HOTRO_PROGRESS=0`` turns it off)."""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

from hotro.cli_text import truncate


def is_terminal(stream: TextIO) -> bool:
    if os.environ.get("HOTRO_PROGRESS", "").strip().lower() in ("0", "no", "off", "false"):
        return False
    if os.environ.get("TERM") == "dumb":
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _number(n: int) -> str:
    return f"{n:,}".replace(",", " ")


class Progress:
    """Call it as ``progress(label, done, total)`` (a ``hotro.audit.progress.Tick``); use it
    as a context manager."""

    def __init__(self, stream: TextIO | None = None, *, enabled: bool | None = None,
                 interval_s: float = 0.1, clock: Callable[[], float] = time.monotonic,
                 columns: int | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = is_terminal(self.stream) if enabled is None else enabled
        self.interval_s = interval_s
        self.clock = clock
        self.columns = columns
        self._last_draw: float | None = None
        self._shown = False

    def __call__(self, label: str, done: int, total: int | None = None) -> None:
        self.update(label, done, total)

    def update(self, label: str, done: int, total: int | None = None) -> None:
        if not self.enabled:
            return
        now = self.clock()
        finished = total is not None and done >= total
        if (self._last_draw is not None and now - self._last_draw < self.interval_s
                and not finished):
            return
        self._last_draw = now
        if total:
            text = (f"{label}: {_number(min(done, total))} / {_number(total)} "
                    f"({100 * min(done, total) // total}%)")
        else:
            text = f"{label}: {_number(done)}"
        self._draw(text)

    def _width(self) -> int:
        if self.columns is not None:
            return self.columns
        return max(20, shutil.get_terminal_size((80, 24)).columns - 1)

    def _draw(self, text: str) -> None:
        try:
            self.stream.write("\r\x1b[2K" + truncate(text, self._width()))
            self.stream.flush()
            self._shown = True
        except (OSError, ValueError):  # the terminal went away: stop drawing
            self.enabled = False

    def clear(self) -> None:
        """Remove the status line (before printing anything else on stderr)."""
        if not self._shown:
            return
        self._shown = False
        self._last_draw = None
        try:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
        except (OSError, ValueError):
            self.enabled = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.clear()


__all__ = ["Progress", "is_terminal"]

"""Progress of the audit tools' long reads, reported to whoever asks (the command line
draws it on a terminal: ``hotro.cli_progress``)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

#: (what is being done, how far, out of how much — None if unknown)
Tick = Callable[[str, int, int | None], None]


@contextlib.contextmanager
def counting_reads(app: Any, tick: Tick | None, label: str) -> Iterator[None]:
    """While inside, every page of ``app``'s notification log read by anyone (read models'
    followers, ``read_log``, ``read_events``) reports the position reached out of the
    newest notification id. Every reader of the log goes through the recorder's
    ``select_notifications``; it is wrapped on this instance only, and restored."""
    if tick is None:
        yield
        return
    recorder = app.recorder
    total = recorder.max_notification_id() or 0
    original = recorder.select_notifications

    def counted(*args: Any, **kwargs: Any) -> Any:
        notes = original(*args, **kwargs)
        if notes:
            tick(label, notes[-1].id, total)
        return notes

    vars(recorder)["select_notifications"] = counted
    try:
        yield
    finally:
        vars(recorder).pop("select_notifications", None)

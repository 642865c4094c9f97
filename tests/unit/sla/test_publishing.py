"""The outbox mapping: every published sla event becomes its wire payload from the stored
event alone; events stored before they carried the clock's names and deadline still map,
by reading the clock as it was."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Notification

from hotro.services.sla.application import SlaApplication
from hotro.services.sla.domain.clock import Clock
from hotro.shared.clock import VIETNAM_TZ, SettableClock
from hotro.shared.contracts import events as wire
from tests.unit.sla.builders import envelope, make_app, received, sqlite_env

#: What events stored before this change did not carry (their wire payload needs it).
NOT_CARRIED_BEFORE: dict[type[Any], tuple[str, ...]] = {
    Clock.Approaching: ("complaint_id", "reference", "kind", "last_day", "due_at",
                        "calendar_version"),
    Clock.Breached: ("complaint_id", "reference", "kind", "last_day", "due_at",
                     "calendar_version"),
    Clock.Met: ("complaint_id", "reference", "kind", "last_day", "due_at", "calendar_version"),
    Clock.Replanned: ("complaint_id", "reference", "kind"),
    Clock.Resumed: ("complaint_id", "reference", "kind"),
}


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=VIETNAM_TZ)


def _every_published_event(tmp_path: Path) -> tuple[SlaApplication, uuid.UUID]:
    """One case whose clocks are set, re-planned (a newer calendar), paused and resumed,
    approach, breach and are met."""
    clock = SettableClock(at(2025, 12, 29, 9))
    env = sqlite_env(tmp_path / "sla.sqlite")
    cid = uuid.uuid4()
    old = make_app(clock, env=env, calendar_version="vn-2026.1")
    old.handle(envelope(cid, received(clock()), clock()))
    old.close()
    app = make_app(clock, env=env, calendar_version="vn-2026.2", pause=frozenset({"reply"}))
    assert app.replan_to_calendar(Clock.create_id(cid, "first_contact"))
    app.handle(envelope(cid, wire.InfoRequested(reference="KN-1", items=("hoá đơn",),
                                                due_date=date(2026, 1, 5), round=1),
                        at(2025, 12, 30)))
    app.handle(envelope(cid, wire.InfoProvided(reference="KN-1", channel="email",
                                               content="đây"), at(2026, 1, 5)))
    reply = Clock.create_id(cid, "reply")
    assert app.check_clock(reply, at(2026, 1, 14)) == "approaching"
    assert app.check_clock(reply, at(2026, 1, 20)) == "breached"
    app.handle(envelope(cid, wire.ReplySent(reference="KN-1", purpose="reply",
                                            method="email", sent_at=at(2026, 1, 21),
                                            proof="<m@x>"), at(2026, 1, 21)))
    return app, cid


def _payloads(app: SlaApplication) -> list[tuple[str, dict[str, Any]]]:
    return [(e.event_type, e.payload) for e in app.envelopes()]


def _old_style(app: SlaApplication, note: Notification) -> Any:
    """The stored event as it was stored before events carried what the wire needs."""
    event = app.mapper.to_domain_event(note)
    dropped = NOT_CARRIED_BEFORE.get(type(event), ())
    state = app.mapper.transcoder.decode(note.state)
    for name in dropped:
        del state[name]
    return app.mapper.to_domain_event(
        dataclasses.replace(note, state=app.mapper.transcoder.encode(state)))


def _notifications(app: SlaApplication) -> Sequence[Notification]:
    return app.recorder.select_notifications(start=0, limit=1000, inclusive_of_start=False)


def _no_reads(*_: object, **__: object) -> Any:
    raise AssertionError("the mapping read the clock back")


def test_new_events_map_to_the_wire_without_reading_the_clock(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app, cid = _every_published_event(tmp_path)
    events = [app.mapper.to_domain_event(n) for n in _notifications(app)]
    assert {type(e) for e in events} >= {Clock.Set, *NOT_CARRIED_BEFORE}

    monkeypatch.setattr(app.repository, "get", _no_reads)
    published = _payloads(app)
    assert [t for t, _ in published] == [
        "DeadlineSet", "DeadlineSet",      # reply, first contact (vn-2026.1)
        "DeadlineReplanned",               # first contact under vn-2026.2
        "DeadlineSet", "DeadlineMet",      # customer_info; first contact met by the request
        "DeadlineMet", "DeadlineReplanned",  # the information arrived; the reply resumes
        "DeadlineApproaching", "DeadlineBreached", "DeadlineMet"]
    resumed = published[6][1]
    assert (resumed["reference"], resumed["clock"], resumed["previous_last_day"],
            resumed["last_day"]) == ("KN-1", "reply", "2026-01-13", "2026-01-15")
    breached = published[8][1]
    assert (breached["clock"], breached["last_day"], breached["due_at"],
            breached["calendar_version"]) == ("reply", "2026-01-15",
                                              "2026-01-16T00:00:00+07:00", "vn-2026.2")
    assert {e.complaint_id for e in app.envelopes()} == {cid}


def test_events_stored_before_they_carried_it_still_map(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app, _ = _every_published_event(tmp_path)
    notes = _notifications(app)
    new = [app.to_wire(app.mapper.to_domain_event(n)) for n in notes]
    old = [_old_style(app, n) for n in notes]
    assert sum(1 for e in old if type(e) in NOT_CARRIED_BEFORE) == 7
    for event in old:
        for name in NOT_CARRIED_BEFORE.get(type(event), ()):
            assert getattr(event, name) is None  # the class default
    assert [app.to_wire(e) for e in old] == new

    # the clocks replay from old-style events just the same
    by_clock: dict[uuid.UUID, list[Any]] = {}
    for event in old:
        by_clock.setdefault(event.originator_id, []).append(event)
    for clock_id, history in by_clock.items():
        replayed: Aggregate | None = None
        for event in history:
            replayed = event.mutate(replayed)
        if isinstance(replayed, Clock):
            assert replayed.snapshot() == app.get_clock(clock_id).snapshot()

    # and they are the only ones that need the read
    monkeypatch.setattr(app.repository, "get", _no_reads)
    for event in old:
        if type(event) in NOT_CARRIED_BEFORE:
            with pytest.raises(AssertionError, match="read the clock back"):
                app.to_wire(event)
        else:
            app.to_wire(event)

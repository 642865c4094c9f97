"""Every service rebuilds its aggregates with our projector, which skips eventsourcing's
protocol check per event (two thirds of a load's CPU) and rebuilds the same state; and
collects a saved aggregate's events by its class, not by the library's protocol checks."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.application import ProcessingEvent, Repository
from eventsourcing.domain import Aggregate, event

from hotro.shared.eventstore.application import ServiceApplication
from hotro.shared.eventstore.persistence import persistence_env
from hotro.shared.eventstore.repository import ServiceRepository, project


class Tally(Aggregate):
    @event("Opened", topic="tests.repository:Tally.Opened")
    def __init__(self, *, id: uuid.UUID) -> None:
        self.marks: list[str] = []

    @event("Marked", topic="tests.repository:Tally.Marked")
    def mark(self, label: str) -> None:
        self.marks.append(label)


class Store(ServiceApplication):
    name = "tallies"

    def _unused(self, pe: ProcessingEvent[uuid.UUID]) -> None:  # no handlers needed
        return None


@pytest.fixture
def app(tmp_path: Path) -> Store:
    return Store(env=persistence_env(f"sqlite:///{tmp_path}/t.sqlite"))


def _saved_tally(app: Store, labels: list[str]) -> Tally:
    tally = Tally(id=uuid.uuid4())
    for label in labels:
        tally.mark(label)
    app.save(tally)
    return tally


def test_services_load_through_our_repository(app: Store) -> None:
    assert isinstance(app.repository, ServiceRepository)


def test_a_loaded_aggregate_is_what_the_library_projector_builds(app: Store) -> None:
    tally = _saved_tally(app, ["a", "b", "c"])
    ours: Tally = app.repository.get(tally.id)
    library: Tally = Repository(event_store=app.events).get(tally.id)  # its own projector
    assert (ours.marks, ours.version) == (library.marks, library.version) == (["a", "b", "c"], 4)


def test_an_older_version_is_rebuilt_from_its_events_only(app: Store) -> None:
    tally = _saved_tally(app, ["a", "b", "c"])
    older: Tally = app.repository.get(tally.id, version=2)
    assert (older.marks, older.version) == (["a"], 2)


def test_an_event_that_cannot_mutate_fails_the_load() -> None:
    class NotAnEvent:
        pass

    events: list[Any] = [NotAnEvent()]
    with pytest.raises(AttributeError):
        project(None, events)


def test_a_saved_aggregate_is_collected_without_the_protocol_checks(
        app: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[object] = []
    library_collect = ProcessingEvent.collect_events

    def counting(self: ProcessingEvent[uuid.UUID], *objs: Any, **kwargs: Any) -> None:
        checked.extend(objs)
        library_collect(self, *objs, **kwargs)

    monkeypatch.setattr(ProcessingEvent, "collect_events", counting)
    tally = _saved_tally(app, ["a"])
    assert checked == []
    assert Repository(event_store=app.events).get(tally.id).marks == ["a"]


def test_a_domain_event_on_its_own_still_goes_through_the_library(app: Store) -> None:
    tally = Tally(id=uuid.uuid4())
    tally.mark("a")
    opened, marked = tally.collect_events()
    app.save(opened, None, marked)
    assert app.repository.get(tally.id).marks == ["a"]

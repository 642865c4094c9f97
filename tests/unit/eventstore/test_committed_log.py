"""A follower woken by its own process's commits takes them from memory, and only a run it
can prove is the log's next; anything else — another replica's rows, a gap, what fell out
of memory — is read from the store, so it ends with exactly what the store holds."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import Notification

from hotro.services.intake.application import IntakeApplication
from hotro.shared.eventstore.committed_log import CommittedLog
from hotro.shared.eventstore.follower import LogFollower
from tests.support.intake_store import intake_on, receive_complaint


def _note(n: int) -> Notification:
    return Notification(id=n, originator_id=uuid.uuid4(), originator_version=1,
                        topic="t", state=b"{}")


def _ids(run: list[Notification] | None) -> list[int] | None:
    return None if run is None else [n.id for n in run]


def test_a_run_starts_right_after_the_position_and_stops_at_the_first_missing_id() -> None:
    log = CommittedLog()
    log.keep([_note(3), _note(4)])
    log.keep([_note(6)])
    assert _ids(log.run_after(2, 10)) == [3, 4]  # 5 is not ours: the run ends before it
    assert _ids(log.run_after(5, 10)) == [6]
    assert log.run_after(1, 10) is None  # 2 is not ours: read the store
    assert log.run_after(6, 10) is None  # nothing of ours after it
    assert _ids(log.run_after(2, 1)) == [3]
    assert _ids(log.run_after(2, 10)) == [3, 4]  # followers share it: nothing is taken


def test_commits_kept_out_of_order_still_make_one_run() -> None:
    log = CommittedLog()
    log.keep([_note(2)])  # two threads' commits, the later id kept first
    log.keep([_note(1)])
    assert _ids(log.run_after(0, 10)) == [1, 2]


def test_the_oldest_fall_out_and_a_follower_behind_them_reads_the_store() -> None:
    log = CommittedLog(capacity=3)
    log.keep([_note(n) for n in range(1, 6)])
    assert log.run_after(1, 10) is None
    assert _ids(log.run_after(2, 10)) == [3, 4, 5]
    with pytest.raises(ValueError, match="capacity"):
        CommittedLog(capacity=0)


# ---- a follower over a real store, with two replicas of one service ------------------

def _intake(url: str) -> IntakeApplication:
    return intake_on(url, b"committed-log")


def _receive(app: IntakeApplication, n: int) -> None:
    receive_complaint(app, n)


def _seen(event: Any) -> tuple[str, int, str]:
    return str(event.originator_id), event.originator_version, type(event).__qualname__


class Counted:
    """A follower of ``app`` and the store reads it made."""

    def __init__(self, app: IntakeApplication) -> None:
        self.applied: list[tuple[str, int, str]] = []
        self.follower = LogFollower(app, lambda e: self.applied.append(_seen(e)))
        self.reads = 0
        recorder: Any = app.recorder
        select = recorder.select_notifications

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.reads += 1
            return select(*args, **kwargs)

        recorder.select_notifications = counted


def _in_the_store(url: str) -> list[tuple[str, int, str]]:
    reader = _intake(url)
    found: list[tuple[str, int, str]] = []
    LogFollower(reader, lambda e: found.append(_seen(e))).catch_up()
    return found


def test_own_commits_are_followed_without_a_store_read(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/intake.db"
    ours = _intake(url)
    watched = Counted(ours)
    for n in range(3):
        _receive(ours, n)
    # the first run: the store is new, so this process wrote every row from id 1
    assert watched.follower.catch_up(from_memory=True) > 0
    assert watched.reads == 0
    _receive(ours, 3)
    assert watched.follower.catch_up_from_memory() is not None
    assert watched.reads == 0
    assert watched.applied == _in_the_store(url)
    assert watched.follower.catch_up(from_memory=True) == 0  # nothing new of ours: read
    assert watched.reads == 1


def test_another_replicas_rows_are_read_from_the_store_in_log_order(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/intake.db"
    ours, theirs = _intake(url), _intake(url)
    watched = Counted(ours)
    _receive(ours, 0)
    watched.follower.catch_up(from_memory=True)
    _receive(theirs, 1)  # between our position and our next commit: a gap in memory
    _receive(ours, 2)
    assert watched.follower.catch_up_from_memory() is None  # nothing applied
    watched.follower.catch_up(from_memory=True)
    assert watched.reads == 1
    assert watched.applied == _in_the_store(url)

    _receive(ours, 3)
    _receive(theirs, 4)  # after our last commit: the next catch-up's
    watched.follower.catch_up(from_memory=True)
    assert watched.reads == 1
    assert watched.applied == _in_the_store(url)[:len(watched.applied)]
    watched.follower.catch_up(from_memory=True)  # nothing of ours after it: read
    assert watched.reads == 2
    assert watched.applied == _in_the_store(url)


def test_a_follower_that_fell_behind_memory_reads_the_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/intake.db"
    ours = _intake(url)
    ours._committed_log = CommittedLog(capacity=2)
    watched = Counted(ours)
    for n in range(3):
        _receive(ours, n)
    watched.follower.catch_up(from_memory=True)
    assert watched.reads == 1
    assert watched.applied == _in_the_store(url)


def test_a_follower_told_to_read_the_store_always_does(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/intake.db"
    ours = _intake(url)
    watched = Counted(ours)
    _receive(ours, 0)
    watched.follower.catch_up()
    assert watched.reads == 1
    assert watched.applied == _in_the_store(url)

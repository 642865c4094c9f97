"""Routing's case queues (``views.CaseQueues``) read from their on-disk tables: queue
order with its ties, every filter, the row's shape, the dashboard's counts and
attributes — fed by a real routing application on the in-memory store."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from hotro.audit.replay import compare, routing_rows_from_aggregates
from hotro.services.routing import views
from hotro.services.routing.application import RoutingApplication
from hotro.services.routing.domain.workflow import Action
from hotro.services.routing.views import CaseQueues
from hotro.shared.contracts import events as wire
from hotro.shared.eventstore.trace import ActorKind
from tests.unit.routing.app_builders import Feeder, routing_app, stored_event_names
from tests.unit.routing.builders import T0, day, trace

TECH, DELIVERY = "ky-thuat-bao-hanh", "giao-van"


class Setup:
    def __init__(self) -> None:
        self.app: RoutingApplication = routing_app()
        self.feed = Feeder(self.app)
        self.queues = CaseQueues(self.app)

    def act(self, cid: uuid.UUID, action: Action, *, who: str = "nv.lan",
            role: str = "support", actor_department: str | None = None,
            **arguments: Any) -> None:
        kind: ActorKind = "department" if role == "department" else "staff"
        self.app.act(cid, action, role=role, actor_department=actor_department,
                     trace=trace(who, role=role, kind=kind), **arguments)

    def refer(self, cid: uuid.UUID, department: str) -> None:
        self.act(cid, Action.REFER, department=department, question="Lỗi nhà sản xuất?")

    def answer(self, cid: uuid.UUID, department: str) -> None:
        self.act(cid, Action.RECORD_DEPARTMENT_RESPONSE, who="kt.duc", role="department",
                 actor_department=department, result="Đã kiểm tra")

    def close(self, cid: uuid.UUID) -> None:
        self.act(cid, Action.FORCE_CLOSE, who="gs.ha", role="supervisor", reason="đã gọi")

    def ids(self, **filters: Any) -> list[str]:
        return [r["complaint_id"] for r in self.queues.page(offset=0, limit=1000,
                                                              **filters)[1]]


@pytest.fixture
def s() -> Iterator[Setup]:
    setup = Setup()
    yield setup
    setup.queues.close()


def test_overdue_first_then_approaching_then_oldest_ties_in_the_order_opened(
        s: Setup) -> None:
    same_time = T0 - timedelta(days=1)
    tied = [s.feed.received(received_at=same_time) for _ in range(4)]
    older = s.feed.received(received_at=T0 - timedelta(days=2))
    approaching = s.feed.received(received_at=T0)
    breached = s.feed.received(received_at=T0)
    ended = s.feed.received(received_at=T0 - timedelta(days=9))
    s.feed.deadline(approaching, "reply", day(5), breached=False)
    s.feed.deadline(breached, "reply", day(1), breached=True)
    s.close(ended)
    expected = [str(c) for c in (breached, approaching, older, *tied, ended)]

    assert [r["complaint_id"] for r in s.queues.list()] == expected
    total, rows = s.queues.page(offset=0, limit=100)
    assert total == 8 and [r["complaint_id"] for r in rows] == expected
    pages = [s.queues.page(offset=o, limit=3)[1] for o in (0, 3, 6)]
    assert [r["complaint_id"] for p in pages for r in p] == expected
    assert s.queues.page(offset=8, limit=3) == (8, [])


def test_a_row_has_its_departments_in_referral_order_deadlines_and_flags(
        s: Setup) -> None:
    cid = s.feed.received(channel="hotline")
    s.feed.deadline(cid, "reply", day(10), breached=True)
    s.refer(cid, TECH)
    s.answer(cid, TECH)
    s.refer(cid, DELIVERY)
    s.answer(cid, DELIVERY)
    s.refer(cid, TECH)  # again: listed once, where it was first
    [row] = s.queues.list()
    assert row["state"] == "referred_to_department" and row["department"] == TECH
    assert row["departments"] == [TECH, DELIVERY]
    assert row["sla_status"] == "breached" and row["follow_up"] is False
    assert row["reply_undelivered"] is False
    assert row["deadlines"] == {"reply": {"status": "breached",
                                          "last_day": day(10).isoformat(),
                                          "due_at": row["deadlines"]["reply"]["due_at"]}}
    assert set(row) == {"complaint_id", "reference", "kind", "channel", "product",
                        "category", "received_at", "state", "department", "departments",
                        "triage_rule", "sla_status", "deadlines", "follow_up",
                        "reply_undelivered", "updated_at"}
    assert row["channel"] == "hotline" and row["received_at"] == T0.isoformat()

    s.close(cid)
    s.feed.send("intake", wire.InfoProvided(reference="r", channel="email",
                                            content="Máy lại hỏng"), cid)
    [ended] = s.queues.list()
    assert ended["state"] == "closed" and ended["sla_status"] is None
    assert ended["follow_up"] is True and ended["deadlines"] == {}


def test_every_filter_of_the_queue_page(s: Setup) -> None:
    web = s.feed.received(product="dien-lanh")
    hotline = s.feed.received(channel="hotline", product="dien-tu")
    moved_on = s.feed.received()
    closed = s.feed.received()
    s.feed.deadline(hotline, "reply", day(1), breached=True)
    s.refer(hotline, TECH)
    s.refer(moved_on, TECH)
    s.answer(moved_on, TECH)
    s.refer(moved_on, DELIVERY)
    s.act(web, Action.ADD_NOTE, who="hl.minh", role="agent", text="khách gọi lại")
    s.close(closed)
    s.feed.send("intake", wire.InfoProvided(reference="r", channel="email",
                                            content="Còn lỗi"), closed)

    assert s.ids(state="referred_to_department") == [str(hotline), str(moved_on)]
    assert s.ids(channel="hotline") == [str(hotline)]
    assert s.ids(product="dien-tu") == [str(hotline)]
    assert s.ids(department=TECH) == [str(hotline)]
    assert s.ids(referred_to=TECH) == [str(hotline), str(moved_on)]
    assert s.ids(referred_to=DELIVERY) == [str(moved_on)]
    assert s.ids(sla="breached") == [str(hotline)]
    assert s.ids(sla="on_track") == [str(web), str(moved_on)]
    assert s.ids(follow_up=True) == [str(closed)]
    assert s.ids(follow_up=False) == [str(hotline), str(web), str(moved_on)]
    assert s.ids(referred_to=TECH, channel="web") == [str(moved_on)]
    assert s.ids(state="closed", channel="hotline") == []
    assert s.queues.page(offset=0, limit=1, referred_to=TECH)[0] == 2
    assert [r["complaint_id"] for r in s.queues.list(referred_to=TECH, sla="on_track")] \
        == [str(moved_on)]


def test_my_cases_are_those_a_staff_member_or_department_acted_on(s: Setup) -> None:
    noted = s.feed.received()
    referred = s.feed.received()
    s.feed.received()  # only the system touched it
    s.act(noted, Action.ADD_NOTE, who="hl.minh", role="agent", text="gọi lại sau")
    s.refer(referred, TECH)
    s.answer(referred, TECH)
    assert s.ids(actor="hl.minh") == [str(noted)]
    assert s.ids(actor="nv.lan") == [str(referred)]
    assert s.ids(actor="kt.duc") == [str(referred)]
    assert s.ids(actor="intake") == []  # a system actor is nobody's "my cases"


def test_the_page_of_given_complaint_ids_takes_any_number_of_them(s: Setup) -> None:
    cids = [s.feed.received() for _ in range(3)]
    # more ids than SQLite binds as parameters in one statement (32766)
    wanted = frozenset({str(cids[0]), str(cids[2])} | {str(uuid.uuid4())
                                                        for _ in range(40_000)})
    total, rows = s.queues.page(offset=0, limit=10, complaint_ids=wanted)
    assert total == 2 and [r["complaint_id"] for r in rows] == [str(cids[0]), str(cids[2])]
    assert s.queues.page(offset=0, limit=10, complaint_ids=frozenset()) == (0, [])


def test_stats_count_open_cases_by_channel_and_whole_days_since_receipt(
        s: Setup) -> None:
    ages = {"0-2": [timedelta(days=3) - timedelta(microseconds=1), timedelta(hours=-1)],
            "3-5": [timedelta(days=3), timedelta(days=5, hours=23)],
            "6-10": [timedelta(days=6), timedelta(days=10, hours=23)],
            ">10": [timedelta(days=11)]}
    for age in (a for bucket in ages.values() for a in bucket):
        s.feed.received(received_at=T0 - age)
    ended = s.feed.received(channel="hotline", received_at=T0 - timedelta(days=30))
    referred = s.feed.received(channel="hotline", received_at=T0)
    s.close(ended)
    s.refer(referred, TECH)
    stats = s.queues.stats(T0)
    assert stats == {
        "by_state": {"analysing": 7, "closed": 1, "referred_to_department": 1},
        "open_by_channel": {"web": 7, "hotline": 1},
        "backlog": {"0-2": 3, "3-5": 2, "6-10": 2, ">10": 1}}
    assert CaseQueues(routing_app()).stats(T0) == {
        "by_state": {}, "open_by_channel": {},
        "backlog": {"0-2": 0, "3-5": 0, "6-10": 0, ">10": 0}}


def test_attributes_name_the_last_department_referred_to_else_support(s: Setup) -> None:
    kept = s.feed.received(kind="complaint", channel="web", product="dien-lanh")
    twice = s.feed.received(channel="hotline", product="dien-tu")
    s.refer(twice, TECH)
    s.answer(twice, TECH)
    s.refer(twice, DELIVERY)
    assert s.queues.attributes() == [
        [str(kept), "complaint", "web", "dien-lanh", "support"],
        [str(twice), "complaint", "hotline", "dien-tu", DELIVERY]]


def test_a_catch_up_that_fails_is_read_again_whole(s: Setup,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    first = s.feed.received()
    s.queues.refresh()
    second = s.feed.received()
    s.refer(second, TECH)
    apply = s.queues.follower.apply
    failed: list[object] = []

    def fails_once_after_the_referral(stored: object) -> None:
        apply(stored)
        if type(stored).__name__ == "ReferredToDepartment" and not failed:
            failed.append(stored)
            raise RuntimeError("disk full")

    monkeypatch.setattr(s.queues.follower, "apply", fails_once_after_the_referral)
    with pytest.raises(RuntimeError):
        s.queues.refresh()
    s.queues.refresh()
    rows = s.queues.list()
    assert [r["complaint_id"] for r in rows] == [str(first), str(second)]
    assert rows[1]["departments"] == [TECH] and s.ids(referred_to=TECH) == [str(second)]


def test_a_catch_up_longer_than_its_memory_bound_writes_every_change(
        s: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    """A catch-up holds changed rows in memory and writes them when it holds
    ``_PENDING_ROWS`` of them, then again at its end: changes to a case after its row
    was written part-way still reach the table."""
    monkeypatch.setattr(views, "_PENDING_ROWS", 2)
    cases = [s.feed.received(channel=channel) for channel in ("web", "email", "hotline")]
    s.refer(cases[0], TECH)
    s.feed.deadline(cases[1], "reply", day(1), breached=True)
    s.answer(cases[0], TECH)
    s.refer(cases[0], DELIVERY)
    s.close(cases[2])
    read = s.queues.refresh()

    assert read == len(stored_event_names(s.app))
    assert compare({r["complaint_id"]: r for r in s.queues.list()},
                   routing_rows_from_aggregates(s.app), "aggregates") == []
    assert s.ids(actor="kt.duc") == [str(cases[0])]
    assert s.ids(referred_to=DELIVERY) == [str(cases[0])]


def test_events_applied_one_catch_up_at_a_time_give_the_rows_of_one_catch_up(
        s: Setup) -> None:
    """The same log read in many small catch-ups (rows read back from the table each
    time) and in one (rows kept in memory) gives the same rows."""
    cid = s.feed.received()
    s.queues.refresh()
    s.refer(cid, TECH)
    s.queues.refresh()
    s.feed.deadline(cid, "reply", day(1), breached=False)
    s.queues.refresh()
    s.answer(cid, TECH)
    s.queues.refresh()
    s.close(cid)
    s.queues.refresh()
    whole = CaseQueues(s.app)
    try:
        assert s.queues.list() == whole.list()
        assert s.queues.list()[0]["state"] == "closed"
    finally:
        whole.close()

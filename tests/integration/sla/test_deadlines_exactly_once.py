"""Acceptance of issue 4 (sla part): deadlines raised exactly once across a restart and with
two replicas (real nats-server, real PostgreSQL), and alerts reaching notify."""

from __future__ import annotations

import asyncio
import mailbox
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from hotro.natsbin import NatsServerProcess
from hotro.services.notify.domain import Dispatch
from hotro.services.sla.domain.clock import Clock
from hotro.shared.clock import SettableClock
from hotro.shared.staff.users import write_demo_users
from tests.conftest import TEST_LEASE_TTL_S, TEST_PARTITIONS
from tests.integration.sla.support import clock_ids, ict, on_stream, stored, submit
from tests.support.postgres import PostgresSchemas
from tests.support.system import running_system
from tests.support.waiting import eventually

FAST_TIMER = {"sla": {"timer_period_s": 0.1}}
KINDS = ("reply", "first_contact")
#: the case's owner (the support user who moved it on in routing) and the supervisor
OWNER = "demo.support@vhv.vn"
OWNER_AND_SUPERVISOR = [OWNER, "supervisor@vhv.vn"]


async def _wait_ticks(timer: object, more: int = 3) -> None:
    start = timer.ticks  # type: ignore[attr-defined]
    await eventually(lambda: timer.ticks >= start + more,  # type: ignore[attr-defined]
                     message=f"{more} more timer ticks")


@pytest.mark.postgres
async def test_deadline_passed_while_sla_was_stopped_is_raised_once_after_restart(
        provisioned: NatsServerProcess, tmp_path: Path, pg_schemas: PostgresSchemas) -> None:
    clock = SettableClock(ict(2026, 3, 2, 9))  # reply due 24:00 Mon 16/3, first contact 11/3
    common: dict[str, Any] = dict(partitions=TEST_PARTITIONS, lease_ttl_s=TEST_LEASE_TTL_S,
                                  clock=clock, settings_extra=FAST_TIMER)
    async with running_system(provisioned.url, pg_schemas.url, tmp_path,
                              services=("intake", "sla"), **common) as system:
        complaints = await submit(system, 3)
        sla = system.application("sla")
        expected = clock_ids(complaints, KINDS)
        await eventually(lambda: set(stored(sla, Clock.Set)) == expected, message="clocks set")
        await _wait_ticks(system.apps["sla"].state.timer)
        assert stored(sla, Clock.Breached) == Counter()

    clock.set(ict(2026, 3, 20, 10))  # sla is down while both deadlines pass

    async with running_system(provisioned.url, pg_schemas.url, tmp_path,
                              services=("sla",), **common) as system:
        sla = system.application("sla")
        timer = system.apps["sla"].state.timer
        await eventually(lambda: set(stored(sla, Clock.Breached)) == expected, timeout=30,
                         message="every clock breached after the restart")
        await _wait_ticks(timer)
        relay = system.runtime("sla").relay
        assert relay is not None
        await eventually(lambda: relay.position == sla.max_notification_id(),
                         message="relay published everything")
        assert stored(sla, Clock.Breached) == Counter({c: 1 for c in expected})
        assert stored(sla, Clock.Approaching) == Counter()  # too late to warn
        async with system.client("sla", role="supervisor") as client:
            overdue = (await client.get("/api/clocks/overdue")).json()
        assert overdue["count"] == len(expected)
        assert {c["status"] for c in overdue["clocks"]} == {"breached"}
    assert await on_stream(provisioned.url, "DeadlineBreached") == Counter(
        {c: 1 for c in expected})


@pytest.mark.postgres
async def test_two_sla_replicas_never_raise_the_same_event_twice(
        provisioned: NatsServerProcess, tmp_path: Path, pg_schemas: PostgresSchemas) -> None:
    clock = SettableClock(ict(2026, 3, 2, 9))
    common: dict[str, Any] = dict(partitions=TEST_PARTITIONS, lease_ttl_s=TEST_LEASE_TTL_S,
                                  clock=clock, settings_extra=FAST_TIMER)
    async with running_system(provisioned.url, pg_schemas.url, tmp_path,
                              services=("intake", "sla"), **common) as first, \
            running_system(provisioned.url, pg_schemas.url, tmp_path,
                           services=("sla",), **common) as second:
        a, b = first.application("sla"), second.application("sla")
        complaints = await submit(first, 12)
        expected = clock_ids(complaints, KINDS)  # 24 clocks
        await eventually(lambda: set(stored(a, Clock.Set)) == expected, timeout=30,
                         message="all clocks set")

        # Split brain: both replicas check the same clocks at the same moment (as when a
        # partition lease moves). Exactly one of each pair wins; the other records nothing.
        raced = sorted(Clock.create_id(c, "reply") for c in complaints[:6])
        late = ict(2026, 3, 20, 10)
        for clock_id in raced:
            results = await asyncio.gather(asyncio.to_thread(a.check_clock, clock_id, late),
                                           asyncio.to_thread(b.check_clock, clock_id, late))
            assert sorted(map(str, results)) == ["None", "breached"], results

        # Then time moves past every deadline and the two timers share the rest.
        clock.set(late)
        await eventually(lambda: set(stored(a, Clock.Breached)) == expected, timeout=30,
                         message="every clock breached")
        timers = [first.apps["sla"].state.timer, second.apps["sla"].state.timer]
        for timer in timers:
            await _wait_ticks(timer)
        assert sum(t.raised for t in timers) == len(expected) - len(raced)
        assert stored(a, Clock.Breached) == Counter({c: 1 for c in expected})
        relays = [s.runtime("sla").relay for s in (first, second)]
        await eventually(lambda: max((r.position or 0) for r in relays if r)
                         == a.max_notification_id(), message="sla's log published")
    assert await on_stream(provisioned.url, "DeadlineBreached") == Counter(
        {c: 1 for c in expected})


async def test_approaching_and_breached_reach_notify_as_internal_alerts(
        provisioned: NatsServerProcess, tmp_path: Path) -> None:
    clock = SettableClock(ict(2026, 3, 2, 9))  # reply: last day Monday 16/3
    maildir = tmp_path / "mail"
    tokens = write_demo_users(tmp_path / "users.toml")
    async with running_system(
            provisioned.url, lambda s: f"sqlite:///{tmp_path}/{s}.sqlite", tmp_path,
            partitions=TEST_PARTITIONS, lease_ttl_s=TEST_LEASE_TTL_S, clock=clock,
            settings_extra={**FAST_TIMER,
                            "routing": {"users_file": str(tmp_path / "users.toml")},
                            "notify": {"maildir": str(maildir),
                                       "send_backoff_s": (0.05, 0.1)}},
    ) as system:
        [complaint_id] = await submit(system, 1)
        sla, notify = system.application("sla"), system.application("notify")
        reply = Clock.create_id(complaint_id, "reply")
        await eventually(lambda: [c for c in sla.clocks_of(complaint_id)
                                  if c.kind == "first_contact" and c.status == "met"],
                         message="first contact met by the acknowledgement")
        # A support agent refers the case: from then on they own it. The department's own
        # due date may not pass the customer's reply deadline (16/03): it is that day, and
        # its alerts are told apart from the reply clock's below.
        async with system.client("routing") as routing:
            staff = {"Authorization": f"Bearer {tokens['support']}"}

            async def analysing() -> bool:
                r = await routing.get(f"/api/cases/{complaint_id}", headers=staff)
                return r.status_code == 200 and r.json()["state"] == "analysing"

            await eventually(analysing, message="routing opened the case")
            r = await routing.post(f"/api/cases/{complaint_id}/actions/refer", headers=staff,
                                   json={"department": "ky-thuat-bao-hanh",
                                         "question": "Máy nén có lỗi nhà sản xuất?",
                                         "internal_due": "2026-03-16"})
            assert r.status_code == 200, r.text

        def alerts(purpose: str, clock: str | None = "reply") -> list[str]:
            """Recipients of the sent internal alerts with this purpose (of one clock, or of
            every clock with ``clock=None``)."""
            found = []
            for n in notify.recorder.select_notifications(start=0, limit=10_000,
                                                          inclusive_of_start=False):
                e = notify.mapper.to_domain_event(n)
                if isinstance(e, Dispatch.Sent):
                    d = notify.get_dispatch(e.originator_id)
                    if d.purpose == purpose and d.complaint_id == complaint_id \
                            and clock in (None, d.context["clock"]):
                        assert d.internal
                        found.append(d.recipient)
            return sorted(found)

        clock.set(ict(2026, 3, 13, 18))  # 2 working days left, but after working hours
        await _wait_ticks(system.apps["sla"].state.timer)
        assert stored(sla, Clock.Approaching) == Counter()

        clock.set(ict(2026, 3, 16, 8, 30))  # Monday morning, the last day
        await eventually(lambda: alerts("alert_deadline_approaching") == OWNER_AND_SUPERVISOR,
                         message="approaching alerts sent to the case owner and the supervisor")
        async with system.client("sla", role="supervisor") as client:
            view = (await client.get(f"/api/clocks/{complaint_id}")).json()
        by_kind = {c["kind"]: c for c in view["clocks"]}
        assert by_kind["reply"]["working_days_left"] == 1
        assert by_kind["reply"]["approached"] is True

        clock.set(ict(2026, 3, 17, 9))
        await eventually(lambda: alerts("alert_deadline_breached") == OWNER_AND_SUPERVISOR,
                         message="breached alerts sent to the case owner and the supervisor")
        # each clock (the reply's and the department's) approached and breached once
        for kind in (Clock.Approaching, Clock.Breached):
            counts = stored(sla, kind)
            assert counts[reply] == 1 and set(counts.values()) == {1}, counts

        # every alert sent was mailed once, none twice
        mails = [(m["To"], m["Subject"]) for m in mailbox.Maildir(maildir, create=False)]
        internal = [to for to, _ in mails if to in OWNER_AND_SUPERVISOR]
        sent = [*alerts("alert_deadline_approaching", None),
                *alerts("alert_deadline_breached", None)]
        assert sorted(internal) == sorted(r for r in sent if r in OWNER_AND_SUPERVISOR), mails
        assert sorted(internal).count("supervisor@vhv.vn") >= 2, mails

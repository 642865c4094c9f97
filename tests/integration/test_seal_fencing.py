"""A seal keeper that lost the relay lease without noticing (its process was stopped past
the lease TTL) must not fork the seal chain when it wakes: its next seal is refused by
the stream (Nats-Expected-Last-Subject-Sequence) and it resumes from the newest seal.
Found by the chaos suite (tests/chaos): SIGSTOP of sla's relay holder broke
`hotro audit verify --all` with "seal does not continue the previous one"."""

from __future__ import annotations

import itertools

import nats

from hotro.natsbin import NatsServerProcess
from hotro.shared.seals import SEALS_STREAM, Seal, SealKeeper, seal_subject
from tests.unit.audit.world import world


async def test_a_stale_keeper_cannot_fork_the_chain(provisioned: NatsServerProcess) -> None:
    w = world()
    w.submit()
    app = w.apps["routing"]
    nc = await nats.connect(provisioned.url)
    try:
        js = nc.jetstream(timeout=5)
        stale = SealKeeper(app, lambda: js, lambda: True)
        taker = SealKeeper(app, lambda: js, lambda: True)
        assert await stale.step() > 0          # seal 1, then "stopped"
        w.submit()
        assert await taker.step() > 0          # the new lease holder: seal 2
        w.submit()
        assert await stale.step() == 0         # wakes up: refused, resumes from the stream
        assert await stale.step() > 0          # seal 3 continues seal 2
        sub = await js.pull_subscribe(seal_subject("routing"), stream=SEALS_STREAM)
        seals = [Seal.from_json(m.data) for m in await sub.fetch(10, timeout=2)]
    finally:
        await nc.close()
    assert [s.number for s in seals] == [1, 2, 3]
    for before, after in itertools.pairwise(seals):
        assert after.after == before.last and after.prev == before.head

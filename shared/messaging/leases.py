"""Leases in a NATS KV bucket: which replica runs the relay, which consumes a partition.

A lease is a key holding the owner's replica id; the bucket's TTL expires keys that are
not renewed, so a dead replica's leases pass to the others after at most one TTL.
Acquire = ``create`` (fails while the key exists); renew = ``update`` with the last
revision (fails if someone else took it). A holder acts on a lease only until its last
successful renewal + ``VALID_FOR`` × TTL, measured from before that renewal was sent: the
bucket cannot expire the key before then, so no other replica can hold it meanwhile. At
that instant the queries say so and a watchdog tells the owner (``on_partition_lost``),
whatever the renewals are doing (failing, or stuck while the broker is away); a later
successful renewal, if the key was still ours, gives it back (``on_partition_acquired``).

Partitions are shared fairly: each replica heartbeats a member key; with M members sorted
by id, the k-th aims to hold P // M partitions, plus one if k < P % M; a replica above its
share releases the extra leases for the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from hotro.shared.runtime.periodic import run_every

log = logging.getLogger(__name__)

OnChange = Callable[[int], Awaitable[None]]

#: a lease is acted on for this share of the TTL after its last renewal was sent
VALID_FOR = 0.8


@dataclass
class _Held:
    revision: int
    renewed_at: float


def fair_share(partitions: int, members: list[str], replica: str) -> int:
    if replica not in members:
        members = sorted([*members, replica])
    base, extra = divmod(partitions, len(members))
    return base + (1 if members.index(replica) < extra else 0)


class LeaseKeeper:
    def __init__(self, js: JetStreamContext, kv: KeyValue, service: str, replica_id: str,
                 partitions: int,
                 ttl_s: float, *, want_relay: bool = True,
                 on_partition_acquired: OnChange | None = None,
                 on_partition_lost: OnChange | None = None,
                 consume_partitions: bool = True) -> None:
        self.js = js
        self.kv = kv
        self.service = service
        self.replica = replica_id
        self.partitions = partitions
        self.ttl = ttl_s
        self.want_relay = want_relay
        self.consume_partitions = consume_partitions
        self.on_acquired = on_partition_acquired
        self.on_lost = on_partition_lost
        self.held: dict[str, _Held] = {}
        #: held keys the callbacks were told about and not yet told lost
        self._acting: set[str] = set()
        self._renewed = asyncio.Event()
        self.changed = asyncio.Event()
        #: when the last round (member heartbeat, renewals, balancing) completed, and the
        #: error of the failed rounds since (None: the last one succeeded)
        self.last_round_ok = time.monotonic()
        self.round_error: str | None = None

    # -- queries -------------------------------------------------------------------------

    @property
    def relay_key(self) -> str:
        return f"{self.service}.relay"

    def _valid(self, key: str) -> bool:
        """Held and renewed recently enough that the bucket cannot have expired the key:
        ``renewed_at`` is taken before the write is sent, so the server's expiry is at
        least one TTL later; we stop acting at 0.8 TTL. A renewal stuck in flight (a
        cluster electing a leader, a request waiting for its timeout) therefore cannot
        keep a lease valid while another replica takes it over (seen in the chaos suite:
        two notify replicas sending the same messages)."""
        held = self.held.get(key)
        return held is not None and time.monotonic() - held.renewed_at < self.ttl * VALID_FOR

    def holds_relay(self) -> bool:
        return self._valid(self.relay_key)

    def holds_partition(self, partition: int) -> bool:
        return self._valid(self._partition_key(partition))

    def stalled(self) -> str | None:
        """Why this replica cannot keep leases, once no round has completed for a TTL
        (writes refused — a full JetStream disk —, or hanging); None while they work. A
        replica in that state holds nothing, and would look idle rather than broken."""
        silent = time.monotonic() - self.last_round_ok
        if silent <= self.ttl:
            return None
        cause = self.round_error or "a round still in flight"
        return f"no lease round completed for {silent:.0f}s ({cause})"

    def held_partitions(self) -> list[int]:
        prefix = f"{self.service}.p"
        return sorted(int(k[len(prefix):]) for k in self.held
                      if k.startswith(prefix) and self._valid(k))

    # -- loop ----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        watchdog = asyncio.ensure_future(self._watch(stop))
        try:
            await run_every(self.ttl / 3, self._round, stop, what="lease round")
        finally:
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog
        await self.release_all()

    async def _watch(self, stop: asyncio.Event) -> None:
        """Tell the owner a lease is lost the instant it stops being valid — not when the
        renewal round that would notice gets to run (it may hang on the broker)."""
        while not stop.is_set():
            now = time.monotonic()
            for key in [k for k in self._acting if not self._valid(k)]:
                log.warning("lease %s not renewed in time; no longer acting on it", key)
                self._acting.discard(key)
                await self._changed(key, acquired=False)
            deadlines = [h.renewed_at + self.ttl * VALID_FOR
                         for k, h in self.held.items() if k in self._acting]
            self._renewed.clear()
            wait = min(deadlines, default=now + self.ttl) - time.monotonic()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._renewed.wait(), timeout=max(wait, 0.0) + 0.001)

    async def _round(self) -> None:
        try:
            await self.tick()
        except Exception as exc:
            self.round_error = repr(exc)[:300]
            await self._expire_stale()
            raise
        self.last_round_ok = time.monotonic()
        self.round_error = None

    async def tick(self) -> None:
        await self.kv.put(self._member_key(), self.replica.encode())
        for key in list(self.held):
            await self._renew(key, time.monotonic())
        if self.want_relay and self.relay_key not in self.held:
            await self._try_acquire(self.relay_key, time.monotonic())
        if self.consume_partitions:
            await self._balance(time.monotonic())

    async def release_all(self) -> None:
        for key in list(self.held):
            await self._release(key)
        with contextlib.suppress(Exception):
            await self.kv.delete(self._member_key())

    # -- internals ----------------------------------------------------------------------

    def _member_key(self) -> str:
        return f"{self.service}.m.{self.replica}"

    def _partition_key(self, p: int) -> str:
        return f"{self.service}.p{p}"

    async def _balance(self, now: float) -> None:
        members = await self._members()
        target = fair_share(self.partitions, members, self.replica)
        prefix = f"{self.service}.p"
        mine = sorted(int(k[len(prefix):]) for k in self.held if k.startswith(prefix))
        for p in mine[target:]:
            await self._release(self._partition_key(p))
        if len(mine) >= target:
            return
        # Start at an offset so replicas do not all race for partition 0.
        offset = abs(hash(self.replica)) % self.partitions
        for i in range(self.partitions):
            if sum(1 for k in self.held if k.startswith(prefix)) >= target:
                break
            p = (offset + i) % self.partitions
            key = self._partition_key(p)
            if key not in self.held:
                await self._try_acquire(key, now)

    async def _members(self) -> list[str]:
        """Live replicas of this service: member keys not yet expired by the bucket TTL."""
        prefix = f"$KV.{self.kv._name}.{self.service}.m."
        info = await self.js.stream_info(f"KV_{self.kv._name}", subjects_filter=prefix + ">")
        members = sorted(subject[len(prefix):] for subject in (info.state.subjects or {}))
        return members or [self.replica]

    async def _try_acquire(self, key: str, now: float) -> None:
        try:
            revision = await self.kv.create(key, self.replica.encode())
        except KeyWrongLastSequenceError:
            return
        except Exception as exc:
            if "wrong last sequence" in str(exc).lower():
                return
            raise
        self.held[key] = _Held(revision, now)
        log.info("lease acquired: %s", key)
        if self._valid(key):  # a create that took too long: the next renewal decides
            await self._act(key)

    async def _act(self, key: str) -> None:
        self._acting.add(key)
        self._renewed.set()
        await self._changed(key, acquired=True)

    async def _renew(self, key: str, now: float) -> None:
        held = self.held[key]
        try:
            held.revision = await self.kv.update(key, self.replica.encode(), last=held.revision)
            held.renewed_at = now
            self._renewed.set()
            if key not in self._acting and self._valid(key):
                log.info("lease %s renewed after a lapse; acting on it again", key)
                await self._act(key)
        except (KeyWrongLastSequenceError, KeyNotFoundError):
            await self._lost(key)
        except Exception as exc:
            if "wrong last sequence" in str(exc).lower():
                await self._lost(key)
            else:
                raise

    async def _release(self, key: str) -> None:
        held = self.held.get(key)
        if held is None:
            return
        await self._lost(key)
        with contextlib.suppress(Exception):
            await self.kv.delete(key, last=held.revision)

    async def _expire_stale(self) -> None:
        now = time.monotonic()
        for key, held in list(self.held.items()):
            if now - held.renewed_at > self.ttl * VALID_FOR:
                log.warning("lease %s not renewed in time; giving it up", key)
                await self._lost(key)

    async def _lost(self, key: str) -> None:
        if self.held.pop(key, None) is None:
            return
        log.info("lease released or lost: %s", key)
        if key in self._acting:  # else the watchdog already said so
            self._acting.discard(key)
            await self._changed(key, acquired=False)

    async def _changed(self, key: str, *, acquired: bool) -> None:
        self.changed.set()
        prefix = f"{self.service}.p"
        if not key.startswith(prefix):
            return
        p = int(key[len(prefix):])
        callback = self.on_acquired if acquired else self.on_lost
        if callback is not None:
            await callback(p)

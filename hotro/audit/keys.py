"""The data keys as the audit tools see them: opened, erased, or not there — never confused.

A sealed value (the customer's contact, a dispatch's recipient) can be shown only with its
data key. When it cannot be opened, what the tools print instead must say why:

=================================  ====================================================
``[đã xoá / erased]``              the key was destroyed (its tombstone is in the bucket,
                                   or intake recorded ``Request.Erased``)
``[không hiển thị / withheld]``    the operator asked for no personal data
                                   (``--no-personal-data``), or no key ring was given
``[không có khoá / no data key]``  the bucket was read and holds no key and no tombstone
                                   for it (nor does intake's pending-key table): the key
                                   is lost — a restored or re-created NATS store?
``[không đọc được / unreadable]``  a key is there but does not open the value
=================================  ====================================================

Whether the keys can be read at all (NATS reachable, credentials, permission) is decided
by the command line before anything is printed (``hotro.cli_audit``): a timeline that
says "erased" for a customer who was never erased is a lie, so the command refuses."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hotro.shared.privacy.sealing import ERASED, KeyDestroyed, KeyRing, is_sealed

WITHHELD = "[không hiển thị / withheld]"
NO_KEY = "[không có khoá / no data key]"
UNREADABLE = "[không đọc được / unreadable]"


class KeyState(enum.Enum):
    OPEN = "open"            # in the bucket
    PENDING = "pending"      # in intake's pending-key table (made while NATS was down)
    ERASED = "erased"        # tombstone, KV delete marker, or Request.Erased recorded
    ABSENT = "absent"        # the bucket was read: nothing for this key
    WITHHELD = "withheld"    # not looked up (--no-personal-data)


@dataclass
class AuditKeys:
    """A read-only ``KeyRing`` for one run of a tool, knowing why a key is not there."""

    states: dict[str, KeyState] = field(default_factory=dict)
    keys: dict[str, bytes] = field(default_factory=dict)
    #: key ids asked for that were never looked up (a bug if not empty)
    unknown: set[str] = field(default_factory=set)
    #: complaints whose erasure is recorded but whose key exists again
    resurrected: list[str] = field(default_factory=list)
    #: complaints whose contact is sealed under a key that is nowhere (nor erased)
    lost: list[str] = field(default_factory=list)

    def key(self, key_id: str) -> bytes | None:
        if key_id not in self.states:
            self.unknown.add(key_id)
        return self.keys.get(key_id)

    def create(self, key_id: str) -> bytes:
        raise KeyDestroyed("the audit tools create no keys")

    def destroy(self, key_id: str) -> None:
        self.keys.pop(key_id, None)
        self.states[key_id] = KeyState.ERASED

    def marker(self, key_id: str) -> str:
        state = self.states.get(key_id)
        if state is KeyState.ERASED:
            return ERASED
        if state is KeyState.WITHHELD:
            return WITHHELD
        if state is KeyState.ABSENT:
            return NO_KEY
        if state in (KeyState.OPEN, KeyState.PENDING):
            return UNREADABLE
        self.unknown.add(key_id)
        return WITHHELD

    @classmethod
    def withheld(cls, key_ids: Iterable[str], erased: Iterable[str] = ()) -> AuditKeys:
        gone = set(erased)
        return cls(states={k: KeyState.ERASED if k in gone else KeyState.WITHHELD
                           for k in {*key_ids, *gone}})


def hidden(value: Any, keyring: KeyRing | None) -> str:
    """What to print in place of a personal value that ``reveal`` could not open."""
    if value is None or value == "":
        return ERASED  # nothing was stored: the key was already gone when it came in
    if is_sealed(value):
        if keyring is None:
            return WITHHELD
        marker = getattr(keyring, "marker", None)
        if callable(marker):
            return str(marker(str(value["key_id"])))
        return ERASED  # a plain KeyRing: no key means destroyed (the protocol's meaning)
    return UNREADABLE


# ---- reading the bucket -----------------------------------------------------------------

@dataclass(frozen=True)
class Lookup:
    state: KeyState
    key: bytes | None = None


async def fetch(js: Any, key_ids: Iterable[str]) -> dict[str, Lookup]:
    """Each key's state in the bucket: a key, a tombstone (or an old-style delete marker),
    or nothing at all — "nothing" as the stream leader says, not a lagging replica."""
    from hotro.shared.privacy.kv import bucket, lookup

    kv = await bucket(js)
    states = {"open": KeyState.OPEN, "erased": KeyState.ERASED, "absent": KeyState.ABSENT}
    found: dict[str, Lookup] = {}
    for key_id in key_ids:
        got = await lookup(kv, key_id)
        found[key_id] = Lookup(states[got.state], got.key)
    return found


def erasure_recorded(stores: Any, complaint_id: uuid.UUID) -> bool:
    """Did intake record ``Request.Erased`` (``hotro erase``) for the complaint?"""
    return bool(getattr(stores["intake"].get_request(complaint_id), "erased", False))


def assemble(stores: Any, complaint_ids: Iterable[uuid.UUID],
             fetched: Mapping[str, Lookup], erased: Iterable[uuid.UUID] = ()) -> AuditKeys:
    """The run's key ring from what the bucket said, intake's pending keys (made while
    NATS was down, not moved to the bucket yet) and the erasures intake recorded."""
    recorded = {str(c) for c in erased}
    ring = AuditKeys()
    intake = stores["intake"] if "intake" in getattr(stores, "apps", {}) else None
    for key_id in [str(c) for c in complaint_ids]:
        lookup = fetched.get(key_id)
        if lookup is None:
            ring.states[key_id] = KeyState.ERASED if key_id in recorded else KeyState.WITHHELD
            continue
        state, key = lookup.state, lookup.key
        if state is KeyState.ABSENT and intake is not None:
            pending = intake.pending_keys.get(key_id)
            if pending is not None:
                state, key = KeyState.PENDING, pending
        if key_id in recorded:
            if key is not None:
                ring.resurrected.append(key_id)
            else:
                state = KeyState.ERASED
        elif state is KeyState.ABSENT and intake is not None and is_sealed(
                intake.get_request(uuid.UUID(key_id)).customer):
            ring.lost.append(key_id)
        ring.states[key_id] = state
        if key is not None:
            ring.keys[key_id] = key
    return ring


__all__ = ["NO_KEY", "UNREADABLE", "WITHHELD", "AuditKeys", "KeyState", "Lookup",
           "assemble", "erasure_recorded", "fetch", "hidden"]

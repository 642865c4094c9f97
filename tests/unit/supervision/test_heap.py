"""A started service freezes its start-up objects out of the collector's full passes, so
a full collection later walks only what came after (a shorter pause of the event loop)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from hotro.shared.runtime.heap import settle_heap


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_start_up_objects_leave_the_full_collection(unfrozen: None) -> None:
    long_lived = [[i] for i in range(300_000)]  # a started service's composition
    tracked_before = len(gc.get_objects())
    frozen = settle_heap()
    assert frozen >= len(long_lived)
    assert len(gc.get_objects()) < tracked_before - len(long_lived)
    assert all(d == [i] for i, d in enumerate(long_lived[:10]))  # frozen, not freed


def test_garbage_made_after_start_is_still_collected(unfrozen: None) -> None:
    settle_heap()

    class Node:
        other: object = None

    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle: only the collector frees it
    del a, b
    assert gc.collect() >= 2

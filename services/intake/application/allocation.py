"""Reference numbers from blocks leased by this process: a request's save reads and
writes no counter; only a new block does (one counter event per block).

Blocks grow from 1 to ``max_block`` numbers as the process keeps receiving, so a process
that receives little leaves few unused numbers behind when it stops (the gap is at most
its last block's remainder)."""

from __future__ import annotations

import threading
from collections.abc import Callable

#: (prefix, year, size) -> the numbers leased (one committed counter event)
Lease = Callable[[str, int, int], range]


class ReferenceBlocks:
    def __init__(self, lease: Lease, max_block: int = 64) -> None:
        self._lease = lease
        self._max_block = max_block
        self._lock = threading.Lock()
        self._left: dict[tuple[str, int], range] = {}
        self._size: dict[tuple[str, int], int] = {}

    def take(self, prefix: str, year: int) -> int:
        """The next number of (prefix, year) this process may hand out."""
        key = (prefix, year)
        with self._lock:
            left = self._left.get(key)
            if not left:
                size = min(self._max_block, 2 * self._size.get(key, 0) or 1)
                left = self._lease(prefix, year, size)
                self._size[key] = size
            self._left[key] = left[1:]
            return left[0]

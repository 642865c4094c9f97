from __future__ import annotations

import pytest

from hotro.shared.messaging.leases import fair_share


@pytest.mark.parametrize(("partitions", "members"), [(4, 3), (8, 3), (8, 8), (3, 5), (8, 1)])
def test_shares_cover_every_partition_exactly_once(partitions: int, members: int) -> None:
    ids = [f"r{i}" for i in range(members)]
    shares = [fair_share(partitions, ids, r) for r in ids]
    assert sum(shares) == partitions
    assert max(shares) - min(shares) <= 1


def test_a_replica_not_yet_listed_counts_itself() -> None:
    assert fair_share(4, ["a"], "b") == 2

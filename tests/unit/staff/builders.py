"""Test data of the identity tests."""

from __future__ import annotations

from datetime import UTC, datetime

from hotro.shared.staff.passwords import Argon2Parameters

#: argon2id with 1 MiB and one pass: real verification, fast tests
FAST = Argon2Parameters(time_cost=1, memory_kib=1024, parallelism=1)
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 09:00 in Hà Nội

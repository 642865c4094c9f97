"""Fixtures of the identity tests: cheap argon2 parameters (the real algorithm, a fraction
of the memory), a settable clock, keyrings."""

from __future__ import annotations

import pytest

from hotro.shared.clock import SettableClock
from hotro.shared.staff import assertions, capabilities
from hotro.shared.staff.passwords import Passwords
from hotro.shared.staff.signing import KeyRing, new_keyring
from tests.unit.staff.builders import FAST, T0


@pytest.fixture
def passwords() -> Passwords:
    return Passwords(FAST)


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(T0)


@pytest.fixture
def assertion_keys() -> KeyRing:
    return new_keyring(assertions.PURPOSE, T0)


@pytest.fixture
def capability_keys() -> KeyRing:
    return new_keyring(capabilities.PURPOSE, T0)

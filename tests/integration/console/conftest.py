from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI

from hotro.natsbin import NatsServerProcess
from tests.conftest import TEST_LEASE_TTL_S, TEST_PARTITIONS
from tests.support.console import (
    console_app,
    service_settings_extra,
    write_assertion_keys,
    write_capability_keys,
    write_console_users,
)
from tests.support.system import InProcessSystem, running_system


@dataclass
class ConsoleSystem:
    system: InProcessSystem
    console: FastAPI
    users: Path
    keys: Path
    capability_keys: Path


@pytest.fixture
async def console_system(provisioned: NatsServerProcess, tmp_path: Path
                         ) -> AsyncIterator[ConsoleSystem]:
    users = write_console_users(tmp_path / "console-users.toml")
    keys = write_assertion_keys(tmp_path / "assertion-keys.toml")
    capability_keys = write_capability_keys(tmp_path / "capability-keys.toml")
    async with running_system(
            provisioned.url, lambda s: f"sqlite:///{tmp_path / s}.sqlite", tmp_path,
            partitions=TEST_PARTITIONS, lease_ttl_s=TEST_LEASE_TTL_S,
            settings_extra=service_settings_extra(users, keys, capability_keys)) as system:
        console = console_app(users, keys, system.apps)
        try:
            yield ConsoleSystem(system, console, users, keys, capability_keys)
        finally:
            await console.state.console.upstreams.aclose()

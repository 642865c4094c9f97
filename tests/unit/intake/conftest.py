from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from hotro.services.intake.application import IntakeApplication
from hotro.services.intake.main import create_app
from hotro.services.intake.settings import IntakeSettings
from hotro.shared.clock import SettableClock
from hotro.shared.staff import capabilities
from hotro.shared.staff.signing import KeyRing, load_keys, new_keyring, write_keys
from tests.support.staff import write_users_file

AppFactory = Callable[..., FastAPI]


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(datetime(2026, 3, 10, 9, 0, tzinfo=UTC))


@pytest.fixture
def capability_keys_file(tmp_path: Path, clock: SettableClock) -> Path:
    """The customer links' keyring (notify signs with it; intake verifies)."""
    return write_keys(tmp_path / "capability-keys.toml",
                      new_keyring(capabilities.PURPOSE, clock()))


@pytest.fixture
def capability_keys(capability_keys_file: Path) -> KeyRing:
    return load_keys(capability_keys_file, capabilities.PURPOSE)


@pytest.fixture
def make_app(tmp_path: Path, clock: SettableClock, capability_keys_file: Path) -> AppFactory:
    """Intake's real composition root on the in-memory store; the runtime (NATS) is not
    started: ASGITransport does not run the lifespan, the HTTP layer and the store are real."""

    def factory(**extra: Any) -> FastAPI:
        extra.setdefault("users_file", str(write_users_file(tmp_path / "staff-users.toml")))
        extra.setdefault("capability_keys_file", str(capability_keys_file))
        settings = IntakeSettings(nats_url="nats://127.0.0.1:1", store_url="memory:",
                                  allow_memory_store=True, data_dir=str(tmp_path), **extra)
        return create_app(settings, clock=clock)

    return factory


@pytest.fixture
def intake_http(make_app: AppFactory) -> FastAPI:
    return make_app(hotline_webhook_secret="s3cret-for-tests")


@pytest.fixture
async def client(intake_http: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=intake_http),
                                 base_url="http://intake") as c:
        yield c


@pytest.fixture
def application(intake_http: FastAPI) -> IntakeApplication:
    app: IntakeApplication = intake_http.state.runtime.app
    return app


def complaint(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "complaint", "channel": "web",
        "customer": {"name": "Trần Văn Bình", "phone": "0912 345 678",
                     "email": "binh.tran@example.vn"},
        "product": "dien-lanh", "category": "chat-luong-san-pham",
        "description": "Tủ lạnh không lạnh sau hai ngày sử dụng.",
    }
    body.update(overrides)
    return body


def link_for(keys: KeyRing, clock: SettableClock, request_id: str, reference: str,
             generation: int = 0) -> dict[str, str]:
    """The Authorization header of the customer link notify would send for the case."""
    token = capabilities.issue(complaint_id=request_id, reference=reference,
                               generation=generation, keys=keys, now=clock())
    return {"Authorization": f"Bearer {token}"}

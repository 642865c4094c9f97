"""The public form through the console: the console tells intake who is asking (the
browser's address), so intake's limits on one stranger hold there too, and the person
sees why, in their language, on the form they filled."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
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
from tests.support.system import running_system


@pytest.fixture
async def console(provisioned: NatsServerProcess, tmp_path: Path) -> AsyncIterator[FastAPI]:
    users = write_console_users(tmp_path / "console-users.toml")
    keys = write_assertion_keys(tmp_path / "assertion-keys.toml")
    extra = service_settings_extra(users, keys, write_capability_keys(
        tmp_path / "capability-keys.toml"))
    extra["intake"].update(public_per_contact=2, public_per_address=3)
    async with running_system(
            provisioned.url, lambda s: f"sqlite:///{tmp_path / s}.sqlite", tmp_path,
            partitions=TEST_PARTITIONS, lease_ttl_s=TEST_LEASE_TTL_S,
            settings_extra=extra) as system:
        app = console_app(users, keys, system.apps)
        try:
            yield app
        finally:
            await app.state.console.upstreams.aclose()


async def _file(console: FastAPI, peer: str, email: str, language: str = "vi"
                ) -> httpx.Response:
    browser = httpx.AsyncClient(transport=httpx.ASGITransport(app=console,
                                                              client=(peer, 50000)),
                                base_url="http://console", cookies={"hotro_lang": language})
    page = await browser.get("/complaint")
    token = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert token, page.text[:2000]
    return await browser.post("/complaint", data={
        "form_token": token.group(1), "kind": "advice", "name": "Phạm D", "email": email,
        "description": "Tư vấn trả góp"})


def _receipt(r: httpx.Response) -> bool:
    assert r.status_code == 200, r.text[:2000]
    return re.search(r"TV-\d{4}-\d{6}", r.text) is not None


async def test_one_stranger_is_limited_through_the_console_too(console: FastAPI) -> None:
    assert _receipt(await _file(console, "198.51.100.7", "a@example.com"))
    assert _receipt(await _file(console, "198.51.100.7", "a@example.com"))
    refused = await _file(console, "198.51.100.8", "a@example.com")  # the same email
    assert not _receipt(refused)
    assert "quá nhiều yêu cầu" in refused.text and "0422111997" in refused.text
    assert 'name="email"' in refused.text  # the form again, as they filled it
    assert _receipt(await _file(console, "198.51.100.7", "b@example.com"))
    refused = await _file(console, "198.51.100.7", "c@example.com", "en")  # 4th: address
    assert not _receipt(refused)
    assert "too many requests from this network address" in refused.text
    assert _receipt(await _file(console, "198.51.100.9", "c@example.com"))

"""The console in tests: staff users with passwords (and the tests' API tokens), the
assertion keyring the console signs with, the console app against in-process services,
and a signed-in HTTP client."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from hotro.services.console.main import create_app
from hotro.services.console.settings import ConsoleSettings
from hotro.shared.staff import assertions, capabilities
from hotro.shared.staff.passwords import default_passwords
from hotro.shared.staff.roles import Role
from hotro.shared.staff.signing import ensure_keys, load_keys
from hotro.shared.staff.users import StaffUser, write_users
from tests.support.staff import DEPARTMENT, USERS

#: every test user's password (test data, not a secret)
PASSWORD = "mật-khẩu-thử-nghiệm-1"
#: role -> (user id, password); the department member is in DEPARTMENT
PEOPLE: dict[str, tuple[str, str]] = {role: (user_id, PASSWORD)
                                      for role, (user_id, _) in USERS.items()}
NAMES = {"agent": "Trần Văn An", "support": "Nguyễn Thị Lan", "department": "Lê Minh Đức",
         "supervisor": "Phạm Thu Hà", "auditor": "Hoàng Quốc Bảo"}


def write_console_users(path: Path) -> Path:
    """The tests' users (same ids, roles and tokens as tests/support/staff.py) with a
    password each, so people can sign in to the console."""
    digest = default_passwords().hash(PASSWORD)
    users = [StaffUser(id=user_id, name=NAMES[role], role=Role(role), token=token,
                       password_hash=digest,
                       department=DEPARTMENT if role == "department" else None)
             for role, (user_id, token) in USERS.items()]
    return write_users(path, users)


def write_assertion_keys(path: Path) -> Path:
    ensure_keys(path, assertions.PURPOSE, datetime.now(UTC))
    return path


def write_capability_keys(path: Path) -> Path:
    ensure_keys(path, capabilities.PURPOSE, datetime.now(UTC))
    return path


def customer_link_token(keys: Path, complaint_id: str, reference: str,
                        generation: int = 0) -> str:
    """A customer's link token, as the acknowledgement carries it."""
    return capabilities.issue(complaint_id=complaint_id, reference=reference,
                              generation=generation,
                              keys=load_keys(keys, capabilities.PURPOSE),
                              now=datetime.now(UTC))


def service_settings_extra(users: Path, keys: Path, capability_keys: Path | None = None
                           ) -> dict[str, dict[str, Any]]:
    extra: dict[str, dict[str, Any]] = {
        svc: {"users_file": str(users), "auth_keys_file": str(keys)}
        for svc in ("intake", "routing", "sla", "notify")}
    if capability_keys is not None:
        for svc in ("intake", "notify"):
            extra[svc]["capability_keys_file"] = str(capability_keys)
    return extra


def console_app(users: Path, keys: Path, services: Mapping[str, FastAPI], **settings: Any
                ) -> FastAPI:
    config = ConsoleSettings(
        allow_memory_sessions=True, users_file=str(users), auth_keys_file=str(keys),
        intake_url="http://intake", routing_url="http://routing", sla_url="http://sla",
        notify_url="http://notify", live_poll_s=0.2, **settings)
    transports = {name: httpx.ASGITransport(app=app) for name, app in services.items()}
    return create_app(config, transports=transports)  # staff: a fresh assertion per call


FORM_TOKEN = re.compile(r'name="(?:form_token|csrf_token)" value="([^"]+)"')


def token_in(html: str) -> str:
    found = FORM_TOKEN.search(html)
    assert found, "no form token in the page"
    return found.group(1)


async def signed_in(app: FastAPI, role: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                               base_url="http://console", timeout=30)
    page = await client.get("/sign-in")
    user_id, password = PEOPLE[role]
    response = await client.post("/sign-in", data={
        "user_id": user_id, "password": password, "form_token": token_in(page.text),
        "next": "/"})
    assert response.status_code == 303, response.text
    return client


async def csrf_of(client: httpx.AsyncClient, path: str) -> str:
    page = await client.get(path)
    assert page.status_code == 200, page.text[:2000]
    return token_in(page.text)


async def counter_intake(client: httpx.AsyncClient, **fields: str) -> str:
    """A complaint taken at the counter through the console's form (a default customer and
    request, ``fields`` override); returns the reference on its receipt slip."""
    token = await csrf_of(client, "/intake")
    form = {"csrf_token": token, "kind": "complaint", "channel": "counter",
            "name": "Nguyễn Văn Bình", "phone": "0912345678", "product": "dien-lanh",
            "address": "12 Lê Lợi, Quận 1, TP Hồ Chí Minh",
            "description": "Tủ lạnh không lạnh sau 3 ngày sử dụng", **fields}
    response = await client.post("/intake", data=form)
    assert response.status_code == 200, response.text[:3000]
    assert "PHIẾU TIẾP NHẬN" in response.text
    found = re.search(r"(KN|TV)-\d{4}-\d{6}", response.text)
    assert found, response.text[:3000]
    return found.group(0)

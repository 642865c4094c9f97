"""Sign-in through an OIDC provider, driven as a browser would: an HTTP client following
redirects with its cookies, from the console (served over HTTP) to a real provider
(tests/support/oidc_provider.py) and back. Success gives the password sign-in's session
and the person's home page; every forged, stale or foreign answer is refused without a
session."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from hotro.natsbin import NatsServerProcess, free_port
from hotro.services.console.main import create_app
from hotro.services.console.settings import ConsoleSettings
from hotro.shared.messaging.credentials import connect
from hotro.shared.staff.passwords import default_passwords
from hotro.shared.staff.roles import Role
from hotro.shared.staff.sessions import KvSessionStore, MemorySessionStore, SessionStore
from hotro.shared.staff.users import StaffUser, write_users
from tests.integration.console.conftest import ConsoleSystem
from tests.support.console import PASSWORD, token_in, write_assertion_keys
from tests.support.oidc_provider import OidcProvider, SigningKey, serving

SESSION_COOKIE = "hotro_session"
BINDING_COOKIE = "hotro_oidc"
STALE = "đã hết hạn hoặc đã được dùng"
UNVERIFIED = "Không xác minh được thông tin đăng nhập"


@dataclass
class Running:
    base: str
    provider: OidcProvider
    sessions: SessionStore

    def browser(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(follow_redirects=True, timeout=30)

    async def sign_in(self, browser: httpx.AsyncClient) -> httpx.Response:
        return await browser.get(f"{self.base}/sign-in/oidc", params={"next": "/"})


def write_people(path: Path) -> Path:
    digest = default_passwords().hash(PASSWORD)
    return write_users(path, [
        StaffUser(id="lan.nguyen", name="Nguyễn Thị Lan", role=Role.SUPPORT,
                  email="lan@vhv.vn", password_hash=digest),
        StaffUser(id="an.tran", name="Trần Văn An", role=Role.AGENT, password_hash=digest,
                  disabled=True),
        StaffUser(id="ops.bot", name="Vận hành", role=Role.OPERATOR,
                  token="ops-token-0123456789abcdef"),
    ])


@asynccontextmanager
async def running(tmp_path: Path, users: Path, *, sessions: SessionStore | None = None,
                  transports: dict[str, httpx.AsyncBaseTransport] | None = None,
                  provider: OidcProvider | None = None, **oidc: Any
                  ) -> AsyncIterator[Running]:
    """A provider and a console configured for it, both over HTTP on free ports."""
    provider = provider or OidcProvider(claims={"preferred_username": "lan.nguyen"})
    secret_file = tmp_path / "oidc-client-secret"
    secret_file.write_text(provider.client_secret + "\n", encoding="utf-8")
    secret_file.chmod(0o600)
    async with serving(provider.app()) as provider_url:
        provider.issuer = provider_url
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        provider.redirect_uri = f"{base}/sign-in/oidc/callback"
        store = sessions or MemorySessionStore()
        settings = ConsoleSettings(
            allow_memory_sessions=True, users_file=str(users),
            auth_keys_file=str(write_assertion_keys(tmp_path / "assertion-keys.toml")),
            intake_url="http://intake", routing_url="http://routing", sla_url="http://sla",
            notify_url="http://notify", public_base_url=base, oidc_issuer=provider_url,
            oidc_client_id=provider.client_id, oidc_client_secret_file=str(secret_file),
            oidc_provider_name="Keycloak", **oidc)
        console = create_app(settings, transports=transports, sessions=store)
        async with serving(console, port=port, lifespan="on"):
            yield Running(base, provider, store)


# ---- success ---------------------------------------------------------------------------


async def test_provider_sign_in_reaches_the_queue_with_a_password_session(
        console_system: ConsoleSystem, provisioned: NatsServerProcess,
        tmp_path: Path) -> None:
    nc = await connect([provisioned.url])
    try:
        sessions = await KvSessionStore.attach(nc.jetstream(timeout=5))
        transports: dict[str, httpx.AsyncBaseTransport] = {
            name: httpx.ASGITransport(app=app)
            for name, app in console_system.system.apps.items()}
        provider = OidcProvider(claims={"preferred_username": "test.support"})
        async with running(tmp_path, console_system.users, sessions=sessions,
                           transports=transports, provider=provider) as run, \
                run.browser() as browser:
            page = await browser.get(f"{run.base}/sign-in")
            assert "Đăng nhập bằng Keycloak" in page.text

            response = await run.sign_in(browser)

            assert response.status_code == 200, response.text[:2000]
            assert response.url.path == "/queue"  # support's home
            assert "Hàng đợi hồ sơ" in response.text
            hops = [r.url.path for r in response.history]
            assert hops == ["/sign-in/oidc", "/authorize", "/sign-in/oidc/callback"]
            session_id = browser.cookies.get(SESSION_COOKIE)
            assert session_id
            session = await sessions.get(session_id)
            assert session is not None and session.user_id == "test.support"
            assert session.expires_at - session.created_at == sessions.policy.absolute_lifetime
            assert BINDING_COOKIE not in browser.cookies  # used up

            # The same callback again (its state, code and the binding cookie): refused,
            # the provider is not even asked.
            binding = response.history[0].cookies[BINDING_COOKIE]
            async with httpx.AsyncClient(cookies={BINDING_COOKIE: binding}) as replayer:
                replay = await replayer.get(str(response.history[2].url))
            assert replay.status_code == 400
            assert STALE in replay.text
            assert SESSION_COOKIE not in replay.cookies
            assert provider.token_requests == 1

            # Signing out ends it, as for a password sign-in.
            token = token_in((await browser.get(f"{run.base}/queue")).text)
            await browser.post(f"{run.base}/sign-out", data={"csrf_token": token})
            assert await sessions.get(session_id) is None
            again = await browser.get(f"{run.base}/queue")
            assert again.url.path == "/sign-in"
    finally:
        await nc.close()


async def test_email_claim_maps_to_the_user_with_that_verified_email(tmp_path: Path) -> None:
    provider = OidcProvider(claims={"email": "LAN@vhv.vn", "email_verified": True})
    users = write_people(tmp_path / "users.toml")
    async with running(tmp_path, users, provider=provider, oidc_user_claim="email") as run, \
            run.browser() as browser:
        response = await run.sign_in(browser)
        assert response.status_code == 502  # the queue's services are not running here…
        session = await run.sessions.get(browser.cookies[SESSION_COOKIE])
        assert session is not None and session.user_id == "lan.nguyen"  # …but signed in


async def test_keys_rotated_at_the_provider_are_fetched_again(tmp_path: Path) -> None:
    users = write_people(tmp_path / "users.toml")
    async with running(tmp_path, users, oidc_jwks_min_refresh_s=0) as run:
        async with run.browser() as browser:
            await run.sign_in(browser)
            assert SESSION_COOKIE in browser.cookies
        assert run.provider.jwks_reads == 1

        run.provider.rotate()  # the old key leaves the JWKS
        async with run.browser() as browser:
            await run.sign_in(browser)
            assert SESSION_COOKIE in browser.cookies
        assert run.provider.jwks_reads == 2

        run.provider.rotate("ES256")  # ES256 as well
        async with run.browser() as browser:
            await run.sign_in(browser)
            assert SESSION_COOKIE in browser.cookies
        assert run.provider.jwks_reads == 3


async def test_hs256_with_the_client_secret_only_when_configured(tmp_path: Path) -> None:
    users = write_people(tmp_path / "users.toml")
    provider = OidcProvider(claims={"preferred_username": "lan.nguyen"}, token_alg="HS256")
    async with running(tmp_path, users, provider=provider) as run, \
            run.browser() as browser:
        refused = await run.sign_in(browser)
        assert refused.status_code == 401 and UNVERIFIED in refused.text
        assert SESSION_COOKIE not in browser.cookies
    provider = OidcProvider(claims={"preferred_username": "lan.nguyen"}, token_alg="HS256")
    async with running(tmp_path, users, provider=provider,
                       oidc_algorithms=("RS256", "HS256")) as run, run.browser() as browser:
        await run.sign_in(browser)
        assert SESSION_COOKIE in browser.cookies


# ---- refusals --------------------------------------------------------------------------


def _set(name: str, value: Any) -> Callable[[dict[str, Any], dict[str, Any]], None]:
    def tamper(claims: dict[str, Any], _: dict[str, Any]) -> None:
        claims[name] = value

    return tamper


def _expired(claims: dict[str, Any], _: dict[str, Any]) -> None:
    claims["iat"], claims["exp"] = int(time.time()) - 900, int(time.time()) - 300


def _unknown_kid(_: dict[str, Any], header: dict[str, Any]) -> None:
    header["kid"] = "not-a-published-key"


REFUSALS: dict[str, tuple[dict[str, Any], int, str]] = {
    "wrong nonce": ({"tamper": _set("nonce", "another-sign-in")}, 401, UNVERIFIED),
    "wrong audience": ({"tamper": _set("aud", "another-client")}, 401, UNVERIFIED),
    "another issuer": ({"tamper": _set("iss", "https://evil.example")}, 401, UNVERIFIED),
    "expired": ({"tamper": _expired}, 401, UNVERIFIED),
    "issued in the future": ({"tamper": _set("iat", int(time.time()) + 3600)}, 401,
                             UNVERIFIED),
    "bad signature": ({"sign_with": SigningKey.generate()}, 401, UNVERIFIED),
    "unknown key id": ({"tamper": _unknown_kid}, 401, UNVERIFIED),
    "alg none": ({"token_alg": "none"}, 401, UNVERIFIED),
    "unknown user": ({"claims": {"preferred_username": "stranger"}}, 403,
                     "“stranger” của Keycloak không phải là nhân viên"),
    "disabled user": ({"claims": {"preferred_username": "an.tran"}}, 403,
                      "“an.tran” của Keycloak không phải là nhân viên"),
    "no console role": ({"claims": {"preferred_username": "ops.bot"}}, 403,
                        "không phải là nhân viên"),
    "denied at the provider": ({"deny": True}, 401, "Keycloak không xác nhận"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
async def test_refused_without_a_session(case: str, tmp_path: Path) -> None:
    knobs, status, message = REFUSALS[case]
    provider = OidcProvider(**{"claims": {"preferred_username": "lan.nguyen"}, **knobs})
    users = write_people(tmp_path / "users.toml")
    async with running(tmp_path, users, provider=provider) as run, \
            run.browser() as browser:
        response = await run.sign_in(browser)

        assert response.status_code == status, response.text[:2000]
        assert message in response.text
        assert response.url.path == "/sign-in/oidc/callback"
        assert SESSION_COOKIE not in browser.cookies
        assert BINDING_COOKIE not in browser.cookies
        assert run.sessions and not await run.sessions.sessions_of("lan.nguyen")


async def test_unverified_email_and_missing_role_claim_are_refused(tmp_path: Path) -> None:
    users = write_people(tmp_path / "users.toml")
    provider = OidcProvider(claims={"email": "lan@vhv.vn", "email_verified": False})
    async with running(tmp_path, users, provider=provider, oidc_user_claim="email") as run, \
            run.browser() as browser:
        assert (await run.sign_in(browser)).status_code == 403
    provider = OidcProvider(claims={"preferred_username": "lan.nguyen",
                                    "realm_access": {"roles": ["hotro-agent"]}})
    async with running(tmp_path, users, provider=provider,
                       oidc_roles_claim="realm_access.roles",
                       oidc_role_values={"hotro-agent": "agent",
                                         "hotro-support": "support"}) as run:
        async with run.browser() as browser:  # the provider says agent, the directory support
            assert (await run.sign_in(browser)).status_code == 403
        provider.claims["realm_access"] = {"roles": ["hotro-support"]}
        async with run.browser() as browser:
            await run.sign_in(browser)
            assert SESSION_COOKIE in browser.cookies


async def test_a_callback_in_another_browser_is_refused(tmp_path: Path) -> None:
    """Login CSRF: the callback URL for the attacker's own sign-in, opened by a victim."""
    users = write_people(tmp_path / "users.toml")
    async with running(tmp_path, users) as run, run.browser() as attacker:
        start = await attacker.get(f"{run.base}/sign-in/oidc", follow_redirects=False)
        authorize = await attacker.get(start.headers["location"], follow_redirects=False)
        callback = authorize.headers["location"]
        async with run.browser() as victim:
            response = await victim.get(callback)
            assert response.status_code == 400 and STALE in response.text
            assert SESSION_COOKIE not in victim.cookies
        # the attacker's own browser cannot use it afterwards either (taken once)
        response = await attacker.get(callback)
        assert response.status_code == 400
        assert run.provider.token_requests == 0


async def test_provider_unreachable_is_a_clear_page(tmp_path: Path) -> None:
    users = write_people(tmp_path / "users.toml")
    async with running(tmp_path, users) as run:
        run.provider.issuer = "http://127.0.0.1:1"  # discovery now names another issuer
        async with run.browser() as browser:
            response = await run.sign_in(browser)
        assert response.status_code == 502
        assert "Không kết nối được với Keycloak" in response.text


async def test_without_a_provider_the_page_offers_passwords_only(tmp_path: Path) -> None:
    users = write_people(tmp_path / "users.toml")
    console = create_app(ConsoleSettings(allow_memory_sessions=True, users_file=str(users)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=console),
                                 base_url="http://console") as client:
        page = await client.get("/sign-in")
        assert page.status_code == 200 and "Đăng nhập bằng" not in page.text
        assert (await client.get("/sign-in/oidc")).status_code == 404
        assert (await client.get("/sign-in/oidc/callback?state=x&code=y")).status_code == 404

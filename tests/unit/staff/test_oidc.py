"""The OIDC relying party's checks that need a clock or a counter: ID-token times against
the console's clock, audiences and authorized party, the JWKS refresh limit, discovery's
issuer, pending sign-ins taken once, identity → staff user, and the settings' refusals.
The provider is tests/support/oidc_provider.py in-process (the integration tests serve it
over HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from pydantic import ValidationError

from hotro.services.console.settings import ConsoleSettings
from hotro.shared.clock import SettableClock
from hotro.shared.staff.oidc import (
    IdTokenInvalid,
    OidcClient,
    OidcConfig,
    ProviderUnavailable,
    basic_auth,
)
from hotro.shared.staff.oidc_login import (
    IdentityMapping,
    LoginRefused,
    MemoryPendingLogins,
    PendingLogin,
    staff_user_for,
)
from hotro.shared.staff.roles import Role
from hotro.shared.staff.users import Directory, StaffUser
from tests.support.monotonic import SettableMonotonic
from tests.support.oidc_provider import OidcProvider

ISSUER = "http://127.0.0.1:9"
NONCE = "the-nonce-of-this-sign-in"


def _client(provider: OidcProvider, clock: SettableClock, monotonic: SettableMonotonic,
            **config: Any) -> OidcClient:
    provider.issuer = ISSUER
    return OidcClient(OidcConfig(issuer=ISSUER, client_id=provider.client_id,
                                 client_secret=provider.client_secret,
                                 redirect_url="http://127.0.0.1:8080/sign-in/oidc/callback",
                                 **config),
                      clock=clock, monotonic=monotonic,
                      transport=httpx.ASGITransport(app=provider.app()))


def _token(provider: OidcProvider, at: datetime, **claims: Any) -> str:
    now = int(at.timestamp())
    body = {"iss": ISSUER, "aud": provider.client_id, "sub": "s-1", "iat": now,
            "exp": now + 300, "nonce": NONCE, **claims}
    return jwt.encode(body, provider.key.private, algorithm="RS256",
                      headers={"kid": provider.key.kid})


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(datetime(2026, 11, 30, 3, 0, tzinfo=UTC))


async def test_times_are_checked_against_the_consoles_clock(clock: SettableClock) -> None:
    provider = OidcProvider()
    client = _client(provider, clock, SettableMonotonic())
    issued = clock()
    token = _token(provider, issued)
    clock.set(issued + timedelta(seconds=300 + 59))  # expired, within the 60 s skew
    assert (await client.verify_id_token(token, NONCE))["sub"] == "s-1"
    clock.set(issued + timedelta(seconds=300 + 61))
    with pytest.raises(IdTokenInvalid, match="expired"):
        await client.verify_id_token(token, NONCE)
    clock.set(issued - timedelta(seconds=120))
    with pytest.raises(IdTokenInvalid, match="future"):
        await client.verify_id_token(token, NONCE)
    clock.set(issued + timedelta(minutes=12))  # still unexpired, but minted long ago
    old = _token(provider, issued, exp=int(issued.timestamp()) + 3600)
    with pytest.raises(IdTokenInvalid, match="too old"):
        await client.verify_id_token(old, NONCE)


async def test_several_audiences_need_this_client_as_authorized_party(
        clock: SettableClock) -> None:
    provider = OidcProvider()
    client = _client(provider, clock, SettableMonotonic())
    audiences = [provider.client_id, "another-client"]
    with pytest.raises(IdTokenInvalid, match="authorized party"):
        await client.verify_id_token(_token(provider, clock(), aud=audiences), NONCE)
    with pytest.raises(IdTokenInvalid, match="authorized party"):
        await client.verify_id_token(_token(provider, clock(), azp="another-client"), NONCE)
    claims = await client.verify_id_token(
        _token(provider, clock(), aud=audiences, azp=provider.client_id), NONCE)
    assert claims["azp"] == provider.client_id


async def test_unknown_keys_read_the_jwks_again_at_most_once_per_interval(
        clock: SettableClock) -> None:
    provider = OidcProvider()
    monotonic = SettableMonotonic()
    client = _client(provider, clock, monotonic, jwks_min_refresh_s=10)
    await client.verify_id_token(_token(provider, clock()), NONCE)
    assert provider.jwks_reads == 1
    provider.rotate()
    rotated = _token(provider, clock())
    monotonic.now += 5  # too soon to ask the provider again
    with pytest.raises(IdTokenInvalid, match="no key"):
        await client.verify_id_token(rotated, NONCE)
    assert provider.jwks_reads == 1
    monotonic.now += 6
    assert (await client.verify_id_token(rotated, NONCE))["sub"] == "s-1"
    assert provider.jwks_reads == 2


async def test_discovery_must_name_the_configured_issuer(clock: SettableClock) -> None:
    provider = OidcProvider()
    client = _client(provider, clock, SettableMonotonic())
    provider.issuer = "http://127.0.0.1:9/another-realm"
    with pytest.raises(ProviderUnavailable, match="issuer"):
        await client.metadata()


def test_configuration_refusals() -> None:
    base: dict[str, Any] = {"issuer": "https://sso.vhv.vn/realms/vhv", "client_id": "c",
                            "client_secret": "s" * 32,
                            "redirect_url": "https://hotro.vhv.vn/sign-in/oidc/callback"}
    OidcConfig(**base)
    for bad in ({"algorithms": ("none",)}, {"algorithms": ()},
                {"issuer": "http://sso.vhv.vn/realms/vhv"}, {"scopes": "profile email"},
                {"client_secret": ""}, {"redirect_url": "https://h.vn/cb?x=1"}):
        with pytest.raises(ValueError):
            OidcConfig(**{**base, **bad})


def test_settings_need_a_client_and_accept_no_none(tmp_path: Path) -> None:
    common: dict[str, Any] = {"allow_memory_sessions": True,
                              "oidc_issuer": "https://sso.vhv.vn/realms/vhv"}
    with pytest.raises(ValidationError, match="CLIENT_ID"):
        ConsoleSettings(**common)
    secret = tmp_path / "secret"
    secret.write_text("a-client-secret\n", encoding="utf-8")
    full = {**common, "oidc_client_id": "hotro-console",
            "oidc_client_secret_file": str(secret)}
    with pytest.raises(ValidationError, match="none"):
        ConsoleSettings(**full, oidc_algorithms=("RS256", "none"))
    config = ConsoleSettings(**full, public_base_url="https://hotro.vhv.vn").oidc_config()
    assert config.client_secret == "a-client-secret"
    assert config.redirect_url == "https://hotro.vhv.vn/sign-in/oidc/callback"
    assert not ConsoleSettings(allow_memory_sessions=True).oidc_enabled


def test_basic_auth_encodes_each_part_first() -> None:
    assert basic_auth("a:b", "p w") == "Basic YSUzQWI6cCt3"  # "a%3Ab:p+w"


async def test_a_pending_sign_in_is_taken_once_and_expires(clock: SettableClock) -> None:
    store = MemoryPendingLogins(clock=clock)
    login = PendingLogin(nonce="n", code_verifier="v", binding_digest="d", next="/queue",
                         created_at=clock())
    await store.put("state-1", login)
    assert await store.take("state-1") == login
    assert await store.take("state-1") is None
    await store.put("state-2", login)
    clock.advance(minutes=10)
    assert await store.take("state-2") is None


def _directory() -> Directory:
    return Directory([
        StaffUser(id="lan", name="Lan", role=Role.SUPPORT, email="lan@vhv.vn",
                  token="token-lan-0123456789"),
        StaffUser(id="lan2", name="Lan 2", role=Role.AGENT, email="shared@vhv.vn",
                  token="token-lan2-0123456789"),
        StaffUser(id="lan3", name="Lan 3", role=Role.AGENT, email="SHARED@vhv.vn",
                  token="token-lan3-0123456789"),
    ])


def test_identity_to_staff_user() -> None:
    directory = _directory()
    by_email = IdentityMapping(user_claim="email")
    assert staff_user_for({"email": "Lan@VHV.vn", "email_verified": True}, by_email,
                          directory).id == "lan"
    with pytest.raises(LoginRefused, match="several"):
        staff_user_for({"email": "shared@vhv.vn", "email_verified": True}, by_email,
                       directory)
    with pytest.raises(LoginRefused, match="vouch"):
        staff_user_for({"email": "lan@vhv.vn"}, by_email, directory)
    with pytest.raises(LoginRefused, match="no 'preferred_username'"):
        staff_user_for({"sub": "x"}, IdentityMapping(), directory)

    roles = IdentityMapping(roles_claim="realm_access.roles",
                            role_values={"hotro-support": "support"})
    claims: dict[str, Any] = {"preferred_username": "lan",
                              "realm_access": {"roles": ["offline_access", "hotro-support"]}}
    assert staff_user_for(claims, roles, directory).id == "lan"
    claims["realm_access"] = {"roles": ["supervisor"]}  # names a role, not the user's
    with pytest.raises(LoginRefused, match="does not grant"):
        staff_user_for(claims, roles, directory)


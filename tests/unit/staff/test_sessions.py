from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import nats
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse

from hotro.natsbin import NatsServerProcess
from hotro.shared.clock import SettableClock
from hotro.shared.staff.sessions import (
    COOKIE_PLAIN,
    COOKIE_SECURE,
    SESSIONS_BUCKET,
    CsrfError,
    KvSessionStore,
    MemorySessionStore,
    Session,
    SessionPolicy,
    SessionStore,
    check_csrf,
    clear_session_cookie,
    cookie_name,
    provision_sessions_bucket,
    require_csrf,
    session_id_from,
    session_key,
    set_session_cookie,
)

POLICY = SessionPolicy(idle_timeout=timedelta(minutes=30), absolute_lifetime=timedelta(hours=8),
                       touch_interval=timedelta(minutes=1))


@pytest.fixture(params=["memory", "kv"])
async def store(request: pytest.FixtureRequest, clock: SettableClock
                ) -> AsyncIterator[SessionStore]:
    if request.param == "memory":
        yield MemorySessionStore(POLICY, clock=clock)
        return
    server: NatsServerProcess = request.getfixturevalue("nats_server")
    nc = await nats.connect(server.url)
    try:
        js = nc.jetstream()
        assert "created" in await provision_sessions_bucket(js, POLICY)
        assert "exists" in await provision_sessions_bucket(js, POLICY)
        yield await KvSessionStore.attach(js, POLICY, clock=clock)
    finally:
        await nc.close()


async def test_a_new_session_is_found_by_its_id(store: SessionStore) -> None:
    session = await store.create("nv.lan")
    assert len(session.id) >= 43 and len(session.csrf_token) >= 43
    assert session.id != session.csrf_token
    found = await store.get(session.id)
    assert found is not None
    assert (found.id, found.user_id, found.csrf_token) == (session.id, "nv.lan",
                                                           session.csrf_token)
    assert found.expires_at == session.created_at + POLICY.absolute_lifetime
    assert await store.get(session.id + "x") is None
    assert await store.get("") is None
    other = await store.create("nv.lan")
    assert other.id != session.id and other.csrf_token != session.csrf_token


async def test_an_idle_session_ends(store: SessionStore, clock: SettableClock) -> None:
    session = await store.create("nv.lan")
    clock.advance(minutes=29)
    assert await store.get(session.id) is not None  # used: the idle timer restarts
    clock.advance(minutes=29)
    assert await store.get(session.id) is not None
    clock.advance(minutes=30)
    assert await store.get(session.id) is None
    clock.advance(minutes=-30)
    assert await store.get(session.id) is None  # removed, not merely hidden


async def test_touches_are_throttled(store: SessionStore, clock: SettableClock) -> None:
    session = await store.create("nv.lan")
    clock.advance(seconds=30)
    touched = await store.get(session.id)
    assert touched is not None and touched.last_seen_at == session.created_at
    clock.advance(seconds=31)
    touched = await store.get(session.id)
    assert touched is not None and touched.last_seen_at == clock()
    clock.advance(minutes=5)
    untouched = await store.get(session.id, touch=False)
    assert untouched is not None and untouched.last_seen_at == touched.last_seen_at


async def test_a_used_session_still_ends_at_its_absolute_lifetime(
        store: SessionStore, clock: SettableClock) -> None:
    session = await store.create("nv.lan")
    for _ in range(31):  # every 15 minutes for 7h45
        clock.advance(minutes=15)
        assert await store.get(session.id) is not None
    clock.advance(minutes=15)  # 8 h after sign-in
    assert await store.get(session.id) is None


async def test_revoke_one_session(store: SessionStore) -> None:
    first, second = await store.create("nv.lan"), await store.create("nv.lan")
    await store.revoke(first.id)
    assert await store.get(first.id) is None
    assert await store.get(second.id) is not None
    await store.revoke(first.id)  # twice is fine
    await store.revoke("never-existed-" + "x" * 30)


async def test_revoke_every_session_of_a_user(store: SessionStore) -> None:
    lan = [await store.create("nv.lan") for _ in range(3)]
    duc = await store.create("kt.duc")
    assert len(await store.sessions_of("nv.lan")) == 3
    assert await store.revoke_user("nv.lan") == 3
    assert [await store.get(s.id) for s in lan] == [None, None, None]
    assert await store.get(duc.id) is not None
    assert await store.sessions_of("nv.lan") == []
    assert await store.revoke_user("nv.lan") == 0
    assert await store.revoke_user("nobody") == 0


async def test_the_kv_bucket_holds_no_session_id(nats_server: NatsServerProcess,
                                                 clock: SettableClock) -> None:
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        await provision_sessions_bucket(js, POLICY)
        store = await KvSessionStore.attach(js, POLICY, clock=clock)
        session = await store.create("nv.lan")
        kv = await js.key_value(SESSIONS_BUCKET)
        keys = await kv.keys()
        assert f"s.{session_key(session.id)}" in keys
        assert not any(session.id in key for key in keys)
        entry = await kv.get(f"s.{session_key(session.id)}")
        assert entry.value is not None and session.id.encode() not in entry.value
        status = await kv.status()
        assert status.ttl == POLICY.absolute_lifetime.total_seconds()
    finally:
        await nc.close()


def test_session_policy_bounds() -> None:
    with pytest.raises(ValueError):
        SessionPolicy(idle_timeout=timedelta(hours=13), absolute_lifetime=timedelta(hours=12))
    with pytest.raises(ValueError):
        SessionPolicy(idle_timeout=timedelta(minutes=1), touch_interval=timedelta(minutes=2))


def _session() -> Session:
    from tests.unit.staff.builders import T0

    return Session(id="i" * 43, user_id="nv.lan", csrf_token="c" * 43, created_at=T0,
                   last_seen_at=T0, expires_at=T0 + timedelta(hours=8))


def test_check_csrf() -> None:
    session = _session()
    check_csrf(session, "c" * 43)
    for wrong in (None, "", "c" * 42, "c" * 44, "d" * 43, "ç" * 43):
        with pytest.raises(CsrfError):
            check_csrf(session, wrong)


@pytest.mark.parametrize("secure", [True, False])
def test_the_session_cookie(secure: bool) -> None:
    response = PlainTextResponse("ok")
    set_session_cookie(response, _session(), secure=secure)
    header = response.headers["set-cookie"]
    name = COOKIE_SECURE if secure else COOKIE_PLAIN
    assert header.startswith(f"{name}={'i' * 43};")
    attributes = {part.strip().lower() for part in header.split(";")[1:]}
    assert {"httponly", "path=/", "samesite=lax"} <= attributes
    assert ("secure" in attributes) is secure
    assert not any(a.startswith(("domain", "max-age", "expires")) for a in attributes)
    cleared = PlainTextResponse("bye")
    clear_session_cookie(cleared, secure=secure)
    assert cleared.headers["set-cookie"].startswith(f'{name}="";')
    assert "max-age=0" in cleared.headers["set-cookie"].lower()


def _console() -> FastAPI:
    app = FastAPI()
    session = _session()

    @app.post("/form")
    async def form(request: Request) -> dict[str, str | None]:
        await require_csrf(request, session)
        return {"session": session_id_from(request, secure=False)}

    @app.get("/read")
    async def read(request: Request) -> dict[str, str | None]:
        await require_csrf(request, session)
        return {"session": session_id_from(request, secure=True)}

    @app.exception_handler(CsrfError)
    async def refuse(_: Request, exc: CsrfError) -> PlainTextResponse:
        return PlainTextResponse(str(exc), 403)

    return app


async def test_require_csrf_on_unsafe_methods_by_header_or_form() -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_console()),
                                 base_url="http://console",
                                 cookies={cookie_name(False): "i" * 43}) as client:
        ok = await client.post("/form", headers={"X-CSRF-Token": "c" * 43})
        assert ok.json() == {"session": "i" * 43}
        assert (await client.post("/form", data={"csrf_token": "c" * 43})).status_code == 200
        assert (await client.post("/form", files={"f": ("a.txt", b"x")},
                                  data={"csrf_token": "c" * 43})).status_code == 200
        assert (await client.post("/form")).status_code == 403
        assert (await client.post("/form", data={"csrf_token": "x" * 43})).status_code == 403
        assert (await client.post("/form", headers={"X-CSRF-Token": "x" * 43},
                                  data={"csrf_token": "c" * 43})).status_code == 403
        assert (await client.post("/form", json={"csrf_token": "c" * 43})).status_code == 403
        # a safe method needs none; the cookie of the other mode does not count
        assert (await client.get("/read")).json() == {"session": None}

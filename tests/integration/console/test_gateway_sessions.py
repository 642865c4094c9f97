"""The gateway forwards each browser's own cookies and nobody else's: its upstream client
keeps no cookie jar (one person's session cookie, kept by the client, would otherwise go
with every later request, whoever sent it)."""

from __future__ import annotations

import httpx

from hotro.gateway import build_gateway


async def test_a_session_cookie_set_for_one_browser_never_goes_with_another() -> None:
    seen: list[str | None] = []

    def console(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        return httpx.Response(303, headers={"location": "/intake",
                                            "set-cookie": "hotro_session=s3cr3t; Path=/"})

    gateway = build_gateway({"console": "http://console"},
                            transport=httpx.MockTransport(console))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway),
                                 base_url="http://gateway") as first, \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway),
                              base_url="http://gateway") as second:
        signed = await first.post("/sign-in", data={"user_id": "a", "password": "b"})
        assert "hotro_session=s3cr3t" in signed.headers["set-cookie"]  # to its browser
        await second.get("/sign-in")
        await first.get("/queue")
    assert seen == [None, None, "hotro_session=s3cr3t"]

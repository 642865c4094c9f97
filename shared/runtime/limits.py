"""Request limits of every service's HTTP API: a body size limit and a body read timeout.

``RequestLimits`` is a plain ASGI middleware (the runtime puts it around every service
app, ``build_http_app``):

* a ``Content-Length`` above the limit is answered 413 at once, before a byte of the body
  is read (the connection is then closed: the unread body cannot be skipped);
* a body sent without a length (chunked) is counted as the app reads it: 413 as soon as
  it passes the limit, so at most the limit is ever buffered;
* the whole body must arrive within ``body_timeout_s`` of the request's headers: a client
  that trickles its body gets 408 and the connection is closed.

The refusals are ``{"detail": "…"}`` like every other error. Inside a FastAPI route the
refusal is raised from ``receive`` as an ``HTTPException``, which FastAPI passes through
(its body reader turns other exceptions into 400); if nothing answers it, the middleware
does, unless the response has already started.

The server protects what comes before the app: ``hotro serve`` runs uvicorn with bounded
header sizes, a keep-alive timeout and a header timeout (``shared/runtime/http_server.py``).
"""

from __future__ import annotations

import asyncio
import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MIB = 1024 * 1024


class BodyRefused(HTTPException):
    """The request body broke a limit (413 or 408). The connection is closed after the
    answer: the rest of the body is never read."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(status_code, detail, headers={"Connection": "close"})


def too_large(limit: int) -> BodyRefused:
    return BodyRefused(413, f"the request body is larger than {_size(limit)}")


def too_slow(timeout_s: float) -> BodyRefused:
    return BodyRefused(408, f"the request body did not arrive within {timeout_s:g} s")


def _size(n: int) -> str:
    return f"{n / MIB:g} MB" if n >= MIB and n % (MIB // 8) == 0 else f"{n} bytes"


class RequestLimits:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, body_timeout_s: float) -> None:
        if max_body_bytes < 0 or body_timeout_s <= 0:
            raise ValueError("max_body_bytes >= 0 and body_timeout_s > 0")
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await _answer(send, too_large(self.max_body_bytes))
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.body_timeout_s
        received = 0
        body_done = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, body_done
            if body_done:  # after the body: waiting for a disconnect is not limited
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise too_slow(self.body_timeout_s) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise too_large(self.max_body_bytes)
                body_done = not message.get("more_body", False)
            else:
                body_done = True
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except BodyRefused as refused:
            if started:
                raise
            await _answer(send, refused)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server (h11) refuses an invalid length before we run
    return None


async def _answer(send: Send, refused: BodyRefused) -> None:
    body = json.dumps({"detail": refused.detail}, separators=(",", ":")).encode()
    await send({"type": "http.response.start", "status": refused.status_code,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})

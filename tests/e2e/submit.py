"""Drive intake like its users do: many concurrent HTTP submissions."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import httpx

from tests.support.staff import auth


def headers_for(body: dict[str, object], key: str) -> dict[str, str]:
    """The public form (channel web) needs no token; counter and hotline requests are
    recorded by staff (an agent's token)."""
    headers = {"Idempotency-Key": key}
    if body.get("channel") != "web":
        headers.update(auth("agent"))
    return headers


def complaint(i: int) -> dict[str, object]:
    return {
        "kind": "complaint" if i % 3 else "advice",
        "channel": ("web", "counter", "hotline")[i % 3],
        "customer": {"name": f"Khách hàng {i}", "phone": f"0912{i % 1_000_000:06d}",
                     "email": f"khach{i}@example.com"},
        "product": "dien-lanh",
        "description": f"Yêu cầu số {i}: sản phẩm lỗi",
    }


async def submit_many(base_url: str, count: int, *, concurrency: int = 8,
                      on_accepted: Callable[[int], Awaitable[None]] | None = None
                      ) -> list[uuid.UUID]:
    """Returns the ids of the requests intake accepted (201/200). Each POST carries an
    Idempotency-Key and is retried on connection errors, as a real client would."""
    accepted: list[uuid.UUID] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            i = queue.get_nowait()
            key = f"e2e-{i}-{uuid.uuid4()}"
            for _ in range(50):
                try:
                    r = await client.post("/api/complaints", json=complaint(i),
                                          headers={"Idempotency-Key": key, **auth("agent")})
                except httpx.HTTPError:
                    await asyncio.sleep(0.2)
                    continue
                if r.status_code in (200, 201):
                    accepted.append(uuid.UUID(r.json()["id"]))
                    if on_accepted is not None:
                        await on_accepted(len(accepted))
                    break
                if r.status_code < 500:
                    raise AssertionError(f"complaint {i} refused: {r.status_code} {r.text}")
                await asyncio.sleep(0.2)
            else:
                raise AssertionError(f"complaint {i} never accepted")

    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return accepted

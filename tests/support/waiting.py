"""Bounded polling: wait on a condition with a deadline, never a bare sleep."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

T = TypeVar("T")


@overload
async def eventually(check: Callable[[], Awaitable[T | None]], *, timeout: float = ...,
                     interval: float = ..., message: str = ...) -> T: ...


@overload
async def eventually(check: Callable[[], T | None], *, timeout: float = ...,
                     interval: float = ..., message: str = ...) -> T: ...


async def eventually(check: Callable[[], Any], *, timeout: float = 30.0,
                     interval: float = 0.05, message: str = "condition") -> Any:
    """Call ``check`` until it returns a truthy value; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        last = result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message} "
                                 f"(last value: {last!r})")
        await asyncio.sleep(interval)

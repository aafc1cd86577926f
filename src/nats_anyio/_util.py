"""Small helpers of the async client."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import anyio

__all__ = ["Waiter", "call_maybe_async", "new_lock"]


class Waiter:
    """A one-shot slot a caller awaits (a request's reply, a flush's PONG)."""

    __slots__ = ("error", "event", "value")

    def __init__(self) -> None:
        self.event = anyio.Event()
        self.value: Any = None
        self.error: BaseException | None = None

    def set(self, value: Any = None, error: BaseException | None = None) -> None:
        if not self.event.is_set():
            self.value = value
            self.error = error
            self.event.set()


def new_lock() -> anyio.Lock:
    try:
        return anyio.Lock(fast_acquire=True)  # anyio >= 4.5: no checkpoint when free
    except TypeError:  # pragma: no cover - older anyio
        return anyio.Lock()


async def call_maybe_async(fn: Callable[..., object], *args: Any) -> None:
    """Call a plain or an async callback."""
    result = fn(*args)
    if inspect.isawaitable(result):
        await result

"""Small helpers of the async client."""

from __future__ import annotations

import heapq
import inspect
import math
from collections.abc import Callable
from typing import Any

import anyio

__all__ = ["Deadlines", "Waiter", "call_maybe_async", "new_lock"]


class Waiter:
    """A one-shot slot a caller awaits (a request's reply, a flush's PONG)."""

    __slots__ = ("error", "event", "expired", "value")

    def __init__(self) -> None:
        self.event = anyio.Event()
        self.value: Any = None
        self.error: BaseException | None = None
        self.expired = False  # set by Deadlines when its time ran out first

    def set(self, value: Any = None, error: BaseException | None = None) -> None:
        if not self.event.is_set():
            self.value = value
            self.error = error
            self.event.set()

    def expire(self) -> None:
        if not self.event.is_set():
            self.expired = True
            self.event.set()


class Deadlines:
    """Timeouts for many waiters from one timer task (:meth:`run`).

    A cancel scope per request costs more than the rest of the request's
    Python work on either backend; a deadline here is a heap push. Waiters
    answered in time stay in the heap until their deadline comes up (or a
    compaction drops them), so nothing has to be removed on the hot path.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Waiter]] = []
        self._seq = 0
        self._wake = anyio.Event()
        self._next = math.inf  # when the timer task wakes up by itself
        self._compact_at = 4096

    def add(self, w: Waiter, timeout: float) -> None:
        """Expire ``w`` in ``timeout`` seconds unless it is set before."""
        when = anyio.current_time() + timeout
        heap = self._heap
        self._seq += 1
        heapq.heappush(heap, (when, self._seq, w))
        if when < self._next:
            self._wake.set()
        if len(heap) >= self._compact_at:
            heap[:] = [e for e in heap if not e[2].event.is_set()]
            heapq.heapify(heap)
            self._compact_at = max(4096, 2 * len(heap))

    async def run(self) -> None:
        """Expire waiters as their deadlines pass (runs until cancelled)."""
        heap = self._heap
        while True:
            now = anyio.current_time()
            while heap and (heap[0][0] <= now or heap[0][2].event.is_set()):
                heapq.heappop(heap)[2].expire()
            self._next = heap[0][0] if heap else math.inf
            if self._next < math.inf:
                with anyio.move_on_after(self._next - now):
                    await self._wake.wait()
            else:
                await self._wake.wait()
            self._wake = anyio.Event()


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

"""``nc.events()`` of the async client: the connection's lifecycle as an async
iterator of typed events (:mod:`nats_core`'s lifecycle events), fed by the
client's tasks through a bounded :class:`~nats_core.EventQueue`."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

import anyio

from nats_core import EventQueue, LifecycleEvent
from nats_core.errors import ConnectionClosedError, NatsTimeoutError

__all__ = ["Events"]


class Events:
    """The client's lifecycle events, in order, from the moment
    :meth:`~nats_anyio.Client.events` was called: ``async for`` until the
    :class:`~nats_core.ClosedEvent` that ends it, or await :meth:`next_event`
    with a timeout. At most ``max_size`` events wait; past that the oldest are
    dropped and :class:`~nats_core.EventsDropped` (their count) comes next, so
    none is lost silently. Use it in ``async with`` (or call :meth:`close`) to
    stop listening.
    """

    def __init__(self, client: Any, max_size: int = 1024) -> None:
        self._client = client
        self._queue = EventQueue(max_size)
        self._waiter: anyio.Event | None = None
        self._closed = False
        client._add_event_reader(self)

    def _put(self, event: LifecycleEvent) -> None:
        """Called by the client's tasks (never blocks)."""
        self._queue.put(event)
        self._wake()

    def _wake(self) -> None:
        w, self._waiter = self._waiter, None
        if w is not None:
            w.set()

    async def _get(self) -> LifecycleEvent | None:
        while True:
            if self._queue.ended or self._closed:
                return None
            event = self._queue.get()
            if event is not None:
                if self._queue.ended:
                    self._client._remove_event_reader(self)
                return event
            w = self._waiter
            if w is None:
                w = self._waiter = anyio.Event()
            await w.wait()

    async def next_event(self, timeout: float | None = None) -> LifecycleEvent:
        """The next event; waits up to ``timeout`` seconds (None: no limit).

        Raises :class:`NatsTimeoutError` when none came, and
        :class:`ConnectionClosedError` once :class:`~nats_core.ClosedEvent` was
        handed out (or :meth:`close` was called): no event follows. Cancelling
        it loses no event.
        """
        event: LifecycleEvent | None = None
        with anyio.move_on_after(timeout) as scope:
            event = await self._get()
        if scope.cancelled_caught:
            raise NatsTimeoutError(f"no connection event within {timeout} s")
        if event is None:
            raise ConnectionClosedError("no more connection events: the client is closed")
        return event

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> LifecycleEvent:
        """The next event; the iteration ends after ``ClosedEvent``."""
        event = await self._get()
        if event is None:
            raise StopAsyncIteration
        return event

    def close(self) -> None:
        """Stop listening: the iteration ends, the events are no longer queued."""
        self._client._remove_event_reader(self)
        self._closed = True
        self._wake()

    async def aclose(self) -> None:
        """:meth:`close`, awaitable (as async generators have it)."""
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __len__(self) -> int:
        """Events waiting to be taken (an ``EventsDropped`` counts as one)."""
        return len(self._queue)

"""``nc.events()`` of the blocking client: the connection's lifecycle as an
iterator of typed events (:mod:`nats_core`'s lifecycle events), fed by the
client's threads through a bounded :class:`~nats_core.EventQueue`."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any, Self

from nats_core import EventQueue, LifecycleEvent
from nats_core.errors import ConnectionClosedError, NatsTimeoutError

__all__ = ["Events"]


class Events:
    """The client's lifecycle events, in order, from the moment
    :meth:`~nats_sync.Client.events` was called: iterate (blocking) until the
    :class:`~nats_core.ClosedEvent` that ends it, or :meth:`next_event` with a
    timeout. At most ``max_size`` events wait; past that the oldest are dropped
    and :class:`~nats_core.EventsDropped` (their count) comes next, so none is
    lost silently. Use it in ``with`` (or call :meth:`close`) to stop listening.
    """

    def __init__(self, client: Any, max_size: int = 1024) -> None:
        self._client = client
        self._queue = EventQueue(max_size)
        self._cond = threading.Condition(threading.Lock())
        self._closed = False
        client._add_event_reader(self)

    def _put(self, event: LifecycleEvent) -> None:
        """Called by the client's threads (never blocks)."""
        with self._cond:
            self._queue.put(event)
            self._cond.notify_all()

    def next_event(self, timeout: float | None = None) -> LifecycleEvent:
        """The next event; waits up to ``timeout`` seconds (None: no limit).

        Raises :class:`NatsTimeoutError` when none came, and
        :class:`ConnectionClosedError` once :class:`~nats_core.ClosedEvent` was
        handed out (or :meth:`close` was called): no event follows.
        """
        event = self._next(timeout)
        if event is None:
            raise ConnectionClosedError("no more connection events: the client is closed")
        return event

    def _next(self, timeout: float | None) -> LifecycleEvent | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                if self._queue.ended or self._closed:
                    return None
                event = self._queue.get()
                if event is not None:
                    break
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise NatsTimeoutError(f"no connection event within {timeout} s")
                self._cond.wait(left)
        if self._queue.ended:
            self._client._remove_event_reader(self)
        return event

    def __iter__(self) -> Iterator[LifecycleEvent]:
        return self

    def __next__(self) -> LifecycleEvent:
        """The next event (blocking); the iteration ends after ``ClosedEvent``."""
        event = self._next(None)
        if event is None:
            raise StopIteration
        return event

    def close(self) -> None:
        """Stop listening: the iteration ends, the events are no longer queued."""
        self._client._remove_event_reader(self)
        with self._cond:
            self._closed = True
            self._cond.notify_all()

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
        with self._cond:
            return len(self._queue)

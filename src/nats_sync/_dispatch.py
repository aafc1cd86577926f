"""How the blocking client hands things to other threads: a :class:`Waiter`
for the reply a caller blocks on, a :class:`CallbackQueue` for the connection
callbacks (in order, on one thread) and a :class:`CallbackPool` of worker
threads for the subscription callbacks.

A subscription with messages for its callback is *scheduled*: queued here, or
running on a worker. It is scheduled at most once, so its callback runs on one
worker at a time and sees its messages in order. A worker hands a subscription
at most ``batch`` messages, then, when others are waiting, queues it behind
them: one busy subscription cannot starve the rest. Workers start as they are
needed, up to ``size``, and stay until the client closes.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["CallbackPool", "CallbackQueue", "Scheduled", "Waiter"]

log = logging.getLogger("nats_sync")

#: Messages of one subscription a worker handles before it looks at the others.
BATCH = 256


class Scheduled(Protocol):
    """What the pool runs: a subscription with messages for its callback."""

    @property
    def subject(self) -> str: ...

    def _run_batch(self, limit: int) -> None: ...

    def _still_scheduled(self) -> bool: ...


class Waiter:
    """A one-shot slot a caller blocks on (a pre-acquired lock is the cheapest)."""

    __slots__ = ("_lock", "error", "value")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()
        self.value: Any = None
        self.error: BaseException | None = None

    def set(self, value: Any = None, error: BaseException | None = None) -> None:
        """Fill the slot and wake the caller (once; later calls change nothing)."""
        self.value = value
        self.error = error
        try:
            self._lock.release()
        except RuntimeError:
            pass

    def wait(self, timeout: float | None) -> bool:
        """True once set; False after ``timeout`` seconds (None: no limit)."""
        return self._lock.acquire(timeout=-1 if timeout is None else max(timeout, 0))


class CallbackQueue:
    """Connection callbacks (``error_cb``, ``closed_cb``...) run in order by
    :meth:`run` on one thread; one that raises is logged."""

    def __init__(self) -> None:
        self._q: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...]] | None] = (
            queue.SimpleQueue()
        )

    def put(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        """Call ``fn(*args)`` after the callbacks queued before."""
        self._q.put((fn, args))

    def stop(self) -> None:
        """End :meth:`run` after the callbacks queued before."""
        self._q.put(None)

    def run(self) -> None:
        """Run the queued callbacks until :meth:`stop`."""
        while True:
            item = self._q.get()
            if item is None:
                return
            fn, args = item
            try:
                fn(*args)
            except Exception:
                log.exception("exception in a NATS client callback %r", fn)


class CallbackPool:
    """Up to ``size`` worker threads running the callbacks of scheduled subscriptions."""

    def __init__(self, size: int, batch: int = BATCH) -> None:
        self._size = size
        self._batch = batch
        self._cond = threading.Condition(threading.Lock())
        self._ready: deque[Scheduled] = deque()
        self._idle = 0  # workers waiting for work and not woken yet
        self._workers: list[threading.Thread] = []
        self._started = 0
        self._closing = False

    @property
    def threads(self) -> int:
        """Worker threads alive now."""
        return len(self._workers)

    def schedule(self, sub: Scheduled) -> None:
        """Run ``sub``'s callback on its queued messages (the caller marked it scheduled)."""
        with self._cond:
            self._ready.append(sub)
            if self._idle:
                self._idle -= 1
                self._cond.notify()
            elif len(self._workers) < self._size:
                self._started += 1
                t = threading.Thread(
                    target=self._work, name=f"nats-cb-worker-{self._started}", daemon=True
                )
                self._workers.append(t)
                t.start()
            # else: a busy worker takes it when its batch is done

    def _work(self) -> None:
        cond = self._cond
        ready = self._ready
        sub: Scheduled | None = None
        while True:
            with cond:
                if sub is not None and not sub._still_scheduled():
                    sub = None  # nothing queued: it rests until its next delivery
                elif sub is not None and ready:
                    ready.append(sub)  # more queued, others waiting: behind them
                    sub = None
                if sub is None:  # (else: more queued and nobody waiting: go on with it)
                    while not ready:
                        if self._closing:
                            self._workers.remove(threading.current_thread())
                            return
                        self._idle += 1
                        cond.wait()
                    sub = ready.popleft()
            try:
                sub._run_batch(self._batch)
            except BaseException:  # the callback's own exceptions are handled inside
                log.exception("a callback worker of subscription %r failed", sub.subject)

    def close(self, timeout: float) -> None:
        """Let the workers end once no subscription is scheduled; wait for them up
        to ``timeout`` seconds (not for the calling thread, when it is a worker)."""
        with self._cond:
            self._closing = True
            self._idle = 0
            self._cond.notify_all()
            workers = list(self._workers)
        me = threading.current_thread()
        deadline = time.monotonic() + timeout
        for t in workers:
            if t is not me:
                t.join(max(0.0, deadline - time.monotonic()))

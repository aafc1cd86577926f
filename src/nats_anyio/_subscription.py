"""Subscriptions of the async client: a queue fed by the reader task, read with
``next_msg()``/``async for`` or by a callback running in its own task."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any, Protocol, Self

import anyio
import anyio.lowlevel

from nats_core import ClientOptions, PendingQueue, SlowConsumerPolicy
from nats_core.errors import (
    ConfigError,
    NatsTimeoutError,
    SlowConsumerError,
    SubscriptionClosedError,
)

from ._msg import Msg

__all__ = ["SUB_STATUSES", "Subscription", "SubscriptionOwner"]

log = logging.getLogger("nats_anyio")

#: What :attr:`Subscription.status` can be, and what its status listeners are told.
SUB_STATUSES = ("active", "slow_consumer", "draining", "closed")


class SubscriptionOwner(Protocol):
    """What a subscription needs of its client (the client's internals it calls)."""

    last_error: BaseException | None

    @property
    def _opts(self) -> ClientOptions: ...

    def _report_error(self, err: BaseException) -> None: ...

    def _error_cb(self) -> Callable[..., Any] | None: ...

    def _callback(self, fn: Callable[..., object] | None, *args: Any) -> None: ...

    def _barrier_progress(self, sub: Any, handled: int, everything: bool = False) -> None: ...

    def _mark_own_task(self) -> None: ...

    def _unsubscribe_nowait(self, sub: Subscription) -> None: ...

    async def _unsubscribe(self, sub: Subscription, max_msgs: int) -> None: ...

    async def _drain_subscription(self, sub: Subscription, timeout: float) -> None: ...


class Subscription(PendingQueue[Msg]):
    """One subscription. Iterate it with ``async for``, await :meth:`next_msg`, or
    give ``cb`` at subscribe.

    Messages wait in a queue bounded by the pending limits; past them messages
    are dropped as the ``slow_consumer`` policy says (``"drop_new"``, the
    default; ``"drop_oldest"``: the newest are kept; ``"error"``: the
    subscription ends, and once its queue is read :meth:`next_msg` and
    ``async for`` raise :class:`SlowConsumerError`), counted in
    :attr:`dropped`, and a :class:`SlowConsumerError` goes to the client's
    error callback (once per episode: until the queue has been emptied again).
    """

    def __init__(
        self,
        client: SubscriptionOwner,
        sid: int,
        subject: str,
        queue: str,
        cb: Callable[[Msg], object] | None,
        pending_msgs_limit: int,
        pending_bytes_limit: int,
        slow_consumer: SlowConsumerPolicy = "drop_new",
    ) -> None:
        self._client = client
        self.sid = sid
        self.subject = subject
        self.queue = queue
        self._cb = cb
        self._init_queue(pending_msgs_limit, pending_bytes_limit, slow_consumer)
        self._waiter: anyio.Event | None = None  # set by the next delivery or finish
        self._closed_evt = anyio.Event()
        self._cb_done = anyio.Event()  # the callback task ended
        self._cb_task: int | None = None  # its task id
        self._end_reason = ""
        self._barriers: list[tuple[int, Any]] = []  # (handled target, CallbackBarrier)
        self._max_msgs_seen = 0  # high-water marks of pending (max_pending)
        self._max_bytes_seen = 0
        self._closed_cb: Callable[[str], object] | None = None
        self._draining = False
        self._status_listeners: list[tuple[Callable[[str], object], frozenset[str]]] = []
        self._last_status = "active"  # what the listeners were last told (see _status_check)

    def __repr__(self) -> str:
        return (
            f"<Subscription sid={self.sid} subject={self.subject!r} queue={self.queue!r} "
            f"pending={len(self._msgs)} closed={self._closed}>"
        )

    # ------------------------------------------------ called by the reader

    def _deliver(self, batch: list[Msg]) -> None:
        """Queue ``batch`` (reader task; never blocks); drops past the pending limits."""
        if self._closed:
            return
        err = self._enqueue(batch)
        pm = len(self._msgs) + self._inflight
        if pm > self._max_msgs_seen:
            self._max_msgs_seen = pm
        pb = self._pending_bytes + self._inflight_bytes
        if pb > self._max_bytes_seen:
            self._max_bytes_seen = pb
        if self._status_listeners:
            self._status_check()
        self._wake()
        if err is not None:
            self._client._report_error(err)
            if err is self.end_error:  # slow_consumer="error": the subscription ends
                self._finish("slow consumer")
                self._client._unsubscribe_nowait(self)

    def _finish(self, reason: str) -> None:
        """No more messages will come; queued ones stay readable."""
        if not self._closed:
            self._closed = True
            self._end_reason = reason
            self._closed_evt.set()
            if self._status_listeners:
                self._status_check()
            if self._cb is None or not (self._msgs or self._inflight):
                self._client._barrier_progress(self, self.delivered, everything=True)
            self._client._callback(self._closed_cb, self.subject)
        self._wake()

    def _wake(self) -> None:
        w = self._waiter
        if w is not None:
            self._waiter = None
            w.set()

    # ----------------------------------------------------- consumer side

    async def _wait_msgs(self) -> None:
        while not self._msgs:
            if self._closed:
                if self.end_error is not None:
                    raise self.end_error
                raise SubscriptionClosedError(
                    f"subscription to {self.subject!r} is closed ({self._end_reason})"
                )
            w = self._waiter
            if w is None:
                w = self._waiter = anyio.Event()
            await w.wait()

    async def next_msg(self, timeout: float | None = 1.0) -> Msg:
        """The next message; waits up to ``timeout`` seconds (None: forever).

        Raises :class:`NatsTimeoutError` (a ``TimeoutError``) when none came, and
        :class:`SubscriptionClosedError` when the subscription ended and is empty
        (:class:`SlowConsumerError` when ``slow_consumer="error"`` ended it).
        Cancelling the call cancels only the wait; no message is lost.
        """
        if self._cb is not None:
            raise SubscriptionClosedError("next_msg() is not for a callback subscription")
        if not self._msgs:
            if timeout is None:
                await self._wait_msgs()
            else:
                with anyio.move_on_after(timeout):
                    await self._wait_msgs()
                if not self._msgs:
                    raise NatsTimeoutError(f"no message on {self.subject!r} within {timeout} s")
        msg = self._take()
        if self._status_listeners:
            self._status_check()
        return msg

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Msg:
        """The next message; stops when the subscription ends (unsubscribe, drain,
        max msgs, close) and its queue is empty; raises :class:`SlowConsumerError`
        then when ``slow_consumer="error"`` ended it."""
        if not self._msgs:
            try:
                await self._wait_msgs()
            except SubscriptionClosedError:
                raise StopAsyncIteration from None
        msg = self._take()
        if self._status_listeners:
            self._status_check()
        return msg

    async def _run_callbacks(self) -> None:
        """The subscription's own task: hand each message to the callback.

        Messages are taken in batches; a plain callback runs through a batch
        without awaiting, then the task yields to the others.
        """
        cb = self._cb
        assert cb is not None
        self._client._mark_own_task()
        self._cb_task = anyio.get_current_task().id
        msgs = self._msgs
        try:
            while True:
                if not msgs:
                    try:
                        await self._wait_msgs()
                    except (SubscriptionClosedError, SlowConsumerError):
                        return
                batch = self._take_batch()
                if self._status_listeners:
                    self._status_check()
                for msg in batch:
                    try:
                        result = cb(msg)
                        if result is not None and inspect.isawaitable(result):
                            await result
                    except Exception as e:
                        self._callback_failed(e)
                    self._inflight -= 1  # handled: no longer pending (inline, once per message)
                    self._inflight_bytes -= len(msg.data)
                batch.clear()  # handled: not kept alive while the next batch is awaited
                if self._barriers:
                    self._client._barrier_progress(self, self.delivered)
                if msgs:  # more came meanwhile: let the other tasks run first
                    await anyio.lowlevel.checkpoint()
        finally:
            self._cb_done.set()

    def _callback_failed(self, err: Exception) -> None:
        """The callback raised: to ``error_cb``, else logged with its traceback."""
        client = self._client
        if client._error_cb() is not None:
            client._report_error(err)
            return
        client.last_error = err
        log.error(
            "exception in the callback of the subscription to %r (sid %d)",
            self.subject,
            self.sid,
            exc_info=err,
        )

    # ---------------------------------------------------- nats.go's surface

    def _barrier_watch(self, barrier: Any) -> None:
        """Make ``barrier`` wait for the messages queued for the callback now."""
        if self._cb is not None and (self._msgs or self._inflight):
            barrier.watch(self, self.delivered + len(self._msgs))

    @property
    def max_pending(self) -> tuple[int, int]:
        """The most messages and bytes that were pending at once since the
        subscription began or :meth:`clear_max_pending` (nats.go's ``MaxPending``)."""
        return self._max_msgs_seen, self._max_bytes_seen

    def clear_max_pending(self) -> None:
        """Start :attr:`max_pending` again from zero."""
        self._max_msgs_seen = self._max_bytes_seen = 0

    def set_closed_cb(self, cb: Callable[[str], object] | None) -> None:
        """Call ``cb(subject)`` once the subscription ends (unsubscribed, drained,
        auto-unsubscribed, refused or the connection closed; nats.go's
        ``SetClosedHandler``), on the client's callback dispatcher."""
        self._closed_cb = cb

    @property
    def is_valid(self) -> bool:
        """True while the subscription is active (nats.go's ``IsValid``)."""
        return not self._closed

    @property
    def type(self) -> str:
        """``"async"`` for a callback subscription, ``"sync"`` for one read with
        ``next_msg()`` or ``async for`` (nats.go's ``Type``)."""
        return "sync" if self._cb is None else "async"

    @property
    def status(self) -> str:
        """``"active"``, ``"slow_consumer"`` (dropping, until its queue empties),
        ``"draining"`` or ``"closed"`` (nats.go's ``SubscriptionStatus``)."""
        if self._closed:
            return "closed"
        if self._draining:
            return "draining"
        return "slow_consumer" if self._slow else "active"

    def status_changed(self, cb: Callable[[str], object], *statuses: str) -> Callable[[], None]:
        """Call ``cb(status)`` on every change of :attr:`status` to one of ``statuses``
        (none given: every change), on the client's callback dispatcher, in order
        (nats.go's ``Subscription.StatusChanged``; a callback where nats.go gives a
        channel; plain or async). The reader task only queues the call.

        Changes: ``active`` -> ``slow_consumer`` (a pending limit was hit and
        messages dropped), ``slow_consumer`` -> ``active`` (the backlog was
        taken), -> ``draining`` (:meth:`drain`), -> ``closed`` (unsubscribed,
        auto-unsubscribe reached, drained, the connection closed). Returns a
        function that removes the listener.
        """
        bad = [s for s in statuses if s not in SUB_STATUSES]
        if bad:
            raise ConfigError(
                f"unknown subscription status {bad[0]!r}; statuses are {', '.join(SUB_STATUSES)}"
            )
        entry = (cb, frozenset(statuses))
        if not self._status_listeners:  # not tracked while nobody listened
            self._last_status = self.status
        self._status_listeners = [*self._status_listeners, entry]

        def remove() -> None:
            self._status_listeners = [e for e in self._status_listeners if e is not entry]

        return remove

    def _status_check(self) -> None:
        """Tell the listeners when :attr:`status` changed since they were last told
        (once per change, in order; the calls are queued to the dispatcher)."""
        status = self.status
        if status == self._last_status:
            return
        self._last_status = status
        for cb, wanted in self._status_listeners:
            if not wanted or status in wanted:
                self._client._callback(cb, status)

    # ----------------------------------------------------------- control

    async def unsubscribe(self, max_msgs: int = 0) -> None:
        """Stop now, or after ``max_msgs`` messages in all (auto-unsubscribe)."""
        await self._client._unsubscribe(self, max_msgs)

    async def auto_unsubscribe(self, max_msgs: int) -> None:
        """Unsubscribe once ``max_msgs`` messages have been received in all."""
        await self._client._unsubscribe(self, max_msgs)

    async def drain(self, timeout: float = 30.0) -> None:
        """Stop interest, then deliver what already arrived; returns once the
        server confirmed and (for callbacks) every queued message was handled.

        Raises :class:`NatsTimeoutError` when that takes longer than ``timeout``.
        """
        self._draining = True
        if self._status_listeners:
            self._status_check()
        await self._client._drain_subscription(self, timeout)

    async def _wait_drained(self) -> None:
        await self._closed_evt.wait()
        # From inside the callback itself, waiting for it to end would deadlock.
        if self._cb is not None and anyio.get_current_task().id != self._cb_task:
            await self._cb_done.wait()

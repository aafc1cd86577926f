"""Subscriptions of the blocking client: a queue fed by the reader thread,
read with ``next_msg()``/iteration or by a callback that the client's callback
pool runs (one message at a time, in order)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from itertools import repeat, starmap
from typing import Any, Protocol

from nats_core import ClientOptions, PendingQueue, SlowConsumerPolicy
from nats_core.errors import ConfigError, NatsTimeoutError, SubscriptionClosedError

from ._dispatch import CallbackPool
from ._msg import Msg

__all__ = ["SUB_STATUSES", "Subscription", "SubscriptionOwner"]

log = logging.getLogger("nats_sync")

#: What :attr:`Subscription.status` can be, and what its status listeners are told.
SUB_STATUSES = ("active", "slow_consumer", "draining", "closed")


class SubscriptionOwner(Protocol):
    """What a subscription needs of its client (the client's internals it calls)."""

    last_error: BaseException | None

    @property
    def _opts(self) -> ClientOptions: ...

    @property
    def _callbacks(self) -> CallbackPool: ...

    def _report_error(self, err: BaseException) -> None: ...

    def _error_cb(self) -> Callable[..., Any] | None: ...

    def _callback(self, fn: Callable[..., object] | None, *args: Any) -> None: ...

    def _barrier_progress(self, sub: Any, handled: int, everything: bool = False) -> None: ...

    def _unsubscribe(self, sub: Subscription, max_msgs: int) -> None: ...

    def _drain_subscription(self, sub: Subscription, timeout: float) -> None: ...


class Subscription(PendingQueue[Msg]):
    """One subscription. Iterate it, call :meth:`next_msg`, or give ``cb`` at subscribe.

    Messages wait in a queue bounded by the pending limits; past them messages
    are dropped as the ``slow_consumer`` policy says (``"drop_new"``, the
    default; ``"drop_oldest"``: the newest are kept; ``"error"``: the
    subscription ends, and once its queue is read :meth:`next_msg` and iteration
    raise :class:`SlowConsumerError`), counted in :attr:`dropped`, and a
    :class:`SlowConsumerError` goes to the client's error callback.
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
        self._cond = threading.Condition(threading.Lock())
        self._end_reason = ""
        self._busy = False  # the callback is running
        self._scheduled = False  # handed to the callback pool: queued there or running
        self._runner: threading.Thread | None = None  # the worker running the callback
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

    # -------------------------------------------------- called by the reader

    def _deliver(self, batch: list[Msg]) -> None:
        """Queue ``batch`` (reader thread); drops past the pending limits."""
        schedule = False
        with self._cond:
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
            if self._cb is None:
                self._cond.notify()
            elif not self._scheduled and self._msgs:
                self._scheduled = schedule = True
        if schedule:
            self._client._callbacks.schedule(self)
        if err is not None:
            self._client._report_error(err)
            if err is self.end_error:  # slow_consumer="error": the subscription ends
                self._finish("slow consumer")
                self._client._unsubscribe(self, 0)

    def _finish(self, reason: str) -> None:
        """No more messages will come; queued ones stay readable."""
        with self._cond:
            if self._closed:
                self._cond.notify_all()
                return
            self._closed = True
            self._end_reason = reason
            if self._status_listeners:
                self._status_check()
            self._cond.notify_all()
            if self._cb is None or not (self._msgs or self._inflight):
                self._client._barrier_progress(self, self.delivered, everything=True)
        self._client._callback(self._closed_cb, self.subject)

    # ------------------------------------------------------- consumer side

    def _pop(self, timeout: float | None, busy: bool = False) -> Msg | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._msgs:
                if self._closed:
                    if self.end_error is not None:
                        raise self.end_error
                    raise SubscriptionClosedError(
                        f"subscription to {self.subject!r} is closed ({self._end_reason})"
                    )
                if deadline is None:
                    self._cond.wait()
                else:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return None
                    self._cond.wait(left)
            if busy:  # in the same step, so a drain never sees "empty and idle" too early
                self._busy = True
            msg = self._take()
            if self._status_listeners:
                self._status_check()
            return msg

    def next_msg(self, timeout: float | None = 1.0) -> Msg:
        """The next message; waits up to ``timeout`` seconds (None: forever).

        Raises :class:`NatsTimeoutError` (a ``TimeoutError``) when none came, and
        :class:`SubscriptionClosedError` when the subscription ended and is empty
        (:class:`SlowConsumerError` when ``slow_consumer="error"`` ended it).
        """
        if self._cb is not None:
            raise SubscriptionClosedError("next_msg() is not for a callback subscription")
        msg = self._pop(timeout)
        if msg is None:
            raise NatsTimeoutError(f"no message on {self.subject!r} within {timeout} s")
        return msg

    def __iter__(self) -> Iterator[Msg]:
        """Yield messages until the subscription ends (unsubscribe, drain, max msgs);
        raises :class:`SlowConsumerError` at the end when ``slow_consumer="error"``
        ended it."""
        while True:
            try:
                msg = self._pop(None)
            except SubscriptionClosedError:
                return
            if msg is not None:
                yield msg

    def _run_batch(self, limit: int) -> None:
        """Hand up to ``limit`` queued messages to the callback (on a pool worker)."""
        cb = self._cb
        assert cb is not None
        with self._cond:
            # Taken and marked busy in one step, so a drain never sees "empty and
            # idle" too early; taken messages count as pending until handled.
            batch = self._take_upto(limit)
            self._busy = True
            self._runner = threading.current_thread()
            if self._status_listeners:
                self._status_check()
        try:
            for msg in batch:
                try:
                    cb(msg)
                except Exception as e:
                    self._callback_failed(e)
                self._inflight -= 1  # handled: no longer pending (inline, once per message)
                self._inflight_bytes -= len(msg.data)
        finally:
            with self._cond:
                for msg in batch[len(batch) - self._inflight :]:  # only if the loop broke off
                    self._inflight_bytes -= len(msg.data)
                self._pending_bytes += self._inflight_bytes  # <= 0 after a part (see below)
                self._inflight = self._inflight_bytes = 0
                self._busy = False
                self._runner = None
                if self._barriers:
                    self._client._barrier_progress(self, self.delivered)
                self._cond.notify_all()

    def _take_upto(self, limit: int) -> list[Msg]:
        """The oldest ``limit`` queued messages (all, when fewer), counted as pending
        until handled. A part leaves its bytes in ``_pending_bytes``: the loop
        above takes each handled one off ``_inflight_bytes`` (below zero), and
        the sum of the two is folded back once the batch is done."""
        msgs = self._msgs
        if len(msgs) <= limit:
            return self._take_batch()
        batch = list(starmap(msgs.popleft, repeat((), limit)))
        self._inflight = limit
        self.delivered += limit
        return batch

    def _still_scheduled(self) -> bool:
        """After a batch (the pool's lock held): True when more messages wait;
        else the subscription is no longer scheduled."""
        with self._cond:
            if self._msgs:
                return True
            self._scheduled = False
            return False

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
        with self._cond:
            if self._cb is not None and (self._msgs or self._inflight):
                barrier.watch(self, self.delivered + len(self._msgs))

    @property
    def max_pending(self) -> tuple[int, int]:
        """The most messages and bytes that were pending at once since the
        subscription began or :meth:`clear_max_pending` (nats.go's ``MaxPending``)."""
        return self._max_msgs_seen, self._max_bytes_seen

    def clear_max_pending(self) -> None:
        """Start :attr:`max_pending` again from zero."""
        with self._cond:
            self._max_msgs_seen = self._max_bytes_seen = 0

    def set_closed_cb(self, cb: Callable[[str], object] | None) -> None:
        """Call ``cb(subject)`` once the subscription ends (unsubscribed, drained,
        auto-unsubscribed, refused or the connection closed; nats.go's
        ``SetClosedHandler``), on the client's callback thread."""
        self._closed_cb = cb

    @property
    def is_valid(self) -> bool:
        """True while the subscription is active (nats.go's ``IsValid``)."""
        return not self._closed

    @property
    def type(self) -> str:
        """``"async"`` for a callback subscription, ``"sync"`` for one read with
        ``next_msg()`` or iteration (nats.go's ``Type``)."""
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
        (none given: every change), on the client's callback thread, in order
        (nats.go's ``Subscription.StatusChanged``; a callback where nats.go gives a
        channel). Never called on the reader thread, which only queues the call.

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
        with self._cond:
            if not self._status_listeners:  # not tracked while nobody listened
                self._last_status = self.status
            self._status_listeners = [*self._status_listeners, entry]

        def remove() -> None:
            with self._cond:
                self._status_listeners = [e for e in self._status_listeners if e is not entry]

        return remove

    def _status_check(self) -> None:
        """Tell the listeners when :attr:`status` changed since they were last told
        (the caller holds ``_cond``, so changes are told once each and in order;
        the calls are queued to the callback thread, never made here)."""
        status = self.status
        if status == self._last_status:
            return
        self._last_status = status
        for cb, wanted in self._status_listeners:
            if not wanted or status in wanted:
                self._client._callback(cb, status)

    # --------------------------------------------------------------- control

    def unsubscribe(self, max_msgs: int = 0) -> None:
        """Stop now, or after ``max_msgs`` messages in all (auto-unsubscribe)."""
        self._client._unsubscribe(self, max_msgs)

    def auto_unsubscribe(self, max_msgs: int) -> None:
        """Unsubscribe once ``max_msgs`` messages have been received in all."""
        self._client._unsubscribe(self, max_msgs)

    def drain(self, timeout: float = 30.0) -> None:
        """Stop interest, then deliver what already arrived; returns once the
        server confirmed and (for callbacks) every queued message was handled."""
        with self._cond:
            self._draining = True
            if self._status_listeners:
                self._status_check()
        self._client._drain_subscription(self, timeout)

    def _wait_done(self, deadline: float) -> bool:
        """Wait until the subscription ended and its callback handled every message."""
        with self._cond:
            while not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return self._wait_empty(deadline)

    def _wait_empty(self, deadline: float) -> bool:
        """Wait until the callback handled every queued message.

        Called from the callback itself (a drain inside the callback) there is
        nothing to wait for: the rest is handled once the callback returns.
        """
        if self._cb is None:
            return True
        with self._cond:
            if self._runner is threading.current_thread():
                return True
            while self._msgs or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

"""Subscriptions of the blocking client: a queue fed by the reader thread,
read with ``next_msg()``/iteration or by a callback on the subscription's own thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from nats_core._pending import PendingQueue
from nats_core.errors import NatsTimeoutError, SubscriptionClosedError

from ._msg import Msg

if TYPE_CHECKING:
    from ._client import Client

__all__ = ["Subscription"]


class Subscription(PendingQueue[Msg]):
    """One subscription. Iterate it, call :meth:`next_msg`, or give ``cb`` at subscribe.

    Messages wait in a queue bounded by the pending limits; past them new
    messages are dropped, counted in :attr:`dropped`, and a
    :class:`SlowConsumerError` goes to the client's error callback.
    """

    def __init__(
        self,
        client: Client,
        sid: int,
        subject: str,
        queue: str,
        cb: Callable[[Msg], object] | None,
        pending_msgs_limit: int,
        pending_bytes_limit: int,
    ) -> None:
        self._client = client
        self.sid = sid
        self.subject = subject
        self.queue = queue
        self._cb = cb
        self._init_queue(pending_msgs_limit, pending_bytes_limit)
        self._cond = threading.Condition(threading.Lock())
        self._end_reason = ""
        self._busy = False  # callback running
        self._thread: threading.Thread | None = None
        if cb is not None:
            self._thread = threading.Thread(
                target=self._run_callbacks, name=f"nats-sub-{sid}", daemon=True
            )
            self._thread.start()

    def __repr__(self) -> str:
        return (
            f"<Subscription sid={self.sid} subject={self.subject!r} queue={self.queue!r} "
            f"pending={len(self._msgs)} closed={self._closed}>"
        )

    # -------------------------------------------------- called by the reader

    def _deliver(self, batch: list[Msg]) -> None:
        """Queue ``batch`` (reader thread); drops past the pending limits."""
        with self._cond:
            if self._closed:
                return
            err = self._enqueue(batch)
            self._cond.notify()
        if err is not None:
            self._client._report_error(err)

    def _finish(self, reason: str) -> None:
        """No more messages will come; queued ones stay readable."""
        with self._cond:
            if not self._closed:
                self._closed = True
                self._end_reason = reason
            self._cond.notify_all()

    # ------------------------------------------------------- consumer side

    def _pop(self, timeout: float | None, busy: bool = False) -> Msg | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._msgs:
                if self._closed:
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
            return self._take()

    def next_msg(self, timeout: float | None = 1.0) -> Msg:
        """The next message; waits up to ``timeout`` seconds (None: forever).

        Raises :class:`NatsTimeoutError` (a ``TimeoutError``) when none came, and
        :class:`SubscriptionClosedError` when the subscription ended and is empty.
        """
        if self._cb is not None:
            raise SubscriptionClosedError("next_msg() is not for a callback subscription")
        msg = self._pop(timeout)
        if msg is None:
            raise NatsTimeoutError(f"no message on {self.subject!r} within {timeout} s")
        return msg

    def __iter__(self) -> Iterator[Msg]:
        """Yield messages until the subscription ends (unsubscribe, drain, max msgs)."""
        while True:
            try:
                msg = self._pop(None)
            except SubscriptionClosedError:
                return
            if msg is not None:
                yield msg

    def _run_callbacks(self) -> None:
        cb = self._cb
        assert cb is not None
        cond = self._cond
        msgs = self._msgs
        while True:
            with cond:
                while not msgs:
                    if self._closed:
                        return
                    cond.wait()
                # Take what is queued in one step; marked busy in the same step so a
                # drain never sees "empty and idle" too early.
                batch = self._take_batch()
                self._busy = True
            try:
                for msg in batch:
                    try:
                        cb(msg)
                    except Exception as e:
                        self._client._report_error(e)
                    self._inflight -= 1  # handled: no longer pending (inline, once per message)
                    self._inflight_bytes -= len(msg.data)
            finally:
                self._busy = False

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
        self._client._drain_subscription(self, timeout)

    def _has_work(self) -> bool:
        with self._cond:
            return bool(self._msgs) or self._busy

    def _wait_empty(self, deadline: float) -> bool:
        """Wait until the callback thread handled every queued message.

        Called from that very thread (a drain inside the callback) there is
        nothing to wait for: the rest is handled once the callback returns.
        """
        if threading.current_thread() is self._thread:
            return True
        while self._cb is not None and self._has_work():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.001)
        return True

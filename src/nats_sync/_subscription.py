"""Subscriptions of the blocking client: a queue fed by the reader thread,
read with ``next_msg()``/iteration or by a callback on the subscription's own thread."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from nats_core.errors import NatsTimeoutError, SlowConsumerError, SubscriptionClosedError

from ._msg import Msg

if TYPE_CHECKING:
    from ._client import Client

__all__ = ["Subscription"]


class Subscription:
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
        self._msgs: deque[Msg] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._closed = False  # no more messages will be queued
        self._end_reason = ""
        self.pending_msgs_limit = pending_msgs_limit
        self.pending_bytes_limit = pending_bytes_limit
        self._pending_bytes = 0  # bytes of the queued messages
        self._inflight = 0  # messages taken by the callback and not handled yet
        self._inflight_bytes = 0
        self.delivered = 0
        self.dropped = 0
        self._slow = False
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
        limit_m, limit_b = self.pending_msgs_limit, self.pending_bytes_limit
        size = sum([len(m.data) for m in batch])
        with self._cond:
            if self._closed:
                return
            msgs = self._msgs
            queued = len(msgs) + self._inflight
            queued_b = self._pending_bytes + self._inflight_bytes
            if (limit_m <= 0 or queued + len(batch) <= limit_m) and (
                limit_b <= 0 or queued_b + size <= limit_b
            ):
                msgs.extend(batch)
                self._pending_bytes += size
                self._cond.notify()
                return
            dropped = 0
            for msg in batch:
                size = len(msg.data)
                if (0 < limit_m <= len(msgs) + self._inflight) or (
                    0 < limit_b < self._pending_bytes + self._inflight_bytes + size
                ):
                    dropped += 1
                    continue
                msgs.append(msg)
                self._pending_bytes += size
            self._cond.notify()
            self.dropped += dropped
            report = not self._slow
            self._slow = True
        if report:
            self._client._report_error(
                SlowConsumerError(
                    f"slow consumer on {self.subject!r} (sid {self.sid}): pending limits "
                    f"({limit_m} msgs, {limit_b} bytes) reached, messages dropped",
                    sid=self.sid,
                    subject=self.subject,
                    dropped=self.dropped,
                )
            )

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
            msg = self._msgs.popleft()
            if busy:  # in the same step, so a drain never sees "empty and idle" too early
                self._busy = True
            self._pending_bytes -= len(msg.data)
            self.delivered += 1
            if not self._msgs:
                self._slow = False
            return msg

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
                batch = list(msgs)
                msgs.clear()
                self._busy = True
                self._inflight = len(batch)
                self._inflight_bytes = self._pending_bytes
                self._pending_bytes = 0
                self.delivered += len(batch)
                self._slow = False
            try:
                for msg in batch:
                    try:
                        cb(msg)
                    except Exception as e:
                        self._client._report_error(e)
                    self._inflight -= 1
                    self._inflight_bytes -= len(msg.data)
            finally:
                self._busy = False

    # --------------------------------------------------------------- control

    @property
    def pending_msgs(self) -> int:
        """Messages received and not yet handled by the application."""
        return len(self._msgs) + self._inflight

    @property
    def pending_bytes(self) -> int:
        """Payload bytes of :attr:`pending_msgs`."""
        return self._pending_bytes + self._inflight_bytes

    @property
    def is_closed(self) -> bool:
        """True once no more messages will arrive (queued ones may remain)."""
        return self._closed

    def set_pending_limits(self, msgs: int, bytes_: int) -> None:
        """Change the pending limits (<= 0: no limit)."""
        self.pending_msgs_limit = msgs
        self.pending_bytes_limit = bytes_

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

"""The queue of one subscription, with nats.go's pending limits.

Shared by the blocking and the async client. It does no locking: the blocking
client holds its subscription lock around these calls.
"""

from __future__ import annotations

from collections import deque
from typing import Generic, Literal, TypeVar

from ._events import Msg
from .errors import ConfigError, SlowConsumerError

__all__ = ["SLOW_CONSUMER_POLICIES", "PendingQueue", "SlowConsumerPolicy", "check_slow_consumer"]

M = TypeVar("M", bound=Msg)

#: What a subscription does with a message that does not fit its pending limits.
SlowConsumerPolicy = Literal["drop_new", "drop_oldest", "error"]
SLOW_CONSUMER_POLICIES: tuple[SlowConsumerPolicy, ...] = ("drop_new", "drop_oldest", "error")


def check_slow_consumer(policy: str) -> SlowConsumerPolicy:
    """``policy`` if it is one of :data:`SLOW_CONSUMER_POLICIES`, else a :class:`ConfigError`."""
    for known in SLOW_CONSUMER_POLICIES:
        if policy == known:
            return known
    raise ConfigError(
        f"unknown slow_consumer policy {policy!r}; policies are {', '.join(SLOW_CONSUMER_POLICIES)}"
    )


class PendingQueue(Generic[M]):
    """Messages received for one subscription and not yet handled.

    Past ``pending_msgs_limit`` messages or ``pending_bytes_limit`` bytes (<= 0:
    no limit) messages are dropped as the ``slow_consumer`` policy says and
    counted in :attr:`dropped`: ``"drop_new"`` drops the messages that do not
    fit, ``"drop_oldest"`` drops queued ones to make room (the newest are kept:
    last value wins), ``"error"`` drops what does not fit and ends the
    subscription (:attr:`end_error` is set; the adapter unsubscribes, hands out
    what was queued, then raises it). The first drop of an episode (until the
    queue empties again) yields a :class:`SlowConsumerError` to report.
    Messages a callback has taken and not handled yet still count against the
    limits (and are never dropped).
    """

    sid: int
    subject: str

    def _init_queue(
        self,
        pending_msgs_limit: int,
        pending_bytes_limit: int,
        slow_consumer: SlowConsumerPolicy = "drop_new",
    ) -> None:
        #: What happens past the pending limits: drop_new, drop_oldest or error.
        self.slow_consumer: SlowConsumerPolicy = check_slow_consumer(slow_consumer)
        #: Set when the ``"error"`` policy ended the subscription.
        self.end_error: SlowConsumerError | None = None
        self._msgs: deque[M] = deque()
        self._closed = False  # no more messages will be queued
        self.pending_msgs_limit = pending_msgs_limit
        self.pending_bytes_limit = pending_bytes_limit
        self._pending_bytes = 0  # bytes of the queued messages
        self._inflight = 0  # messages taken by the callback and not handled yet
        self._inflight_bytes = 0
        #: Messages handed to the application (by next_msg, iteration or callback).
        self.delivered = 0
        #: Messages dropped because the pending limits were reached.
        self.dropped = 0
        self._slow = False

    def _enqueue(self, batch: list[M]) -> SlowConsumerError | None:
        """Queue ``batch``; return the error to report when this starts dropping."""
        limit_m, limit_b = self.pending_msgs_limit, self.pending_bytes_limit
        msgs = self._msgs
        size = sum([len(m.data) for m in batch])
        queued = len(msgs) + self._inflight
        queued_b = self._pending_bytes + self._inflight_bytes
        if (limit_m <= 0 or queued + len(batch) <= limit_m) and (
            limit_b <= 0 or queued_b + size <= limit_b
        ):
            msgs.extend(batch)
            self._pending_bytes += size
            return None
        dropped = 0
        oldest = self.slow_consumer == "drop_oldest"
        for msg in batch:
            size = len(msg.data)
            while (0 < limit_m <= len(msgs) + self._inflight) or (
                0 < limit_b < self._pending_bytes + self._inflight_bytes + size
            ):
                if not (oldest and msgs) or 0 < limit_b < size:  # drop this one
                    dropped += 1
                    break
                self._pending_bytes -= len(msgs.popleft().data)
                dropped += 1
            else:
                msgs.append(msg)
                self._pending_bytes += size
        self.dropped += dropped
        if self.slow_consumer == "error":
            if self.end_error is not None:
                return None
            self._slow = True
            self.end_error = SlowConsumerError(
                f"slow consumer on {self.subject!r} (sid {self.sid}): pending limits "
                f"({limit_m} msgs, {limit_b} bytes) reached; the subscription ended "
                "(slow_consumer='error')",
                sid=self.sid,
                subject=self.subject,
                dropped=self.dropped,
            )
            return self.end_error
        if self._slow:
            return None
        self._slow = True
        return SlowConsumerError(
            f"slow consumer on {self.subject!r} (sid {self.sid}): pending limits "
            f"({limit_m} msgs, {limit_b} bytes) reached, messages dropped",
            sid=self.sid,
            subject=self.subject,
            dropped=self.dropped,
        )

    def _take(self) -> M:
        """The oldest queued message (the queue must not be empty)."""
        msg = self._msgs.popleft()
        self._pending_bytes -= len(msg.data)
        self.delivered += 1
        if not self._msgs:
            self._slow = False
        return msg

    def _take_batch(self) -> list[M]:
        """Everything queued, for a callback to handle; it stays counted as pending
        until the callback loop takes each handled message off ``_inflight`` and
        ``_inflight_bytes``."""
        batch = list(self._msgs)
        self._msgs.clear()
        self._inflight = len(batch)
        self._inflight_bytes = self._pending_bytes
        self._pending_bytes = 0
        self.delivered += len(batch)
        self._slow = False
        return batch

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

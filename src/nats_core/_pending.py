"""The queue of one subscription, with nats.go's pending limits.

Shared by the blocking and the async client. It does no locking: the blocking
client holds its subscription lock around these calls.
"""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

from ._events import Msg
from .errors import SlowConsumerError

__all__ = ["PendingQueue"]

M = TypeVar("M", bound=Msg)


class PendingQueue(Generic[M]):
    """Messages received for one subscription and not yet handled.

    Past ``pending_msgs_limit`` messages or ``pending_bytes_limit`` bytes (<= 0:
    no limit) new messages are dropped and counted in :attr:`dropped`; the first
    drop of an episode (until the queue empties again) yields a
    :class:`SlowConsumerError` to report. Messages a callback has taken and not
    handled yet still count against the limits.
    """

    sid: int
    subject: str

    def _init_queue(self, pending_msgs_limit: int, pending_bytes_limit: int) -> None:
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
        for msg in batch:
            size = len(msg.data)
            if (0 < limit_m <= len(msgs) + self._inflight) or (
                0 < limit_b < self._pending_bytes + self._inflight_bytes + size
            ):
                dropped += 1
                continue
            msgs.append(msg)
            self._pending_bytes += size
        self.dropped += dropped
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

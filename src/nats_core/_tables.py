"""The connection's counters and the rows of its subscription table."""

from __future__ import annotations

__all__ = ["Statistics", "SubscriptionState"]


class Statistics:
    """Counters of traffic through one client (all reconnects included)."""

    __slots__ = ("in_bytes", "in_msgs", "out_bytes", "out_msgs", "reconnects")

    def __init__(self) -> None:
        self.in_msgs = 0
        self.in_bytes = 0
        self.out_msgs = 0
        self.out_bytes = 0
        self.reconnects = 0

    def as_dict(self) -> dict[str, int]:
        """The counters as a plain dict."""
        return {k: getattr(self, k) for k in self.__slots__}

    def __repr__(self) -> str:
        return f"Statistics({self.as_dict()})"


class SubscriptionState:
    """One row of the subscription table."""

    __slots__ = ("delivered", "draining", "max_msgs", "queue", "sid", "subject")

    def __init__(self, sid: int, subject: str, queue: str, max_msgs: int) -> None:
        self.sid = sid
        self.subject = subject
        self.queue = queue
        self.max_msgs = max_msgs
        self.delivered = 0
        self.draining = False

    def __repr__(self) -> str:
        return (
            f"SubscriptionState(sid={self.sid}, subject={self.subject!r}, queue={self.queue!r}, "
            f"max_msgs={self.max_msgs}, delivered={self.delivered})"
        )

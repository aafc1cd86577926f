"""The client's lifecycle as data: typed events, and the bounded queue behind
each ``nc.events()`` iterator (no I/O, no locking: the adapters wrap it).

A client tells every open queue each :class:`LifecycleEvent` as it happens.
A queue holds at most ``max_size`` of them; when full, the oldest goes and the
next event handed out is :class:`EventsDropped` with the count, so a reader
always learns that it missed some. A queue ends after :class:`ClosedEvent`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from .errors import ConfigError

__all__ = [
    "ClosedEvent",
    "ConnectedEvent",
    "DisconnectedEvent",
    "ErrorEvent",
    "EventQueue",
    "EventsDropped",
    "LameDuckEvent",
    "LifecycleEvent",
    "ReconnectedEvent",
    "ServersDiscoveredEvent",
    "SlowConsumerEvent",
]


@dataclass(frozen=True, slots=True)
class LifecycleEvent:
    """Base class of the events ``nc.events()`` yields."""


@dataclass(frozen=True, slots=True)
class ConnectedEvent(LifecycleEvent):
    """The client's first connection is up (to ``url``, server ``server_name``)."""

    url: str | None
    server_name: str | None = None


@dataclass(frozen=True, slots=True)
class DisconnectedEvent(LifecycleEvent):
    """The connection to ``url`` was lost; ``error`` says why, when known
    (None after ``force_reconnect()`` or a close)."""

    url: str | None
    error: BaseException | None = None


@dataclass(frozen=True, slots=True)
class ReconnectedEvent(LifecycleEvent):
    """The client is connected again, to ``url`` (server ``server_name``)."""

    url: str | None
    server_name: str | None = None


@dataclass(frozen=True, slots=True)
class ServersDiscoveredEvent(LifecycleEvent):
    """The cluster told of servers not known before (their ``urls``)."""

    urls: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LameDuckEvent(LifecycleEvent):
    """The server at ``url`` entered lame duck mode: it will close the connection soon."""

    url: str | None


@dataclass(frozen=True, slots=True)
class SlowConsumerEvent(LifecycleEvent):
    """A subscription (``sid``, ``subject``) hit its pending limits; ``dropped`` is
    its count of dropped messages so far; ``error`` the :class:`SlowConsumerError`
    also given to ``error_cb``."""

    sid: int
    subject: str
    dropped: int
    error: BaseException


@dataclass(frozen=True, slots=True)
class ErrorEvent(LifecycleEvent):
    """An error the client reported (what ``error_cb`` gets): a server ``-ERR``, a
    failed callback, a protocol error..."""

    error: BaseException


@dataclass(frozen=True, slots=True)
class ClosedEvent(LifecycleEvent):
    """The client is closed; the last event of every ``events()`` iterator."""


@dataclass(frozen=True, slots=True)
class EventsDropped(LifecycleEvent):
    """``count`` events were dropped (the oldest ones) because the reader's queue
    was full; handed out before the events kept."""

    count: int


class EventQueue:
    """The events told to one reader and not taken yet, at most ``max_size``.

    :meth:`put` drops the oldest when full and counts it; :meth:`get` hands out
    :class:`EventsDropped` first whenever some were dropped. After
    :class:`ClosedEvent` was put, nothing more is queued; after it was taken,
    :attr:`ended` is true. Not thread-safe: the adapters lock around it.
    """

    __slots__ = ("_closed", "_dropped", "_ended", "_events", "max_size")

    def __init__(self, max_size: int = 1024) -> None:
        if not isinstance(max_size, int) or isinstance(max_size, bool) or max_size < 1:
            raise ConfigError(f"max_size must be an int >= 1, not {max_size!r}")
        self.max_size = max_size
        self._events: deque[LifecycleEvent] = deque()
        self._dropped = 0
        self._closed = False  # ClosedEvent was queued
        self._ended = False  # ... and taken

    def put(self, event: LifecycleEvent) -> None:
        """Queue ``event`` (the oldest goes when full); ignored after :class:`ClosedEvent`."""
        if self._closed:
            return
        if isinstance(event, ClosedEvent):
            self._closed = True
        if len(self._events) >= self.max_size:
            self._events.popleft()
            self._dropped += 1
        self._events.append(event)

    def get(self) -> LifecycleEvent | None:
        """The next event (:class:`EventsDropped` first after drops), None when empty."""
        if self._dropped:
            n, self._dropped = self._dropped, 0
            return EventsDropped(n)
        if not self._events:
            return None
        event = self._events.popleft()
        if isinstance(event, ClosedEvent):
            self._ended = True
        return event

    def __len__(self) -> int:
        return len(self._events) + (1 if self._dropped else 0)

    @property
    def ended(self) -> bool:
        """True once :class:`ClosedEvent` was taken: no event will follow."""
        return self._ended

    @property
    def closed(self) -> bool:
        """True once :class:`ClosedEvent` was queued."""
        return self._closed

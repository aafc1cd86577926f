"""Request many (ADR-47), sans-IO: one request, any number of replies.

:class:`RequestMany` decides, reply by reply, what a scatter-gather request
does; the adapter publishes the request (on an inbox of its own, or the
shared request inbox), waits and moves messages. It holds no clock: every
call takes ``now`` (the adapter's monotonic clock, in seconds).

The request ends at the first of:

* the total ``timeout`` (always; the first reply may use all of it);
* the ``stall`` gap after the last reply (the stall clock starts at the
  first reply and never runs past the total timeout);
* ``max_msgs`` replies given to the user (the last one is given);
* a ``sentinel`` reply (not given to the user);
* a status reply (a 503 is :class:`~nats_core.errors.NoRespondersError`, any
  other status :class:`ReplyStatusError`, in :attr:`RequestMany.error`);
* :meth:`RequestMany.cancel`.

The adapter's loop::

    rm = RequestMany(timeout=2.0, stall=0.2, now=clock())
    publish(subject, payload, reply=inbox)
    while not rm.done:
        msg = wait_for_reply(until=rm.deadline)   # None when the wait ran out
        if msg is None:
            rm.expired(clock())
            continue
        verdict = rm.on_reply(msg, clock())
        if verdict.yields:
            give_to_user(msg)
            rm.resume(clock())  # optional: the user's time does not count
    unsubscribe(inbox)
    if rm.error is not None:
        raise rm.error  # or report it with the end of the replies

Sentinel polarity: ADR-47 describes a predicate that returns ``True`` to
continue; this module follows orbit.go's ``RequestManySentinel`` instead: the
predicate returns ``True`` for the reply that *ends* the request, and that
reply is not given to the user.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta
from enum import Enum

from ._events import Msg
from .errors import ConfigError, NatsError, NoRespondersError

__all__ = [
    "ReplyStatusError",
    "ReplyVerdict",
    "RequestMany",
    "RequestManyEnd",
    "standard_sentinel",
]

#: A sentinel: called with each reply, returns True for the reply that ends
#: the request (that reply is not given to the user).
Sentinel = Callable[[Msg], bool]


class ReplyVerdict(Enum):
    """What the adapter does with one reply (:meth:`RequestMany.on_reply`)."""

    #: Give the reply to the user and keep waiting.
    YIELD = "yield"
    #: Give the reply to the user; the request is then over (``max_msgs``).
    END_AFTER = "end_after"
    #: Do not give the reply to the user; the request is over (sentinel,
    #: status, timeout passed before it, or a reply that came after the end).
    END_BEFORE = "end_before"

    @property
    def yields(self) -> bool:
        """True when the reply goes to the user."""
        return self is not ReplyVerdict.END_BEFORE


class RequestManyEnd(Enum):
    """Why a request-many ended (:attr:`RequestMany.reason`)."""

    TIMEOUT = "timeout"
    STALL = "stall"
    MAX_MSGS = "max_msgs"
    SENTINEL = "sentinel"
    NO_RESPONDERS = "no_responders"
    STATUS = "status"
    CANCELLED = "cancelled"


class ReplyStatusError(NatsError):
    """A status message (other than 503) came in place of a reply (ADR-47: terminal).

    ``status`` is its code and ``description`` the text of its status line.
    """

    def __init__(self, subject: str, status: int, description: str = "") -> None:
        what = f" to {subject!r}" if subject else ""
        text = f" {description}" if description else ""
        super().__init__(f"the request{what} got status {status}{text} in place of a reply")
        self.subject = subject
        self.status = status
        self.description = description


def standard_sentinel(msg: Msg) -> bool:
    """ADR-47's "standard sentinel": a reply with an empty payload and no headers."""
    headers = msg.headers
    return not msg.data and (headers is None or (not headers and headers.status is None))


def _seconds(value: timedelta | float, what: str) -> float:
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{what} must be seconds or a timedelta, not {value!r}")
    return float(value)


class RequestMany:
    """The end conditions of one request-many, fed with replies and ``now``.

    ``timeout`` (seconds or a timedelta, >= 0, finite) bounds the whole
    request. ``stall`` (> 0), when given, ends the request once that long
    passes after a reply with no other; a stall at or above ``timeout``
    changes nothing. ``max_msgs`` (>= 1) ends it after that many replies.
    ``sentinel`` is ``None`` (none), ``True`` (:func:`standard_sentinel`)
    or a predicate. ``subject`` only names the request in errors. ``now``
    is when the request was published.

    Attributes: ``done``; ``reason`` (a :class:`RequestManyEnd` once done);
    ``error`` (:class:`NoRespondersError` or :class:`ReplyStatusError`
    when a status ended it, else ``None``); ``received`` (replies given to
    the user).
    """

    __slots__ = (
        "_end_at",
        "_held_since",
        "_last",
        "done",
        "error",
        "max_msgs",
        "reason",
        "received",
        "sentinel",
        "stall",
        "subject",
        "timeout",
    )

    def __init__(
        self,
        *,
        timeout: timedelta | float,
        now: float,
        max_msgs: int | None = None,
        stall: timedelta | float | None = None,
        sentinel: Sentinel | bool | None = None,
        subject: str = "",
    ) -> None:
        t = _seconds(timeout, "timeout")
        if not math.isfinite(t) or t < 0:
            raise ConfigError(f"timeout must be a finite number of seconds >= 0, not {timeout!r}")
        st: float | None = None
        if stall is not None:
            st = _seconds(stall, "stall")
            if not st > 0 or math.isinf(st):
                raise ConfigError(f"stall must be a positive, finite duration, not {stall!r}")
        if max_msgs is not None and (
            isinstance(max_msgs, bool) or not isinstance(max_msgs, int) or max_msgs < 1
        ):
            raise ConfigError(f"max_msgs must be an int >= 1, not {max_msgs!r}")
        if sentinel is True:
            sentinel = standard_sentinel
        elif sentinel is False:
            sentinel = None
        elif sentinel is not None and not callable(sentinel):
            raise ConfigError(f"sentinel must be a callable, True or None, not {sentinel!r}")
        self.timeout = t
        self.stall = st
        self.max_msgs = max_msgs
        self.sentinel: Sentinel | None = sentinel
        self.subject = subject
        self._end_at = now + t
        self._last: float | None = None  # when the stall clock last started
        self._held_since: float | None = None  # when the user got the last reply
        self.received = 0
        self.done = False
        self.reason: RequestManyEnd | None = None
        self.error: NatsError | None = None

    def _end(self, reason: RequestManyEnd, error: NatsError | None = None) -> None:
        self.done = True
        self.reason = reason
        self.error = error
        self._held_since = None

    @property
    def deadline(self) -> float | None:
        """When the adapter must call :meth:`expired` if no reply comes first
        (the total timeout, or the stall gap after the last reply, whichever is
        sooner), or ``None`` once done."""
        if self.done:
            return None
        if self.stall is None or self._last is None:
            return self._end_at
        return min(self._end_at, self._last + self.stall)

    def expired(self, now: float) -> bool:
        """True when the request is over: already done, or ``now`` reached the
        deadline (then it ends with reason ``TIMEOUT`` or ``STALL``)."""
        if self.done:
            return True
        if now >= self._end_at:
            self._end(RequestManyEnd.TIMEOUT)
            return True
        if self.stall is not None and self._last is not None and now >= self._last + self.stall:
            self._end(RequestManyEnd.STALL)
            return True
        return False

    def on_reply(self, msg: Msg, now: float) -> ReplyVerdict:
        """Judge one reply received at ``now``.

        A reply that arrives at or after the deadline ends the request
        (timeout or stall) and is not given; so is any reply once done.
        """
        if self.expired(now):
            return ReplyVerdict.END_BEFORE
        self._held_since = None
        status = msg.status
        if status is not None:
            if msg.is_no_responders:
                self._end(RequestManyEnd.NO_RESPONDERS, NoRespondersError(self.subject))
            else:
                headers = msg.headers
                desc = headers.description if headers is not None else ""
                self._end(RequestManyEnd.STATUS, ReplyStatusError(self.subject, status, desc))
            return ReplyVerdict.END_BEFORE
        if self.sentinel is not None and self.sentinel(msg):
            self._end(RequestManyEnd.SENTINEL)
            return ReplyVerdict.END_BEFORE
        self.received += 1
        if self.max_msgs is not None and self.received >= self.max_msgs:
            self._end(RequestManyEnd.MAX_MSGS)
            return ReplyVerdict.END_AFTER
        self._last = now
        self._held_since = now
        return ReplyVerdict.YIELD

    def resume(self, now: float) -> None:
        """The user is done with the last reply (its callback returned, or the
        iterator was asked for the next one) at ``now``.

        Optional. ADR-47 says time spent in the user's code does not count
        against the timers: the time since that reply moves the total deadline
        later by as much, and the stall clock starts again from ``now``.
        Without calls to this method the timers run in wall time.
        """
        held = self._held_since
        if held is None or self.done:
            return
        self._held_since = None
        spent = max(0.0, now - held)
        self._end_at += spent
        self._last = max(held, now)

    def cancel(self) -> None:
        """End the request now (the user stopped iterating, or cancelled it)."""
        if not self.done:
            self._end(RequestManyEnd.CANCELLED)

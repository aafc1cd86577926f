"""Pull consumers (ADR-37): pull requests, continuous consume and one-shot fetch.

Two state machines, fed by the adapter with every message of the pull
subscription and the current time (``now``, seconds from any monotonic
clock); they never read a clock or send anything themselves.

:class:`PullConsumeState` keeps a buffer topped up (``consume()``/
``messages()``): it tracks the messages and bytes still pending from the pull
requests in flight, asks for a new pull when they fall below the threshold
(half the buffer by default), reads the ``Nats-Pending-*`` headers of the
statuses that end a pull, watches idle heartbeats (two missed intervals give
:class:`MissedHeartbeatError`) and pulls again after a reconnect.

It also knows when a pull was lost, so that a consume outlives the loss of
its consumer's leader (a node of the cluster dying) without waiting for
heartbeats that will never come: a 503 (no consumer leader to take the pull)
or a 409 Server Shutdown makes it pull again after a short backoff
(:data:`LOST_PULL_RETRY_FIRST` doubling up to :data:`LOST_PULL_RETRY_MAX`,
at most half a heartbeat), a 409 Leadership Change and a reconnect make it
pull again at once, and any other answer from the server ends the backoff.
Once a new leader is elected, the next pull reaches it within one backoff
step: well within two heartbeat intervals.

:class:`FetchState` runs one pull request (``fetch()``/``next()``) and says
when it is done: batch filled, bytes reached, a status ended it, the client
deadline passed or heartbeats stopped.

Every step returns a :class:`PullOutcome`: deliver the message or not, an
error to report, whether it is over, a pull request to publish (to
``CONSUMER.MSG.NEXT``, with the subscription's inbox as reply, see
:func:`next_request`), an empty reply to send for flow control.

Priority groups (ADR-42): both states take ``group`` (required by a consumer
that has ``priority_groups``), ``min_pending`` / ``min_ack_pending`` (policy
``overflow``: the pull is served only while the consumer has that many
messages pending / awaiting acks) and ``priority`` (policy ``prioritized``:
0-9, lower first), and put them in every pull they make.
:func:`check_priority_pull` checks them against the consumer's config when it
is known. For policy ``pinned_client`` they share a :class:`PinState` (one per
consumer handle, so it outlives each fetch): the pin id the server sends in the
``Nats-Pin-Id`` header of delivered messages is kept there and sent as ``id``
in every later pull; a 423 status (``Nats-Pin-Id mismatch``, ``Nats-Wrong-Pin-Id``:
another client is pinned now) clears it, and the state pulls again without it,
waiting as a standby. No error is reported for that; the outcome carries the
status.

Draining (:meth:`PullConsumeState.drain`): no new pull; ``done`` (no error)
once nothing is pending: the pulls in flight were filled, ended by a status,
or lost (503, 409, a disconnect, missed heartbeats). A 503 (no consumer, or
no leader for it) and missed heartbeats set ``check_consumer``: the adapter
asks for the consumer's info and, if it is gone, calls ``consumer_gone()``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from .._events import Msg
from .._headers import encode_headers
from .errors import InvalidOptionError, JetStreamError, MissedHeartbeatError, PullStatusError
from .msg import JSStatus, StatusKind, jetstream_status, status_error
from .pull_request import (
    MAX_PULL_PRIORITY,
    PIN_ID_HEADER,
    PinState,
    PullRequest,
    _duration,
    _positive_int,
    check_priority_pull,
    next_request,
)

__all__ = [
    "BATCH_FOR_BYTES",
    "DEFAULT_EXPIRES",
    "DEFAULT_MAX_MESSAGES",
    "FETCH_CLIENT_SLACK",
    "LOST_PULL_RETRY_FIRST",
    "LOST_PULL_RETRY_MAX",
    "MAX_PULL_PRIORITY",
    "PIN_ID_HEADER",
    "FetchState",
    "PinState",
    "PullConsumeState",
    "PullOutcome",
    "PullRequest",
    "check_priority_pull",
    "msg_size",
    "next_request",
]

DEFAULT_MAX_MESSAGES = 500
"""Buffer size of consume when neither max_messages nor max_bytes is given."""
DEFAULT_EXPIRES = 30.0
"""Seconds a pull request waits on the server (consume and fetch)."""
BATCH_FOR_BYTES = 1_000_000
"""``batch`` of byte-limited pulls (ADR-37: a large number, not 0)."""
FETCH_CLIENT_SLACK = 1.0
"""Seconds the client waits for a fetch beyond its ``expires``."""
LOST_PULL_RETRY_FIRST = 0.1
"""Seconds before consume pulls again after its pull was lost (503, 409 Server Shutdown)."""
LOST_PULL_RETRY_MAX = 0.5
"""Longest wait between such pulls (the wait doubles from :data:`LOST_PULL_RETRY_FIRST`;
it is also at most half the idle heartbeat)."""
_MIN_CONSUME_EXPIRES = 1.0
_MIN_HEARTBEAT, _MAX_HEARTBEAT = 0.5, 30.0
_ENDS_PULL_QUIETLY = frozenset(
    {
        StatusKind.NO_MESSAGES,
        StatusKind.REQUEST_TIMEOUT,
        StatusKind.MAX_BYTES_EXCEEDED,
        StatusKind.BATCH_COMPLETED,
        StatusKind.PIN_ID_MISMATCH,
    }
)
_ENDS_FETCH_QUIETLY = _ENDS_PULL_QUIETLY - {StatusKind.PIN_ID_MISMATCH}
#: Statuses after which no server holds the consume's pulls: pull again after a backoff.
_PULL_LOST = frozenset({StatusKind.NO_RESPONDERS, StatusKind.SERVER_SHUTDOWN})


def msg_size(msg: Msg) -> int:
    """A message's size as the server counts it against ``max_bytes`` (ADR-37):
    subject, reply, header block and payload."""
    size = len(msg.subject) + len(msg.reply) + len(msg.data)
    if msg.headers is not None:
        size += len(encode_headers(msg.headers))
    return size


@dataclass(frozen=True, slots=True)
class PullOutcome:
    """What the adapter does after a step of a pull state machine.

    ``deliver``: hand the message to the user (also when ``done``: the last
    message of a drain). ``error``: report it (a warning unless ``done``).
    ``done``: consume terminated (with ``error``) or drained (without) /
    fetch finished; stop. ``pull``: publish this pull request now.
    ``respond_to``: publish an empty message there (flow control). ``status``
    is the status received, if any. ``check_consumer``: the consumer may be
    gone; ask for its info, and call ``consumer_gone()`` if it does not exist.
    """

    deliver: bool = False
    done: bool = False
    error: JetStreamError | None = None
    pull: PullRequest | None = None
    respond_to: str = ""
    status: JSStatus | None = None
    check_consumer: bool = False


_NOTHING = PullOutcome()
_DELIVER = PullOutcome(deliver=True)  # shared: frozen, and built in a microsecond
_DELIVER_DONE = PullOutcome(deliver=True, done=True)


class PullConsumeState:
    """Continuous pull consume (ADR-37 "Consume").

    Give ``max_messages`` (buffer size, default 500) or ``max_bytes`` (then
    ``batch`` is :data:`BATCH_FOR_BYTES`), not both. ``expires`` (>= 1 s,
    default 30 s) is each pull's server-side wait; ``idle_heartbeat`` defaults
    to half of it capped at 30 s (5 s for ordered consumers when ``expires``
    >= 10 s); thresholds default to half the buffer.

    Call :meth:`start` and publish its request; then :meth:`on_msg` for every
    message of the subscription, :meth:`check` when :attr:`deadline` passes,
    :meth:`on_disconnect` / :meth:`on_reconnect` on connection changes.

    Lost pulls (see the module's documentation) are pulled again by
    :meth:`on_msg` (409 Leadership Change, at once) or by :meth:`check` at
    :attr:`deadline` (503 and 409 Server Shutdown, after the backoff); only
    the first loss of a series is reported as an error.

    ``group``, ``min_pending``, ``min_ack_pending``, ``priority`` and ``pin``
    are for priority groups (see the module's documentation): every pull
    carries them, with the pin id ``pin`` holds at the time; a 423 clears the
    pin and pulls again for the whole buffer, reporting nothing.

    :meth:`drain` stops pulling and ends the consume once the pulls in flight
    are over (see the module's documentation); :meth:`stop` ends it at once.
    """

    __slots__ = (
        "_connected",
        "_hb_deadline",
        "_lost",
        "_retry_at",
        "delivered",
        "done",
        "draining",
        "error",
        "expires",
        "group",
        "idle_heartbeat",
        "max_bytes",
        "max_messages",
        "min_ack_pending",
        "min_pending",
        "pending_bytes",
        "pending_msgs",
        "pin",
        "priority",
        "threshold_bytes",
        "threshold_messages",
    )

    def __init__(
        self,
        *,
        max_messages: int | None = None,
        max_bytes: int | None = None,
        expires: timedelta | float = DEFAULT_EXPIRES,
        idle_heartbeat: timedelta | float | None = None,
        threshold_messages: int | None = None,
        threshold_bytes: int | None = None,
        ordered: bool = False,
        group: str | None = None,
        min_pending: int | None = None,
        min_ack_pending: int | None = None,
        priority: int | None = None,
        pin: PinState | None = None,
    ) -> None:
        check_priority_pull(
            None, group, min_pending=min_pending, min_ack_pending=min_ack_pending, priority=priority
        )
        self.group = group
        self.min_pending = min_pending
        self.min_ack_pending = min_ack_pending
        self.priority = priority
        self.pin = pin if group is not None else None
        if max_messages is not None and max_bytes is not None:
            raise InvalidOptionError("give max_messages or max_bytes, not both")
        if max_bytes is not None:
            self.max_bytes = _positive_int(max_bytes, "max_bytes")
            self.max_messages = BATCH_FOR_BYTES
        else:
            self.max_bytes = 0
            self.max_messages = (
                DEFAULT_MAX_MESSAGES
                if max_messages is None
                else _positive_int(max_messages, "max_messages")
            )
        self.expires = _duration(expires, "expires")
        if self.expires < _MIN_CONSUME_EXPIRES:
            raise InvalidOptionError(f"expires must be at least 1s, not {expires!r}")
        if idle_heartbeat is None:
            if ordered:
                hb = 5.0 if self.expires >= 10.0 else self.expires / 2
            else:
                hb = min(self.expires / 2, _MAX_HEARTBEAT)
        else:
            hb = _duration(idle_heartbeat, "idle_heartbeat")
            if not _MIN_HEARTBEAT <= hb <= _MAX_HEARTBEAT:
                raise InvalidOptionError(f"idle_heartbeat must be within 0.5s-30s, not {hb}s")
        if hb > self.expires / 2:
            raise InvalidOptionError(
                f"idle_heartbeat ({hb}s) must be at most half of expires ({self.expires}s)"
            )
        self.idle_heartbeat = hb
        self.threshold_messages = self._threshold(threshold_messages, self.max_messages, "messages")
        self.threshold_bytes = (
            self._threshold(threshold_bytes, self.max_bytes, "bytes") if self.max_bytes else 0
        )
        self.pending_msgs = 0
        self.pending_bytes = 0
        self.delivered = 0
        self.done = False
        self.draining = False
        self.error: JetStreamError | None = None
        self._connected = True
        self._hb_deadline: float | None = None
        self._retry_at: float | None = None  # when to pull again after a lost pull
        self._lost = 0  # lost pulls in a row (the backoff step)

    @staticmethod
    def _threshold(value: int | None, limit: int, what: str) -> int:
        if value is None:
            return math.ceil(limit / 2)
        _positive_int(value, f"threshold_{what}")
        if value > limit:
            raise InvalidOptionError(f"threshold_{what} ({value}) exceeds max_{what} ({limit})")
        return value

    # ---------------------------------------------------------- requests
    def _request(self, batch: int, max_bytes: int | None) -> PullRequest:
        return PullRequest(
            batch=batch,
            expires=self.expires,
            max_bytes=max_bytes,
            idle_heartbeat=self.idle_heartbeat,
            group=self.group,
            min_pending=self.min_pending,
            min_ack_pending=self.min_ack_pending,
            priority=self.priority,
            pin_id=None if self.pin is None else self.pin.pin_id,
        )

    def _full(self, now: float | None) -> PullRequest:
        """A pull for the whole buffer; ``now`` restarts the heartbeat watch (a
        retry after a lost pull, ``None``, keeps the watch running)."""
        self.pending_msgs = self.max_messages
        self.pending_bytes = self.max_bytes
        if now is not None:
            self._hb_deadline = now + 2 * self.idle_heartbeat
        self._retry_at = None
        return self._request(self.max_messages, self.max_bytes or None)

    def _refill(self) -> PullRequest | None:
        if self.done or self.draining or not self._connected or self._retry_at is not None:
            return None
        low_msgs = self.pending_msgs < self.threshold_messages
        low_bytes = bool(self.max_bytes) and self.pending_bytes < self.threshold_bytes
        if not (low_msgs or low_bytes):
            return None
        if self.max_bytes:
            req = self._request(self.max_messages, self.max_bytes - self.pending_bytes)
        else:
            req = self._request(self.max_messages - self.pending_msgs, None)
        self.pending_msgs = self.max_messages
        self.pending_bytes = self.max_bytes
        return req

    def start(self, now: float) -> PullRequest:
        """The first pull request, filling the whole buffer; starts the heartbeat watch."""
        if self.done:
            raise InvalidOptionError("this consume has ended; start a new one")
        return self._full(now)

    # -------------------------------------------------------------- input
    def on_msg(self, msg: Msg, now: float, size: int | None = None) -> PullOutcome:
        """Account for one message of the pull subscription.

        ``size`` is the message's wire size if the adapter knows it (else
        :func:`msg_size` computes it when ``max_bytes`` is in use).
        """
        if self.done:
            return PullOutcome(done=True, error=self.error)
        # a status has headers and no payload (see jetstream_status): the usual
        # message is told apart without decoding its headers
        status = None if msg.data or msg._headers is None else jetstream_status(msg)
        if status is None:  # a message to deliver: the hot path of a consume
            if self._connected:
                self._hb_deadline = now + 2 * self.idle_heartbeat
            self._lost = 0  # a server holds our pull: whatever was lost is back
            if self.pin is not None:
                self.pin.observe(msg)
            self.delivered += 1
            pending = self.pending_msgs - 1
            self.pending_msgs = pending if pending > 0 else 0
            if self.max_bytes:
                self.pending_bytes = max(
                    0, self.pending_bytes - (msg_size(msg) if size is None else size)
                )
            elif pending >= self.threshold_messages:
                return _DELIVER  # no refill yet (_refill would say None)
            if self.draining and self._nothing_pending():
                self._finish_drain()
                return PullOutcome(deliver=True, done=True)
            pull = self._refill()
            return _DELIVER if pull is None else PullOutcome(deliver=True, pull=pull)
        if status.kind in _PULL_LOST:
            return self._pull_lost(status, now)
        if self._connected:
            self._hb_deadline = now + 2 * self.idle_heartbeat
        if status.kind is not StatusKind.LEADERSHIP_CHANGE:
            self._lost = 0  # a server holds our pull: whatever was lost is back
        kind = status.kind
        if kind in (StatusKind.IDLE_HEARTBEAT, StatusKind.FLOW_CONTROL):
            return PullOutcome(status=status, respond_to=status.reply)
        self.pending_msgs = max(0, self.pending_msgs - status.pending_msgs)
        if self.max_bytes:
            self.pending_bytes = max(0, self.pending_bytes - status.pending_bytes)
        error = status_error(status)
        if error is not None and error.terminal:
            self.done = True
            self.error = error
            self._hb_deadline = None
            return PullOutcome(done=True, error=error, status=status)
        if kind in (StatusKind.LEADERSHIP_CHANGE, StatusKind.PIN_ID_MISMATCH):
            self.pending_msgs = 0
            self.pending_bytes = 0
            if kind is StatusKind.PIN_ID_MISMATCH and self.pin is not None:
                self.pin.clear()  # another client is pinned: pull again as a standby
        if self.draining and self._nothing_pending():
            self._finish_drain()  # the last pull in flight ended: the drain is over
            return PullOutcome(done=True, status=status)
        report = None if kind in _ENDS_PULL_QUIETLY else error
        return PullOutcome(error=report, pull=self._refill(), status=status)

    def retry_delay(self, lost: int) -> float:
        """Seconds to wait before pulling again after ``lost`` (1, 2, ...) lost pulls
        in a row: :data:`LOST_PULL_RETRY_FIRST` doubling, at most
        :data:`LOST_PULL_RETRY_MAX` and half the idle heartbeat."""
        cap = min(LOST_PULL_RETRY_MAX, self.idle_heartbeat / 2)
        return min(LOST_PULL_RETRY_FIRST * float(1 << min(max(lost, 1) - 1, 16)), cap)

    def _pull_lost(self, status: JSStatus, now: float) -> PullOutcome:
        """No server holds our pulls any more (no consumer leader, or it is shutting
        down): nothing is pending; pull again after the backoff (see :meth:`check`).

        The status is no heartbeat: the heartbeat watch goes on, so a consumer
        without a leader for two heartbeat intervals still gives
        :class:`MissedHeartbeatError` from :meth:`check`."""
        self.pending_msgs = 0
        self.pending_bytes = 0
        if self.draining:
            self._finish_drain()  # nothing is in flight any more
            return PullOutcome(done=True, status=status)
        if not self._connected or self._retry_at is not None:
            return PullOutcome(status=status)  # the reconnect / the retry pulls again
        self._lost += 1
        self._retry_at = now + self.retry_delay(self._lost)
        error: PullStatusError | None = None
        check = False
        if self._lost == 1:  # report the first of a series, not every retry
            if status.kind is StatusKind.NO_RESPONDERS:
                error = PullStatusError(
                    status.code,
                    "No Responders: the consumer has no leader now (or does not exist); "
                    "pulling again",
                )
                check = True  # no consumer at all answers the same: ask
            else:
                error = status_error(status)
        return PullOutcome(error=error, status=status, check_consumer=check)

    @property
    def deadline(self) -> float | None:
        """When :meth:`check` must run next (the heartbeat deadline, or sooner the
        time to pull again after a lost pull), or ``None``."""
        if self.done or not self._connected:
            return None
        if self._retry_at is None:
            return self._hb_deadline
        if self._hb_deadline is None:
            return self._retry_at
        return min(self._retry_at, self._hb_deadline)

    @property
    def retrying(self) -> bool:
        """True while waiting to pull again after a lost pull (503, 409 Server Shutdown)."""
        return self._retry_at is not None and not self.done

    def check(self, now: float) -> PullOutcome | None:
        """Act on the timers at ``now``: detect missed heartbeats, or pull again
        after a lost pull.

        Two silent heartbeat intervals give a (non-terminal)
        :class:`MissedHeartbeatError` and a fresh pull for the whole buffer.
        The end of a lost pull's backoff gives a fresh pull for the whole
        buffer and no error (the loss was reported when it happened).
        """
        deadline = self.deadline
        if deadline is None or now < deadline:
            return None
        if self.draining:
            self._finish_drain()  # the pulls in flight are lost: nothing more will come
            return PullOutcome(done=True)
        if self._hb_deadline is None or now < self._hb_deadline:
            return PullOutcome(pull=self._full(None))
        error = MissedHeartbeatError(
            f"no heartbeat for {2 * self.idle_heartbeat:g}s: the consumer may be gone "
            "or the connection stalled; pulling again"
        )
        return PullOutcome(error=error, pull=self._full(now), check_consumer=True)

    def on_disconnect(self) -> None:
        """The connection dropped: pause the heartbeat watch and stop pulling (a
        drain is over then: its pulls are lost)."""
        self._connected = False
        self._hb_deadline = None
        self._retry_at = None
        if self.draining and not self.done:
            self._finish_drain()

    def on_reconnect(self, now: float) -> PullRequest | None:
        """The connection is back: the pull to publish (``None`` once consume has ended)."""
        self._connected = True
        if self.done:
            return None
        return self._full(now)

    def stop(self) -> None:
        """End the consume (the user stopped it); later messages are not delivered."""
        self.done = True
        self._hb_deadline = None
        self._retry_at = None

    # -------------------------------------------------------------- drain
    def _nothing_pending(self) -> bool:
        return self.pending_msgs == 0 or (bool(self.max_bytes) and self.pending_bytes == 0)

    def _finish_drain(self) -> None:
        self.done = True
        self._hb_deadline = None
        self._retry_at = None

    def drain(self) -> PullOutcome:
        """Stop pulling, but go on delivering what the pulls in flight bring.

        No new pull is asked for from now on (no refill, no pull again after
        a lost pull, missed heartbeats or a reconnect). The consume ends,
        ``done`` with no error, with the outcome that finds nothing pending:
        the last message of the pulls in flight (delivered too), the status
        that ends the last of them, their loss, or a disconnect. Returns
        ``done`` at once when nothing is pending now (or the connection is
        down); an ended consume stays as it ended.
        """
        if self.done:
            return PullOutcome(done=True, error=self.error)
        self.draining = True
        self._retry_at = None
        if not self._connected or self._nothing_pending():
            self._finish_drain()
            return PullOutcome(done=True)
        return _NOTHING

    @property
    def drained(self) -> bool:
        """True once a drain ended (every pull in flight at :meth:`drain` is over)."""
        return self.draining and self.done and self.error is None

    def consumer_gone(self, error: JetStreamError) -> PullOutcome:
        """The consumer (or its stream) does not exist any more (the adapter's
        answer to ``check_consumer``): end the consume with ``error``."""
        self.stop()
        self.error = error
        return PullOutcome(done=True, error=error)


class FetchState:
    """One pull request (``fetch``/``next``), from publish to completion.

    ``batch`` messages (default 1, or :data:`BATCH_FOR_BYTES` when only
    ``max_bytes`` is given), within ``expires`` seconds (default 30 s; none
    with ``no_wait`` unless given). ``idle_heartbeat`` defaults to 5 s when
    ``expires`` >= 10 s, else none (nats.go's rule). Publish :attr:`request`,
    feed :meth:`on_msg`, call :meth:`check` at :attr:`deadline`.

    ``group``, ``min_pending``, ``min_ack_pending``, ``priority`` and ``pin``
    are for priority groups (see the module's documentation). With a ``pin``,
    a 423 status does not end the fetch: it clears the pin and
    :meth:`on_msg` returns a new pull (without ``id``) for what is still
    missing in the time left.
    """

    __slots__ = (
        "_expiry",
        "_hb_deadline",
        "done",
        "error",
        "pin",
        "received",
        "received_bytes",
        "request",
        "slack",
    )

    def __init__(
        self,
        batch: int | None = None,
        *,
        max_bytes: int | None = None,
        expires: timedelta | float | None = None,
        no_wait: bool = False,
        idle_heartbeat: timedelta | float | None = None,
        now: float,
        slack: float = FETCH_CLIENT_SLACK,
        group: str | None = None,
        min_pending: int | None = None,
        min_ack_pending: int | None = None,
        priority: int | None = None,
        pin: PinState | None = None,
    ) -> None:
        self.pin = pin if group is not None else None
        if batch is None:
            batch = BATCH_FOR_BYTES if max_bytes is not None else 1
        exp: float | None
        if expires is None:
            exp = None if no_wait else DEFAULT_EXPIRES
        else:
            exp = _duration(expires, "expires")
        hb: float | None
        if idle_heartbeat is None:
            hb = 5.0 if exp is not None and exp >= 10.0 else None
        else:
            hb = _duration(idle_heartbeat, "idle_heartbeat")
        self.request = PullRequest(
            batch=batch,
            expires=exp,
            max_bytes=max_bytes,
            no_wait=no_wait,
            idle_heartbeat=hb,
            group=group,
            min_pending=min_pending,
            min_ack_pending=min_ack_pending,
            priority=priority,
            pin_id=None if self.pin is None else self.pin.pin_id,
        )
        self.slack = slack
        self._expiry = now + (exp or 0.0) + slack
        self._hb_deadline = None if hb is None else now + 2 * hb
        self.received = 0
        self.received_bytes = 0
        self.done = False
        self.error: JetStreamError | None = None

    def _finish(self, error: JetStreamError | None = None) -> PullOutcome:
        self.done = True
        self.error = error
        return PullOutcome(done=True, error=error)

    def on_msg(self, msg: Msg, now: float, size: int | None = None) -> PullOutcome:
        """Account for one message; ``done`` in the outcome ends the fetch."""
        if self.done:
            return PullOutcome(done=True, error=self.error)
        req = self.request
        if req.idle_heartbeat is not None:
            self._hb_deadline = now + 2 * req.idle_heartbeat
        status = None if msg.data or msg._headers is None else jetstream_status(msg)
        if status is None:
            if self.pin is not None:
                self.pin.observe(msg)
            self.received += 1
            if req.max_bytes is not None:
                self.received_bytes += msg_size(msg) if size is None else size
            full = self.received >= req.batch or (
                req.max_bytes is not None and self.received_bytes >= req.max_bytes
            )
            if full:
                self.done = True
                return _DELIVER_DONE
            return _DELIVER
        if status.kind in (StatusKind.IDLE_HEARTBEAT, StatusKind.FLOW_CONTROL):
            return PullOutcome(status=status, respond_to=status.reply)
        if status.kind is StatusKind.PIN_ID_MISMATCH and self.pin is not None:
            # Another client is pinned: forget our pin and wait as a standby.
            self.pin.clear()
            again = self._rest(now)
            if again is None:
                return PullOutcome(done=True, status=status)
            return PullOutcome(pull=again, status=status)
        error: PullStatusError | None = None
        if status.kind not in _ENDS_FETCH_QUIETLY:
            error = status_error(status)
        self.done = True
        self.error = error
        check = status.kind is StatusKind.NO_RESPONDERS  # no consumer, or no leader for it
        return PullOutcome(done=True, error=error, status=status, check_consumer=check)

    @property
    def deadline(self) -> float | None:
        """When :meth:`check` must run next, or ``None`` once done."""
        if self.done:
            return None
        if self._hb_deadline is None:
            return self._expiry
        return min(self._expiry, self._hb_deadline)

    def check(self, now: float) -> PullOutcome | None:
        """End the fetch if its client deadline passed (no error: fewer messages than
        asked) or heartbeats stopped (:class:`MissedHeartbeatError`, and
        ``check_consumer``)."""
        if self.done:
            return None
        if now >= self._expiry:
            return self._finish()
        if self._hb_deadline is not None and now >= self._hb_deadline:
            hb = self.request.idle_heartbeat or 0.0
            out = self._finish(MissedHeartbeatError(f"no heartbeat for {2 * hb:g}s during fetch"))
            return PullOutcome(done=True, error=out.error, check_consumer=True)
        return None

    def on_reconnect(self, now: float) -> PullRequest | None:
        """The connection came back while fetching: the pull request for what is
        still missing in the time left, or ``None`` (then the fetch is done)."""
        return self._rest(now)

    def _rest(self, now: float) -> PullRequest | None:
        """A pull for what is still missing in the time left (with the current pin
        id), or ``None`` after finishing the fetch when no time is left."""
        if self.done:
            return None
        req = self.request
        remaining = None if req.expires is None else self._expiry - self.slack - now
        if remaining is not None and remaining < 0.001:
            self._finish()
            return None
        hb = req.idle_heartbeat
        if hb is not None and remaining is not None and hb > remaining / 2:
            hb = None
        self._hb_deadline = None if hb is None else now + 2 * hb
        # Not done means the byte budget is not spent: at least one byte is left.
        max_bytes = None if req.max_bytes is None else req.max_bytes - self.received_bytes
        return PullRequest(
            batch=req.batch - self.received,
            expires=remaining,
            max_bytes=max_bytes,
            no_wait=req.no_wait,
            idle_heartbeat=hb,
            group=req.group,
            min_pending=req.min_pending,
            min_ack_pending=req.min_ack_pending,
            priority=req.priority,
            pin_id=None if self.pin is None else self.pin.pin_id,
        )

    def stop(self) -> None:
        """Abandon the fetch (cancelled by the user)."""
        self.done = True

    def consumer_gone(self, error: JetStreamError) -> PullOutcome:
        """The consumer (or its stream) does not exist (the adapter's answer to
        ``check_consumer``): the fetch ends with ``error`` instead."""
        return self._finish(error)

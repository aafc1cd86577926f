"""JetStream messages: metadata from the ack subject, ack payloads, inline statuses.

A message a consumer delivers has a reply subject
``$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>`` (the
v1 form, 9 tokens) or ``$JS.ACK.<domain>.<account>.<stream>.<consumer>.<delivered>
.<sseq>.<cseq>.<ts>.<pending>[.<token>...]`` (the v2 form, 11 or more tokens).
Acknowledging it means publishing one of the payloads below to that subject.

Pull requests and push consumers also receive status messages (empty body,
``NATS/1.0 <code> <description>``): :func:`jetstream_status` recognises them
and :func:`status_error` maps the terminating ones to the errors of
:mod:`nats_core.jetstream.errors`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .._events import Msg
from ._codec import dump_json, to_nanos
from .errors import (
    BatchCompletedError,
    ConsumerDeletedError,
    InvalidOptionError,
    LeadershipChangedError,
    MaxBytesExceededError,
    NoMessagesError,
    NotJetStreamMessageError,
    NotPullConsumerError,
    PinIdMismatchError,
    PullBadRequestError,
    PullRequestRejectedError,
    PullRequestTimeoutError,
    PullStatusError,
    ServerShutdownError,
)

__all__ = [
    "ACK",
    "IN_PROGRESS",
    "NAK",
    "TERM",
    "JSStatus",
    "MsgMetadata",
    "SequencePair",
    "StatusKind",
    "ack_subject",
    "is_status_message",
    "jetstream_status",
    "nak_payload",
    "parse_metadata",
    "status_error",
    "term_payload",
]

ACK = b"+ACK"
"""Acknowledge: the message is processed."""
NAK = b"-NAK"
"""Negative ack: redeliver (see :func:`nak_payload` for a delay)."""
IN_PROGRESS = b"+WPI"
"""Work in progress: reset the ack timer, keep the message."""
TERM = b"+TERM"
"""Terminate: never redeliver (see :func:`term_payload` for a reason)."""

_ACK_PREFIX = "$JS.ACK."
_V1_TOKENS = 9
_V2_MIN_TOKENS = 11


def ack_subject(reply: str | None) -> str:
    """The subject to publish an ack of a message with reply subject ``reply`` to.

    Raises :class:`NotJetStreamMessageError` unless ``reply`` is a ``$JS.ACK``
    subject: an ack must never go to an arbitrary reply subject.
    """
    if not reply or not reply.startswith(_ACK_PREFIX):
        raise NotJetStreamMessageError(
            f"cannot acknowledge: reply subject {reply!r} is not a jetstream ack subject "
            "(the message was not delivered by a jetstream consumer)"
        )
    return reply


def nak_payload(delay: timedelta | float | None = None) -> bytes:
    """``-NAK``, or ``-NAK {"delay": <ns>}`` to redeliver after ``delay`` (seconds or timedelta)."""
    if delay is None:
        return NAK
    ns = to_nanos(delay)
    if ns < 0:
        raise InvalidOptionError(f"nak delay must not be negative: {delay!r}")
    return NAK + b" " + dump_json({"delay": ns})


def term_payload(reason: str | None = None) -> bytes:
    """``+TERM``, or ``+TERM <reason>`` (the reason shows in the server's advisory)."""
    if not reason:
        return TERM
    if "\r" in reason or "\n" in reason:
        raise InvalidOptionError("a term reason must be a single line")
    return TERM + b" " + reason.encode("utf-8")


# ----------------------------------------------------------------- metadata


@dataclass(frozen=True, slots=True)
class SequencePair:
    """Stream and consumer sequence of a delivered message."""

    stream: int
    consumer: int


@dataclass(frozen=True, slots=True)
class MsgMetadata:
    """What the ack subject says about a delivered message.

    ``num_delivered`` counts deliveries (1 the first time); ``num_pending`` is
    how many more messages the consumer has for its filter; ``timestamp`` is
    when the stream stored the message (``timestamp_ns`` keeps nanoseconds);
    ``domain`` is ``None`` when the subject carries none.
    """

    stream: str
    consumer: str
    num_delivered: int
    sequence: SequencePair
    timestamp: datetime
    num_pending: int
    domain: str | None = None
    timestamp_ns: int = 0


def _num(token: str, what: str, reply: str) -> int:
    if not token.isdigit() or not token.isascii():
        raise NotJetStreamMessageError(f"invalid {what} {token!r} in ack subject {reply!r}")
    return int(token)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _time_from_ns(ns: int) -> datetime:
    return _EPOCH + timedelta(microseconds=ns // 1000)


# The frozen dataclasses' __init__ sets each field through object.__setattr__;
# parse_metadata, on every JetStream message read, sets the slots directly (2.4x).
_new = object.__new__


def _setter(cls: type, name: str) -> Callable[[object, object], None]:
    setter: Callable[[object, object], None] = cls.__dict__[name].__set__
    return setter


_sp_stream = _setter(SequencePair, "stream")
_sp_consumer = _setter(SequencePair, "consumer")
_md_stream = _setter(MsgMetadata, "stream")
_md_consumer = _setter(MsgMetadata, "consumer")
_md_delivered = _setter(MsgMetadata, "num_delivered")
_md_sequence = _setter(MsgMetadata, "sequence")
_md_timestamp = _setter(MsgMetadata, "timestamp")
_md_pending = _setter(MsgMetadata, "num_pending")
_md_domain = _setter(MsgMetadata, "domain")
_md_ns = _setter(MsgMetadata, "timestamp_ns")


_NUMBERS = ("delivery count", "stream sequence", "consumer sequence", "timestamp", "pending count")

# The last subject parsed and its metadata: a message's metadata is read by the
# consumer's state, by Key-Value's entry and by the user, one after the other.
# One tuple, replaced in one step: safe to share between threads.
_last: tuple[str, MsgMetadata] = ("", None)  # type: ignore[assignment]


def parse_metadata(reply: str | None) -> MsgMetadata:
    """Parse the reply subject of a JetStream message (v1 or v2 form).

    Raises :class:`NotJetStreamMessageError` (a ``ValueError``) when ``reply``
    is not a ``$JS.ACK`` subject of either form.
    """
    global _last
    last = _last
    if reply == last[0]:
        return last[1]
    if not reply or not reply.startswith(_ACK_PREFIX):
        raise NotJetStreamMessageError(
            f"not a jetstream message: reply subject {reply!r} does not start with $JS.ACK"
        )
    tokens = reply.split(".")
    n = len(tokens)
    domain: str | None
    if n == _V1_TOKENS:
        domain = None
        first = 2
    elif n >= _V2_MIN_TOKENS:
        domain = None if tokens[2] in ("_", "") else tokens[2]
        first = 4
    else:
        raise NotJetStreamMessageError(
            f"not a jetstream message: ack subject {reply!r} has {n} tokens, "
            f"expected {_V1_TOKENS} or at least {_V2_MIN_TOKENS}"
        )
    stream, consumer = tokens[first], tokens[first + 1]
    if not stream or not consumer:
        raise NotJetStreamMessageError(f"empty stream or consumer in ack subject {reply!r}")
    digits = tokens[first + 2 : first + 7]
    joined = "".join(digits)
    if joined.isdigit() and joined.isascii() and all(digits):
        delivered, sseq, cseq, ts, pending = map(int, digits)
    else:  # name the bad one
        delivered, sseq, cseq, ts, pending = (
            _num(t, what, reply) for t, what in zip(digits, _NUMBERS, strict=True)
        )
    seq = _new(SequencePair)
    _sp_stream(seq, sseq)
    _sp_consumer(seq, cseq)
    md = _new(MsgMetadata)
    _md_stream(md, stream)
    _md_consumer(md, consumer)
    _md_delivered(md, delivered)
    _md_sequence(md, seq)
    _md_timestamp(md, _time_from_ns(ts))
    _md_pending(md, pending)
    _md_domain(md, domain)
    _md_ns(md, ts)
    _last = (reply, md)
    return md


# ----------------------------------------------------------------- statuses


class StatusKind(enum.Enum):
    """What a JetStream status message means."""

    IDLE_HEARTBEAT = "idle_heartbeat"
    FLOW_CONTROL = "flow_control"
    NO_MESSAGES = "no_messages"
    REQUEST_TIMEOUT = "request_timeout"
    BAD_REQUEST = "bad_request"
    CONSUMER_DELETED = "consumer_deleted"
    PUSH_BASED = "push_based"
    LEADERSHIP_CHANGE = "leadership_change"
    MAX_BYTES_EXCEEDED = "max_bytes_exceeded"
    BATCH_COMPLETED = "batch_completed"
    REQUEST_REJECTED = "request_rejected"
    SERVER_SHUTDOWN = "server_shutdown"
    PIN_ID_MISMATCH = "pin_id_mismatch"
    NO_RESPONDERS = "no_responders"
    END_OF_BATCH = "end_of_batch"
    OTHER = "other"


_409 = (
    ("consumer deleted", StatusKind.CONSUMER_DELETED),
    ("consumer is push based", StatusKind.PUSH_BASED),
    ("leadership change", StatusKind.LEADERSHIP_CHANGE),
    ("message size exceeds maxbytes", StatusKind.MAX_BYTES_EXCEEDED),
    ("batch completed", StatusKind.BATCH_COMPLETED),
    ("exceeded max", StatusKind.REQUEST_REJECTED),
    ("server shutdown", StatusKind.SERVER_SHUTDOWN),
)


@dataclass(frozen=True, slots=True)
class JSStatus:
    """An inline status a consumer received.

    ``pending_msgs`` / ``pending_bytes`` come from ``Nats-Pending-Messages`` /
    ``Nats-Pending-Bytes`` (what a finished pull request did not deliver);
    ``last_consumer`` / ``last_stream`` from an idle heartbeat's
    ``Nats-Last-Consumer`` / ``Nats-Last-Stream``; ``reply`` is where a flow
    control request (or a stalled push consumer's ``Nats-Consumer-Stalled``)
    wants an empty reply.
    """

    code: int
    description: str
    kind: StatusKind
    pending_msgs: int = 0
    pending_bytes: int = 0
    last_consumer: int | None = None
    last_stream: int | None = None
    reply: str = ""


def is_status_message(msg: Msg) -> bool:
    """True when ``msg`` is a status (heartbeat, flow control, 404, 408, 409...), not data."""
    h = msg.headers
    return h is not None and h.status is not None and not msg.data


def _int_header(value: str | None) -> int | None:
    if value is None:
        return None
    value = value.strip()
    return int(value) if value.isdigit() else None


def _classify(code: int, desc: str) -> StatusKind:
    low = desc.lower()
    if code == 100:
        return StatusKind.FLOW_CONTROL if "flow" in low else StatusKind.IDLE_HEARTBEAT
    if code == 404:
        return StatusKind.NO_MESSAGES
    if code == 408:
        return StatusKind.REQUEST_TIMEOUT
    if code == 400:
        return StatusKind.BAD_REQUEST
    if code == 423:
        return StatusKind.PIN_ID_MISMATCH
    if code == 503:
        return StatusKind.NO_RESPONDERS
    if code == 204:
        return StatusKind.END_OF_BATCH
    if code == 409:
        for prefix, kind in _409:
            if low.startswith(prefix):
                return kind
    return StatusKind.OTHER


def jetstream_status(msg: Msg) -> JSStatus | None:
    """The status ``msg`` carries, or ``None`` for a data message."""
    h = msg.headers
    if h is None or h.status is None or msg.data:
        return None
    kind = _classify(h.status, h.description)
    reply = ""
    if kind is StatusKind.FLOW_CONTROL:
        reply = msg.reply
    elif kind is StatusKind.IDLE_HEARTBEAT:
        reply = h.get("Nats-Consumer-Stalled", "")
    return JSStatus(
        code=h.status,
        description=h.description,
        kind=kind,
        pending_msgs=_int_header(h.get("Nats-Pending-Messages")) or 0,
        pending_bytes=_int_header(h.get("Nats-Pending-Bytes")) or 0,
        last_consumer=_int_header(h.get("Nats-Last-Consumer")),
        last_stream=_int_header(h.get("Nats-Last-Stream")),
        reply=reply,
    )


_ERRORS: dict[StatusKind, type[PullStatusError]] = {
    StatusKind.NO_MESSAGES: NoMessagesError,
    StatusKind.REQUEST_TIMEOUT: PullRequestTimeoutError,
    StatusKind.BAD_REQUEST: PullBadRequestError,
    StatusKind.CONSUMER_DELETED: ConsumerDeletedError,
    StatusKind.PUSH_BASED: NotPullConsumerError,
    StatusKind.LEADERSHIP_CHANGE: LeadershipChangedError,
    StatusKind.MAX_BYTES_EXCEEDED: MaxBytesExceededError,
    StatusKind.BATCH_COMPLETED: BatchCompletedError,
    StatusKind.REQUEST_REJECTED: PullRequestRejectedError,
    StatusKind.SERVER_SHUTDOWN: ServerShutdownError,
    StatusKind.PIN_ID_MISMATCH: PinIdMismatchError,
}


def status_error(status: JSStatus) -> PullStatusError | None:
    """The error a status stands for; ``None`` for heartbeats and flow control.

    Unknown statuses give a plain :class:`PullStatusError`.
    """
    if status.kind in (StatusKind.IDLE_HEARTBEAT, StatusKind.FLOW_CONTROL):
        return None
    cls = _ERRORS.get(status.kind, PullStatusError)
    return cls(status.code, status.description)

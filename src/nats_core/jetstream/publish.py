"""JetStream publish: expectation headers, pub-ack parsing, async publish bookkeeping.

A JetStream publish is a request: the adapter sends the message with
:func:`publish_headers` merged into its headers and parses the reply with
:func:`parse_pub_ack`. A 503 (no responders) means no stream captured the
subject yet; nats.go retries a couple of times (``DEFAULT_RETRY_ATTEMPTS``,
``DEFAULT_RETRY_WAIT``) before giving :class:`NoStreamResponseError`.

:class:`AsyncPublishTracker` keeps the state of many publishes in flight on
one wildcard reply subscription; the adapter holds a future per token.
It also counts the failures (:attr:`AsyncPublishTracker.failed_count`,
:meth:`AsyncPublishTracker.take_failed`) and the failures whose error handler
has not returned yet, so "complete" (:attr:`AsyncPublishTracker.settled`)
means every outcome was delivered.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from .._events import Msg
from .._headers import Headers, HeadersInput
from ._codec import format_go_duration, to_nanos
from .errors import (
    APIError,
    AsyncPublishTimeoutError,
    InvalidOptionError,
    InvalidResponseError,
    JetStreamError,
    NoStreamResponseError,
    TooManyPendingError,
    api_error_from_json,
)
from .models import PubAck

__all__ = [
    "DEFAULT_MAX_PENDING",
    "DEFAULT_RETRY_ATTEMPTS",
    "DEFAULT_RETRY_WAIT",
    "EXPECTED_LAST_MSG_ID",
    "EXPECTED_LAST_SEQ",
    "EXPECTED_LAST_SUBJECT_SEQ",
    "EXPECTED_LAST_SUBJECT_SEQ_SUBJECT",
    "EXPECTED_STREAM",
    "MSG_ID",
    "MSG_ROLLUP",
    "MSG_TTL",
    "AsyncPublishTracker",
    "PendingPublish",
    "PublishOutcome",
    "format_ttl",
    "parse_pub_ack",
    "publish_headers",
]

MSG_ID = "Nats-Msg-Id"
EXPECTED_STREAM = "Nats-Expected-Stream"
EXPECTED_LAST_SEQ = "Nats-Expected-Last-Sequence"
EXPECTED_LAST_SUBJECT_SEQ = "Nats-Expected-Last-Subject-Sequence"
EXPECTED_LAST_SUBJECT_SEQ_SUBJECT = "Nats-Expected-Last-Subject-Sequence-Subject"
EXPECTED_LAST_MSG_ID = "Nats-Expected-Last-Msg-Id"
MSG_TTL = "Nats-TTL"
MSG_ROLLUP = "Nats-Rollup"

DEFAULT_RETRY_ATTEMPTS = 2
"""Retries of a publish answered by 503 no responders (nats.go's default)."""
DEFAULT_RETRY_WAIT = 0.25
"""Seconds between those retries."""
DEFAULT_MAX_PENDING = 4000
"""Async publishes allowed in flight (nats.go's default)."""

_ROLLUPS = ("sub", "all")


def format_ttl(ttl: timedelta | float | str) -> str:
    """The ``Nats-TTL`` value for ``ttl`` (ADR-43): a Go duration string ("5s", "1h0m0s").

    ``ttl`` is a timedelta, seconds, or the string ``"never"`` (kept forever,
    even past the stream's ``max_age``). The server wants at least one second.
    """
    if isinstance(ttl, str):
        if ttl == "never":
            return ttl
        raise InvalidOptionError(f"ttl must be a duration or 'never', not {ttl!r}")
    try:
        ns = to_nanos(ttl)
    except TypeError as exc:
        raise InvalidOptionError(str(exc)) from None
    if ns < 1_000_000_000:
        raise InvalidOptionError(f"message ttl must be at least 1 second, not {ttl!r}")
    return format_go_duration(ttl)


def _uint(value: object, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidOptionError(f"{what} must be a non-negative integer, not {value!r}")
    return str(value)


def publish_headers(
    headers: HeadersInput | None = None,
    *,
    msg_id: str | None = None,
    expected_stream: str | None = None,
    expected_last_seq: int | None = None,
    expected_last_subject_seq: int | None = None,
    expected_last_subject_seq_subject: str | None = None,
    expected_last_msg_id: str | None = None,
    ttl: timedelta | float | str | None = None,
    rollup: str | None = None,
) -> Headers | None:
    """The user's ``headers`` plus the JetStream publish options, as a new :class:`Headers`.

    ``msg_id`` deduplicates within the stream's duplicate window; the
    ``expected_*`` options make the publish fail unless the stream matches
    (optimistic concurrency); ``expected_last_subject_seq_subject`` (with
    ``expected_last_subject_seq``) checks another subject than the one
    published to; ``ttl`` sets a per-message TTL; ``rollup`` is ``"sub"`` or
    ``"all"``. Returns ``None`` when there is nothing to send.
    """
    out = Headers(headers) if headers is not None else Headers()
    if msg_id is not None:
        if not msg_id:
            raise InvalidOptionError("msg_id must not be empty")
        out[MSG_ID] = msg_id
    if expected_stream is not None:
        out[EXPECTED_STREAM] = expected_stream
    if expected_last_seq is not None:
        out[EXPECTED_LAST_SEQ] = _uint(expected_last_seq, "expected_last_seq")
    if expected_last_subject_seq_subject is not None and expected_last_subject_seq is None:
        raise InvalidOptionError(
            "expected_last_subject_seq_subject needs expected_last_subject_seq"
        )
    if expected_last_subject_seq is not None:
        out[EXPECTED_LAST_SUBJECT_SEQ] = _uint(
            expected_last_subject_seq, "expected_last_subject_seq"
        )
        if expected_last_subject_seq_subject is not None:
            out[EXPECTED_LAST_SUBJECT_SEQ_SUBJECT] = expected_last_subject_seq_subject
    if expected_last_msg_id is not None:
        out[EXPECTED_LAST_MSG_ID] = expected_last_msg_id
    if ttl is not None:
        out[MSG_TTL] = format_ttl(ttl)
    if rollup is not None:
        if rollup not in _ROLLUPS:
            raise InvalidOptionError(f"rollup must be 'sub' or 'all', not {rollup!r}")
        out[MSG_ROLLUP] = rollup
    if not out and out.status is None:
        return None
    return out


def parse_pub_ack(reply: Msg | bytes, *, subject: str = "") -> PubAck:
    """Parse a publish reply into a :class:`PubAck`.

    503 no responders raises :class:`NoStreamResponseError`; an ``error``
    reply the :class:`APIError` subclass of its ``err_code``; anything that is
    not a pub ack :class:`InvalidResponseError`.
    """
    if isinstance(reply, Msg):
        if reply._headers is not None and reply.is_no_responders:
            raise NoStreamResponseError(subject)
        data = reply.data
    else:
        data = reply
    if type(data) is bytes:
        m = _PLAIN_ACK_BYTES.fullmatch(data)
        if m is not None:  # the usual ack, read as json.loads would
            try:
                stream = m[1].decode()
            except UnicodeDecodeError:
                pass  # json.loads says what is wrong with it
            else:
                return PubAck(stream=stream, seq=int(m[2]), duplicate=None, domain=None)
    try:
        obj: Any = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidResponseError(f"invalid jetstream publish ack: {bytes(data[:64])!r}") from exc
    if not isinstance(obj, Mapping):
        raise InvalidResponseError(f"invalid jetstream publish ack: {obj!r:.64}")
    if obj.get("error") is not None:
        raise api_error_from_json(obj["error"])
    ack = _plain_pub_ack(obj)
    if ack is None:
        ack = PubAck.from_json({k: v for k, v in obj.items() if k != "type"})
    if not ack.stream:
        raise InvalidResponseError(f"invalid jetstream publish ack (no stream): {obj!r:.64}")
    return ack


_PLAIN_ACK_KEYS = frozenset(("stream", "seq", "duplicate", "domain", "type"))
#: The ack nats-server sends for a stored message, exactly (a stream name without
#: escapes or control characters, a JSON integer): read without json.loads (its
#: encoding detection and the decoder cost ~2-5 us an ack); anything else is parsed.
_PLAIN_ACK_BYTES = re.compile(rb'\{"stream":"([^"\\\x00-\x1f]+)","seq":(0|[1-9][0-9]*)\}')


def _plain_pub_ack(obj: Mapping[str, Any]) -> PubAck | None:
    """The usual ack (``stream``, ``seq``, maybe ``duplicate``/``domain``) without the
    generic decoder; ``None`` for anything else (the decoder then reads it, the same way)."""
    stream = obj.get("stream")
    seq = obj.get("seq")
    if type(stream) is not str or type(seq) is not int or not _PLAIN_ACK_KEYS.issuperset(obj):
        return None
    dup = obj.get("duplicate")
    domain = obj.get("domain")
    if (dup is not None and type(dup) is not bool) or (
        domain is not None and type(domain) is not str
    ):
        return None
    return PubAck(stream=stream, seq=seq, duplicate=dup, domain=domain)


# ----------------------------------------------------------- async publish


@dataclass(slots=True)
class PendingPublish:
    """One async publish awaiting its ack: send ``payload`` to ``subject`` with ``reply``."""

    token: str
    reply: str
    subject: str
    payload: bytes
    headers: Headers | None
    deadline: float | None
    retries: int = 0
    slot: Any = None
    """The adapter's own object for this publish (its future...), from
    :meth:`AsyncPublishTracker.track`."""

    def to_msg(self) -> Msg:
        """The publish as a message (``subject``, ``data``, ``headers``; no reply),
        as an async publish error handler receives it."""
        return Msg(self.subject, "", self.payload, self.headers)


@dataclass(frozen=True, slots=True)
class PublishOutcome:
    """What happened to the async publish ``token``.

    Exactly one of: ``ack`` (stored), ``error`` (failed: resolve the future
    with it, give ``msg`` and ``error`` to the error handler, then call
    :meth:`AsyncPublishTracker.reported`), or ``retry`` (503: publish
    ``retry`` again after ``retry_wait`` seconds with the same reply subject).
    """

    token: str
    ack: PubAck | None = None
    error: JetStreamError | None = None
    retry: PendingPublish | None = None
    msg: Msg | None = None
    """With ``error``: the publish that failed (see :meth:`PendingPublish.to_msg`)."""
    slot: Any = None
    """The ``slot`` given to :meth:`AsyncPublishTracker.track` (with ``ack`` or ``error``)."""


class AsyncPublishTracker:
    """Bookkeeping of asynchronous JetStream publishes (no I/O, no clock).

    The adapter subscribes once to :attr:`subscription_subject`
    (``<reply_prefix>*``), then for each publish calls :meth:`track` (which
    gives the reply subject and a token) and sends the message. Replies go to
    :meth:`on_reply`; :meth:`expire` times out acks past ``ack_timeout``;
    :meth:`fail_all` ends everything (disconnect, close). ``max_pending``
    bounds the publishes in flight: :meth:`track` raises
    :class:`TooManyPendingError` when full (check :attr:`is_full` and wait for
    an outcome first).

    Every failed outcome (an error reply, a timeout, :meth:`fail_all`) counts
    in :attr:`failed_count` and stays *being reported* until the adapter
    calls :meth:`reported` (after the future and the error handler):
    :attr:`settled` waits for those too.
    """

    __slots__ = (
        "_failed",
        "_failed_taken",
        "_last_deadline",
        "_next",
        "_ordered",
        "_pending",
        "_reporting",
        "ack_timeout",
        "max_pending",
        "max_retries",
        "reply_prefix",
        "retry_wait",
    )

    def __init__(
        self,
        reply_prefix: str,
        *,
        max_pending: int = DEFAULT_MAX_PENDING,
        max_retries: int = DEFAULT_RETRY_ATTEMPTS,
        retry_wait: float = DEFAULT_RETRY_WAIT,
        ack_timeout: float | None = None,
    ) -> None:
        if not reply_prefix.endswith("."):
            reply_prefix += "."
        if max_pending < 1:
            raise InvalidOptionError(f"max_pending must be at least 1, not {max_pending!r}")
        if max_retries < 0:
            raise InvalidOptionError(f"max_retries must not be negative, not {max_retries!r}")
        if ack_timeout is not None and ack_timeout <= 0:
            raise InvalidOptionError(f"ack_timeout must be positive, not {ack_timeout!r}")
        self.reply_prefix = reply_prefix
        self.max_pending = max_pending
        self.max_retries = max_retries
        self.retry_wait = retry_wait
        self.ack_timeout = ack_timeout
        self._pending: dict[str, PendingPublish] = {}
        self._next = 0
        self._failed = 0
        self._failed_taken = 0
        self._reporting = 0
        self._ordered = True  # the deadlines in _pending are in order (see track)
        self._last_deadline: float | None = None

    @property
    def subscription_subject(self) -> str:
        """The wildcard subject to subscribe to for every ack."""
        return self.reply_prefix + "*"

    @property
    def pending_count(self) -> int:
        """Publishes awaiting an outcome."""
        return len(self._pending)

    @property
    def is_full(self) -> bool:
        """True when :meth:`track` would raise :class:`TooManyPendingError`."""
        return len(self._pending) >= self.max_pending

    @property
    def all_done(self) -> bool:
        """True when no publish awaits an outcome (every one acked or failed)."""
        return not self._pending

    @property
    def failed_count(self) -> int:
        """Publishes that failed so far (an error reply, no stream, a timeout, closed)."""
        return self._failed

    @property
    def reporting_count(self) -> int:
        """Failures handed out whose :meth:`reported` has not been called yet."""
        return self._reporting

    @property
    def settled(self) -> bool:
        """True when nothing is in flight and every failure was reported: what
        waiting for completion waits for."""
        return not self._pending and not self._reporting

    def take_failed(self) -> int:
        """The failures since the previous call (the first: since the start)."""
        n = self._failed - self._failed_taken
        self._failed_taken = self._failed
        return n

    def reported(self, count: int = 1) -> None:
        """``count`` failed outcomes were delivered (future resolved, handler returned)."""
        if count < 0 or count > self._reporting:
            raise InvalidOptionError(
                f"reported({count}) but {self._reporting} failures are being reported"
            )
        self._reporting -= count

    def _fail(self, p: PendingPublish, error: JetStreamError) -> PublishOutcome:
        self._failed += 1
        self._reporting += 1
        return PublishOutcome(p.token, error=error, msg=p.to_msg(), slot=p.slot)

    def pending(self, token: str) -> PendingPublish | None:
        """The publish in flight under ``token``, if any."""
        return self._pending.get(token)

    def track(
        self,
        subject: str,
        payload: bytes = b"",
        headers: Headers | None = None,
        *,
        now: float,
        slot: Any = None,
    ) -> PendingPublish:
        """Register a publish; send it to ``subject`` with the returned ``reply``.

        ``slot`` is the adapter's object for it (its future), handed back in
        the publish's :class:`PublishOutcome`. One dict insertion; no timer:
        the deadlines are in the order of the publishes (a retry moves to the
        end), so :meth:`expire` reads only the overdue ones.
        """
        pending = self._pending
        if len(pending) >= self.max_pending:
            raise TooManyPendingError(
                f"{len(pending)} async publishes await their acks (max_pending="
                f"{self.max_pending}): wait for some to complete"
            )
        n = self._next = self._next + 1
        token = f"{n:x}"
        timeout = self.ack_timeout
        if timeout is None:
            deadline = None
        else:
            deadline = now + timeout
            if self._last_deadline is not None and deadline < self._last_deadline:
                self._ordered = False  # ``now`` went back: expire scans everything
            self._last_deadline = deadline
        p = PendingPublish(token, self.reply_prefix + token, subject, payload, headers, deadline)
        p.slot = slot
        pending[token] = p
        return p

    def token_of(self, reply_subject: str) -> str | None:
        """The token of an ack's subject, or ``None`` when it is not one of ours."""
        if not reply_subject.startswith(self.reply_prefix):
            return None
        token = reply_subject[len(self.reply_prefix) :]
        return token or None

    def on_reply(self, msg: Msg, now: float) -> PublishOutcome | None:
        """Handle a reply that arrived on the subscription; ``None`` if it is unknown."""
        token = self.token_of(msg.subject)
        if token is None:
            return None
        return self.on_token_reply(token, msg, now)

    def on_replies(self, msgs: Iterable[Msg], now: float) -> list[PublishOutcome]:
        """:meth:`on_reply` for several replies at once (unknown ones left out)."""
        out = []
        for msg in msgs:
            o = self.on_reply(msg, now)
            if o is not None:
                out.append(o)
        return out

    def on_token_reply(self, token: str, msg: Msg, now: float) -> PublishOutcome | None:
        """Handle the reply ``msg`` to the publish ``token`` (``None`` if unknown or late)."""
        p = self._pending.pop(token, None)  # the one dict operation of an ack
        if p is None:
            return None
        if msg._headers is not None and msg.is_no_responders and p.retries < self.max_retries:
            p.retries += 1
            if self.ack_timeout is not None:
                p.deadline = now + self.ack_timeout
                if self._last_deadline is not None and p.deadline < self._last_deadline:
                    self._ordered = False
                self._last_deadline = p.deadline
            self._pending[token] = p  # at the end: the deadlines stay in order
            return PublishOutcome(token, retry=p)
        try:
            ack = parse_pub_ack(msg, subject=p.subject)
        except (APIError, JetStreamError) as exc:
            return self._fail(p, exc)
        return PublishOutcome(token, ack=ack, slot=p.slot)

    def expire(self, now: float) -> list[PublishOutcome]:
        """Fail the publishes whose ack is overdue at ``now``."""
        if self.ack_timeout is None or not self._pending:
            return []
        if self._ordered:
            late = []
            for t, p in self._pending.items():
                if p.deadline is None:
                    continue  # tracked before ack_timeout was set: never late
                if now < p.deadline:
                    break
                late.append(t)
        else:
            late = [
                t for t, p in self._pending.items() if p.deadline is not None and now >= p.deadline
            ]
        out = []
        for t in late:
            p = self._pending.pop(t)
            out.append(
                self._fail(
                    p, AsyncPublishTimeoutError(f"no ack for the publish to {p.subject!r} in time")
                )
            )
        if not self._pending:
            self._ordered = True
            self._last_deadline = None
        return out

    def next_deadline(self) -> float | None:
        """When :meth:`expire` next has work, or ``None`` (no ack timeout, nothing pending)."""
        if self.ack_timeout is None or not self._pending:
            return None
        if self._ordered:
            for p in self._pending.values():
                if p.deadline is not None:
                    return p.deadline
            return None
        deadlines = [p.deadline for p in self._pending.values() if p.deadline is not None]
        return min(deadlines) if deadlines else None

    def fail_all(self, error: JetStreamError) -> list[PublishOutcome]:
        """End every pending publish with ``error`` (disconnected, closed...)."""
        out = [self._fail(p, error) for p in self._pending.values()]
        self._pending.clear()
        self._ordered = True
        self._last_deadline = None
        return out

    def forget(self, token: str) -> None:
        """Drop ``token`` without an outcome (its publish could not be sent)."""
        self._pending.pop(token, None)

"""Batch direct get (ADR-31, server 2.11+) and atomic batch publish (ADR-50, 2.12+), sans-IO.

Batch direct get
    :func:`batch_get_request` and :func:`last_msgs_for_request` build the
    ``DIRECT.GET.<stream>`` request; :class:`DirectBatch` reads the replies
    one by one: each stored message comes back as a plain message with
    ``Nats-*`` headers (and ``Nats-Num-Pending``), and the batch ends with an
    empty ``204 EOB`` status message. A ``404`` before any message means
    nothing matched (an empty answer, not an error). The adapter waits for
    each reply until :attr:`DirectBatch.deadline`; when that passes, or the
    connection goes, :meth:`DirectBatch.expired` / :meth:`DirectBatch.lost`
    give the error to raise, so a cut-off batch never looks complete.

Atomic batch publish
    :class:`AtomicBatch` numbers the messages of one batch (``Nats-Batch-Id``,
    ``Nats-Batch-Sequence`` from 1, ``Nats-Batch-Commit: 1`` on the last, or
    a separate ``eob`` marker on server 2.14+), checks the header rules the
    server is known to enforce before anything is sent, says which messages
    want a reply (the first, then every ``ack_every``), and parses the
    commit's :class:`BatchAck`. Nothing is stored unless the commit succeeds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .._events import Msg
from .._headers import Headers, HeadersInput
from .._subjects import is_valid_publish_subject
from ._codec import INT, STR, Model, dump_json, extra_field, fld, format_time
from .api import JSApi
from .errors import (
    APIError,
    BatchGetIncompleteError,
    BatchGetTimeoutError,
    BatchGetUnsupportedError,
    InvalidOptionError,
    InvalidResponseError,
    JetStreamNotEnabledError,
    NoStreamResponseError,
    api_error_from_json,
)
from .headers import (
    BATCH_COMMIT,
    BATCH_COMMIT_EOB,
    BATCH_ID,
    BATCH_SEQUENCE,
    EXPECTED_LAST_SEQ,
    LAST_SEQUENCE,
    NUM_PENDING,
    UP_TO_SEQUENCE,
)
from .models import StoredMsg
from .publish import publish_headers
from .requests import JSRequest, parse_direct_get, validate_stream_name

__all__ = [
    "MAX_BATCH_ID_LEN",
    "AtomicBatch",
    "BatchAck",
    "DirectBatch",
    "batch_get_request",
    "last_msgs_for_request",
    "parse_batch_ack",
]

MAX_BATCH_ID_LEN = 64
"""The longest ``Nats-Batch-Id`` the server accepts (10179 beyond)."""


# ------------------------------------------------------------ batch direct get


def _positive(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidOptionError(f"{what} must be a positive integer, not {value!r}")
    return value


def batch_get_request(
    stream: str,
    batch: int,
    *,
    seq: int | None = None,
    start_time: datetime | None = None,
    subject: str | None = None,
    max_bytes: int | None = None,
    api: JSApi | None = None,
) -> JSRequest:
    """Up to ``batch`` stored messages from ``seq`` (default 1) or ``start_time``,
    only those on ``subject`` (wildcards allowed) when given, stopping once
    ``max_bytes`` have been sent. Read the replies with :class:`DirectBatch`."""
    validate_stream_name(stream)
    body: dict[str, Any] = {"batch": _positive(batch, "batch")}
    if seq is not None and start_time is not None:
        raise InvalidOptionError("give seq or start_time, not both")
    if start_time is not None:
        body["start_time"] = format_time(start_time)
    else:
        body["seq"] = 1 if seq is None else _positive(seq, "seq")
    if subject is not None:
        if not subject:
            raise InvalidOptionError("subject must not be empty")
        body["next_by_subj"] = subject
    if max_bytes is not None:
        body["max_bytes"] = _positive(max_bytes, "max_bytes")
    return JSRequest((api or JSApi()).direct_get(stream), dump_json(body))


def last_msgs_for_request(
    stream: str,
    subjects: Sequence[str],
    *,
    up_to_seq: int | None = None,
    up_to_time: datetime | None = None,
    batch: int | None = None,
    max_bytes: int | None = None,
    api: JSApi | None = None,
) -> JSRequest:
    """The last message of each subject matching ``subjects`` (wildcards allowed,
    at most 1024 subjects match), as of ``up_to_seq`` or ``up_to_time`` when given."""
    validate_stream_name(stream)
    if isinstance(subjects, str):
        subjects = [subjects]
    subs = list(subjects)
    if not subs or not all(isinstance(s, str) and s for s in subs):
        raise InvalidOptionError("subjects must be one or more non-empty subjects")
    if up_to_seq is not None and up_to_time is not None:
        raise InvalidOptionError("give up_to_seq or up_to_time, not both")
    body: dict[str, Any] = {"multi_last": subs}
    if up_to_seq is not None:
        body["up_to_seq"] = _positive(up_to_seq, "up_to_seq")
    if up_to_time is not None:
        body["up_to_time"] = format_time(up_to_time)
    if batch is not None:
        body["batch"] = _positive(batch, "batch")
    if max_bytes is not None:
        body["max_bytes"] = _positive(max_bytes, "max_bytes")
    return JSRequest((api or JSApi()).direct_get(stream), dump_json(body))


def _int_header(headers: Headers, key: str) -> int | None:
    value = headers.get(key)
    if value is None:
        return None
    if not value.isdigit():
        raise InvalidResponseError(f"batch get reply has a bad {key} header: {value!r}")
    return int(value)


class DirectBatch:
    """The replies of one batch direct get, fed one by one with :meth:`on_reply`.

    ``timeout`` is how long to wait for each reply (the first and every next
    one); :attr:`deadline` is when the current wait ends. After the end
    marker :attr:`done` is true and :attr:`num_pending` (messages matching
    beyond this batch), :attr:`last_seq` (the last message's stream sequence)
    and, for a multi-subject get, :attr:`up_to_seq` describe the answer.
    """

    __slots__ = (
        "_timeout",
        "deadline",
        "done",
        "last_seq",
        "num_pending",
        "received",
        "stream",
        "up_to_seq",
    )

    def __init__(self, stream: str, *, timeout: timedelta | float, now: float) -> None:
        self.stream = stream
        self._timeout = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
        if self._timeout <= 0:
            raise InvalidOptionError(f"timeout must be positive, not {timeout!r}")
        self.deadline = now + self._timeout
        self.done = False
        self.received = 0
        self.num_pending: int | None = None
        self.last_seq: int | None = None
        self.up_to_seq: int | None = None

    def __repr__(self) -> str:
        return f"<DirectBatch {self.stream} received={self.received} done={self.done}>"

    def on_reply(self, msg: Msg, now: float) -> StoredMsg | None:
        """A stored message to hand over, or ``None`` when this reply ended the
        batch (then :attr:`done`). Raises the error an error status stands for:
        :class:`~nats_core.jetstream.JetStreamNotEnabledError` for no responders
        (no stream, or no ``allow_direct``), :class:`APIError` for 408/413/500,
        :class:`BatchGetUnsupportedError` for a server older than 2.11."""
        if self.done:
            raise InvalidResponseError("batch get reply after the end of the batch")
        self.deadline = now + self._timeout
        headers = msg.headers
        status = headers.status if headers is not None else None
        if msg.is_no_responders:
            self.done = True
            raise JetStreamNotEnabledError(
                503,
                10076,
                f"no responders for direct get on stream {self.stream!r}: "
                "does it exist and allow direct gets (allow_direct)?",
            )
        if headers is not None and status == 204 and not msg.data:
            self.done = True
            self.num_pending = _int_header(headers, NUM_PENDING)
            self.last_seq = _int_header(headers, LAST_SEQUENCE)
            self.up_to_seq = _int_header(headers, UP_TO_SEQUENCE)
            return None
        if headers is not None and status == 404 and self.received == 0:
            self.done = True  # nothing matched: an empty answer
            self.num_pending = 0
            return None
        if headers is not None and status is not None and status != 200:
            self.done = True
            raise APIError(status, 0, headers.description or "batch direct get failed")
        if headers is None or NUM_PENDING not in headers:
            self.done = True
            raise BatchGetUnsupportedError(
                "the server answered a batch get as a single get: it needs nats-server 2.11+"
            )
        stored = parse_direct_get(msg)
        self.received += 1
        self.last_seq = stored.seq
        return stored

    def expired(self) -> BatchGetTimeoutError:
        """The error for a wait past :attr:`deadline` (the batch is over)."""
        self.done = True
        return BatchGetTimeoutError(
            f"batch get on stream {self.stream!r} timed out after {self.received} "
            "message(s) without its end marker: the answer is incomplete",
            self.received,
        )

    def lost(self, why: str = "the connection closed") -> BatchGetIncompleteError:
        """The error for a batch cut off (``why``) before its end marker."""
        self.done = True
        return BatchGetIncompleteError(
            f"batch get on stream {self.stream!r} ended after {self.received} message(s) "
            f"without its end marker ({why}): the answer is incomplete",
            self.received,
        )


# ------------------------------------------------------- atomic batch publish


@dataclass(slots=True)
class BatchAck(Model):
    """The answer to an atomic batch's commit: ``seq`` is the stream sequence of
    the last stored message, ``count`` how many messages the batch stored."""

    stream: str = fld(STR, default="")
    seq: int = fld(INT, default=0)
    domain: str | None = fld(STR)
    batch: str = fld(STR, default="")
    count: int = fld(INT, default=0)
    val: str | None = fld(STR)
    extra: dict[str, Any] = extra_field()  # noqa: RUF009


def parse_batch_ack(
    reply: Msg | bytes, batch_id: str, count: int, *, subject: str = ""
) -> BatchAck:
    """The commit's :class:`BatchAck`, checked against ``batch_id`` and the
    ``count`` of messages sent (not counting an ``eob`` marker). An error reply
    raises its typed :class:`APIError` (for instance
    :class:`~nats_core.jetstream.BatchIncompleteError`,
    :class:`~nats_core.jetstream.WrongLastSequenceError`)."""
    if isinstance(reply, Msg):
        if reply.is_no_responders:
            raise NoStreamResponseError(subject)
        data = reply.data
    else:
        data = reply
    try:
        obj: Any = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidResponseError(f"invalid batch ack: {bytes(data[:64])!r}") from exc
    if not isinstance(obj, Mapping):
        raise InvalidResponseError(f"invalid batch ack: {obj!r:.64}")
    if obj.get("error") is not None:
        raise api_error_from_json(obj["error"])
    ack = BatchAck.from_json({k: v for k, v in obj.items() if k != "type"})
    if not ack.stream or ack.batch != batch_id or ack.count != count:
        raise InvalidResponseError(
            f"batch ack does not match batch {batch_id!r} of {count} message(s): {obj!r:.120}"
        )
    return ack


def check_staged(reply: Msg | bytes, *, subject: str = "") -> None:
    """Check the reply to a batch message before the commit: empty means staged,
    an error body raises its typed :class:`APIError`."""
    if isinstance(reply, Msg):
        if reply.is_no_responders:
            raise NoStreamResponseError(subject)
        data = reply.data
    else:
        data = reply
    if not data:
        return
    try:
        obj: Any = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidResponseError(f"invalid batch reply: {bytes(data[:64])!r}") from exc
    if isinstance(obj, Mapping) and obj.get("error") is not None:
        raise api_error_from_json(obj["error"])


class AtomicBatch:
    """The numbering and rules of one atomic batch (ADR-50).

    ``batch_id`` (at most 64 characters; a NUID is fine) names the batch;
    ``ack_first`` asks for a reply to the first message (so a stream without
    ``allow_atomic`` fails there, before the rest is sent); ``ack_every``
    asks for one every that many messages (flow control, 0 = never).
    """

    __slots__ = ("_first_subject", "ack_every", "ack_first", "batch_id", "closed", "size")

    def __init__(self, batch_id: str, *, ack_first: bool = True, ack_every: int = 0) -> None:
        if not isinstance(batch_id, str) or not batch_id or len(batch_id) > MAX_BATCH_ID_LEN:
            raise InvalidOptionError(f"batch id must be 1 to 64 characters, not {batch_id!r}")
        if isinstance(ack_every, bool) or not isinstance(ack_every, int) or ack_every < 0:
            raise InvalidOptionError(f"ack_every must be >= 0, not {ack_every!r}")
        self.batch_id = batch_id
        self.ack_first = ack_first
        self.ack_every = ack_every
        self.size = 0
        """Messages numbered so far."""
        self.closed = False
        """Committed or discarded: no more messages."""
        self._first_subject = ""

    def __repr__(self) -> str:
        return f"<AtomicBatch {self.batch_id} size={self.size} closed={self.closed}>"

    def _check_open(self) -> None:
        if self.closed:
            raise InvalidOptionError(f"batch {self.batch_id} is already committed or discarded")

    def message(
        self,
        subject: str,
        headers: HeadersInput | None = None,
        *,
        commit: bool = False,
        msg_id: str | None = None,
        expected_stream: str | None = None,
        expected_last_seq: int | None = None,
        expected_last_subject_seq: int | None = None,
        expected_last_subject_seq_subject: str | None = None,
        ttl: timedelta | float | str | None = None,
    ) -> tuple[Headers, bool]:
        """Number the next message: its headers, and whether it wants a reply
        (the commit always does). ``expected_last_seq`` is only allowed on the
        first message; ``Nats-Expected-Last-Msg-Id`` never (the server refuses
        both, 10177). The expectations are checked at the commit against the
        stream as it was before the batch."""
        self._check_open()
        if not is_valid_publish_subject(subject):
            raise InvalidOptionError(f"invalid publish subject {subject!r}")
        if expected_last_seq is not None and self.size > 0:
            raise InvalidOptionError("expected_last_seq is only allowed on a batch's first message")
        hdrs = publish_headers(
            headers,
            msg_id=msg_id,
            expected_stream=expected_stream,
            expected_last_seq=expected_last_seq,
            expected_last_subject_seq=expected_last_subject_seq,
            expected_last_subject_seq_subject=expected_last_subject_seq_subject,
            ttl=ttl,
        )
        out = hdrs if hdrs is not None else Headers()
        if "Nats-Expected-Last-Msg-Id" in out:
            raise InvalidOptionError("a batch message may not carry Nats-Expected-Last-Msg-Id")
        if self.size and EXPECTED_LAST_SEQ in out:
            raise InvalidOptionError("expected_last_seq is only allowed on a batch's first message")
        for key in (BATCH_ID, BATCH_SEQUENCE, BATCH_COMMIT):
            out.pop(key, None)
        self.size += 1
        if not self._first_subject:
            self._first_subject = subject
        out[BATCH_ID] = self.batch_id
        out[BATCH_SEQUENCE] = str(self.size)
        if commit:
            out[BATCH_COMMIT] = "1"
            self.closed = True
            return out, True
        wants = (self.ack_first and self.size == 1) or (
            self.ack_every > 0 and self.size % self.ack_every == 0
        )
        return out, wants

    def end_marker(self) -> tuple[str, Headers]:
        """The subject and headers of the ``eob`` marker that commits the
        messages sent so far without storing itself (server 2.14+)."""
        self._check_open()
        if self.size == 0:
            raise InvalidOptionError("an empty batch cannot be committed")
        self.closed = True
        return self._first_subject, Headers(
            {
                BATCH_ID: self.batch_id,
                BATCH_SEQUENCE: str(self.size + 1),
                BATCH_COMMIT: BATCH_COMMIT_EOB,
            }
        )

    def discard(self) -> None:
        """Give the batch up: nothing was stored; the server drops it after its
        idle timeout (10 s by default)."""
        self._check_open()
        self.closed = True

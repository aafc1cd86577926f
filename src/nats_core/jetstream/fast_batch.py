"""Fast-ingest batch publish (nats-server 2.14+, stream ``allow_batched``), sans-IO.

A fast batch persists each message as it arrives (unlike an atomic batch,
nothing waits for the commit), and the server paces the publisher. There are
no batch headers: the control data rides in each message's reply subject,

    ``<inbox>.<flow>.<gap>.<batch seq>.<op>.$FI``

where ``<inbox>``'s last token is the batch id (at most 64 characters),
``<flow>`` the most messages the client lets the server wait between two
acknowledgements, ``<gap>`` ``ok`` or ``fail`` (go on, or end the batch, when a
message is lost or fails a check), and ``<op>`` one of :data:`OP_START` (the
first message), :data:`OP_APPEND`, :data:`OP_COMMIT` (store this one and
commit), :data:`OP_COMMIT_EOB` (commit without storing this one) and
:data:`OP_PING` (re-send the last acknowledgement; the sequence is the
highest already sent).

The server answers on the reply subject (the client subscribes to
``<inbox>.>``): a flow acknowledgement ``{"type":"ack","seq":S,"msgs":N}``
(messages up to S are persisted; the next one comes N messages later: the
first, to message 1, has S = 0), a gap report ``{"type":"gap",...}``, a
per-message error ``{"type":"err",...}``, and at the end a plain PubAck with
``batch`` and ``count``.

:class:`FastBatch` holds one batch's state and rules: it numbers the messages
and makes their reply subjects, reads the replies, says when the publisher
must wait (for the first acknowledgement; when ``flow * max_outstanding_acks``
messages are unacknowledged; for the final ack after the commit), and, given
``now``, when to send a ping to re-request a lost acknowledgement and when to
give up. The adapters only publish, read the subscription and sleep.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from .._events import Msg
from .._headers import Headers, HeadersInput
from .._subjects import is_valid_publish_subject
from .batch import BatchAck
from .errors import (
    APIError,
    FastBatchAckTimeoutError,
    FastBatchCommitLostError,
    FastBatchEndedError,
    InvalidOptionError,
    InvalidResponseError,
    NoStreamResponseError,
    UnknownBatchIdError,
    api_error_from_json,
)
from .publish import publish_headers

__all__ = [
    "DEFAULT_FLOW",
    "DEFAULT_MAX_OUTSTANDING_ACKS",
    "FAST_BATCH_SUFFIX",
    "MAX_FLOW",
    "OP_APPEND",
    "OP_COMMIT",
    "OP_COMMIT_EOB",
    "OP_PING",
    "OP_START",
    "FastBatch",
    "FlowAck",
    "FlowErr",
    "FlowGap",
]

#: The last token of every fast batch reply subject.
FAST_BATCH_SUFFIX = ".$FI"
OP_START = 0
OP_APPEND = 1
OP_COMMIT = 2
OP_COMMIT_EOB = 3
OP_PING = 4
#: orbit.go's defaults: an acknowledgement at least every 100 messages, two outstanding.
DEFAULT_FLOW = 100
DEFAULT_MAX_OUTSTANDING_ACKS = 2
#: The server caps the flow value at 65535 (a uint16).
MAX_FLOW = 65535
MAX_BATCH_ID_LEN = 64


@dataclass(slots=True, frozen=True)
class FlowAck:
    """``{"type":"ack"}``: batch messages up to ``seq`` are persisted (with gap
    mode ``ok``: some of them may be missing); the next acknowledgement comes
    ``msgs`` messages later."""

    seq: int
    msgs: int


@dataclass(slots=True, frozen=True)
class FlowGap:
    """``{"type":"gap"}``: batch messages ``last_seq`` up to ``seq - 1`` never
    reached the stream (informational; with gap mode ``fail`` the batch ends)."""

    last_seq: int
    seq: int


@dataclass(slots=True, frozen=True)
class FlowErr:
    """``{"type":"err"}``: batch message ``seq`` failed a check (``error``)."""

    seq: int
    error: APIError


FlowEvent = FlowAck | FlowGap | FlowErr | BatchAck


def _int(obj: Mapping[str, Any], key: str) -> int:
    value = obj.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidResponseError(f"invalid fast batch reply field {key!r}: {value!r:.40}")
    return value


class FastBatch:
    """The state and rules of one fast-ingest batch.

    ``inbox`` is a fresh inbox (its last token, at most 64 characters, is the
    batch id); the adapter subscribes to :attr:`subscribe_subject` before the
    first message. ``flow`` (1 to 65535) is the most messages the server may
    let pass between two acknowledgements (it starts at ``min(500, flow)``,
    or 1 when the stream has other fast batches open, and ramps by doubling);
    the publisher waits once ``flow * max_outstanding_acks`` messages are
    unacknowledged (``flow`` being the server's current value). While waiting
    it pings every ``ack_timeout / 3`` seconds, so a lost acknowledgement is
    sent again, and gives up after ``ack_timeout`` seconds without progress.
    ``continue_on_gap`` selects gap mode ``ok`` (go on after a lost or refused
    message; the gaps and errors are reported) instead of ``fail`` (the server
    ends the batch there).
    """

    __slots__ = (
        "_deadline",
        "_first_subject",
        "_next_ping",
        "_pinged",
        "_prefix",
        "_refused",
        "ack_seq",
        "ack_timeout",
        "batch_id",
        "cause",
        "closed",
        "committing",
        "continue_on_gap",
        "errors",
        "flow",
        "gaps",
        "inbox",
        "max_outstanding_acks",
        "outcome",
        "seq",
        "started",
    )

    def __init__(
        self,
        inbox: str,
        *,
        flow: int = DEFAULT_FLOW,
        max_outstanding_acks: int = DEFAULT_MAX_OUTSTANDING_ACKS,
        continue_on_gap: bool = False,
        ack_timeout: timedelta | float = 5.0,
    ) -> None:
        batch_id = inbox.rpartition(".")[2]
        if not batch_id or len(batch_id) > MAX_BATCH_ID_LEN or "*" in inbox or ">" in inbox:
            raise InvalidOptionError(
                f"the inbox's last token is the batch id (1 to 64 characters): {inbox!r}"
            )
        if isinstance(flow, bool) or not isinstance(flow, int) or not 1 <= flow <= MAX_FLOW:
            raise InvalidOptionError(f"flow must be 1 to {MAX_FLOW}, not {flow!r}")
        if (
            isinstance(max_outstanding_acks, bool)
            or not isinstance(max_outstanding_acks, int)
            or not 1 <= max_outstanding_acks <= MAX_FLOW
        ):
            raise InvalidOptionError(
                f"max_outstanding_acks must be 1 to {MAX_FLOW}, not {max_outstanding_acks!r}"
            )
        if isinstance(ack_timeout, timedelta):
            ack_timeout = ack_timeout.total_seconds()
        if not ack_timeout > 0:
            raise InvalidOptionError(f"ack_timeout must be > 0, not {ack_timeout!r}")
        self.inbox = inbox
        self.batch_id = batch_id
        self.flow = flow
        """The server's current acknowledgement interval (the client's ``flow``
        until the first acknowledgement says otherwise)."""
        self.max_outstanding_acks = max_outstanding_acks
        self.continue_on_gap = continue_on_gap
        self.ack_timeout = float(ack_timeout)
        self._prefix = f"{inbox}.{flow}.{'ok' if continue_on_gap else 'fail'}."
        self.seq = 0
        """The highest batch sequence sent."""
        self.ack_seq = 0
        """The highest batch sequence acknowledged (persisted)."""
        self.started = False
        """The first message was acknowledged."""
        self.committing = False
        """The commit was sent; waiting for the final acknowledgement."""
        self.closed = False
        """No more messages: committed, ended by the server, or given up."""
        self.outcome: BatchAck | None = None
        """The final acknowledgement, once it came."""
        self.cause: BaseException | None = None
        """Why the batch ended, when it was not a successful commit."""
        self.gaps: list[FlowGap] = []
        self.errors: list[FlowErr] = []
        self._first_subject = ""
        self._deadline = 0.0
        self._next_ping = 0.0
        self._pinged = False
        self._refused: list[int] = []  # refused with gap mode ok, above ack_seq

    def __repr__(self) -> str:
        return (
            f"<FastBatch {self.batch_id} seq={self.seq} ack_seq={self.ack_seq} "
            f"flow={self.flow} closed={self.closed}>"
        )

    @property
    def subscribe_subject(self) -> str:
        """What the adapter subscribes to before the first message."""
        return f"{self.inbox}.>"

    def reply_subject(self, seq: int, op: int) -> str:
        """The reply subject carrying batch sequence ``seq`` and operation ``op``."""
        return f"{self._prefix}{seq}.{op}{FAST_BATCH_SUFFIX}"

    # ------------------------------------------------------------ sending

    def check(self) -> None:
        """Raise why the batch cannot take another message (if it cannot)."""
        if not self.closed:
            return
        if self.cause is not None:
            raise self.cause
        if self.outcome is not None:
            raise FastBatchEndedError(
                f"fast batch {self.batch_id} already ended (committed "
                f"{self.outcome.count} message(s))",
                seq=self.seq,
                ack_seq=self.ack_seq,
                ack=self.outcome,
            )
        raise InvalidOptionError(f"fast batch {self.batch_id} is closed")

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
    ) -> tuple[str, Headers | None]:
        """Number the next message (``commit``: the last one, stored and
        committing the batch): its reply subject and headers (``None`` when it
        has none). Raises when the batch is closed, or still waits for its
        first acknowledgement."""
        self.check()
        if self.seq and not self.started:
            raise InvalidOptionError("wait for the first message's acknowledgement first")
        if not is_valid_publish_subject(subject):
            raise InvalidOptionError(f"invalid publish subject {subject!r}")
        hdrs = publish_headers(
            headers,
            msg_id=msg_id,
            expected_stream=expected_stream,
            expected_last_seq=expected_last_seq,
            expected_last_subject_seq=expected_last_subject_seq,
            expected_last_subject_seq_subject=expected_last_subject_seq_subject,
            ttl=ttl,
        )
        self.seq += 1
        if not self._first_subject:
            self._first_subject = subject
        if commit:
            self.committing = self.closed = True
            op = OP_COMMIT
        else:
            op = OP_START if self.seq == 1 else OP_APPEND
        return self.reply_subject(self.seq, op), hdrs

    def end_marker(self) -> tuple[str, str]:
        """The subject and reply subject of the message that commits the batch
        without being stored (sent with an empty body)."""
        self.check()
        if self.seq == 0:
            raise InvalidOptionError("an empty fast batch cannot be committed")
        if not self.started:
            raise InvalidOptionError("wait for the first message's acknowledgement first")
        self.seq += 1
        self.committing = self.closed = True
        return self._first_subject, self.reply_subject(self.seq, OP_COMMIT_EOB)

    def ping(self) -> tuple[str, str]:
        """The subject and reply subject of a ping (empty body): the server
        answers with its latest acknowledgement (or reports a gap when it has
        not seen the highest sequence sent)."""
        return self._first_subject, self.reply_subject(self.seq, OP_PING)

    # ------------------------------------------------------------ waiting

    @property
    def unacked(self) -> int:
        """Messages sent and not yet acknowledged, not counting those the
        server refused with gap mode ``ok`` (they will never be acknowledged:
        the server only acknowledges what it persisted)."""
        n = self.seq - self.ack_seq
        if self._refused:
            n -= sum(1 for s in self._refused if s > self.ack_seq)
        return n

    @property
    def waiting(self) -> bool:
        """The adapter must read replies before going on: the first message is
        not acknowledged yet, ``flow * max_outstanding_acks`` messages are
        unacknowledged, or the commit's final acknowledgement is due."""
        if self.outcome is not None or self.cause is not None:
            return False
        if self.committing:
            return True
        if self.seq == 0:
            return False
        if not self.started:
            return True
        return self.unacked >= self.flow * self.max_outstanding_acks

    def start_wait(self, now: float) -> None:
        """The adapter starts waiting at ``now``: the deadline is ``ack_timeout``
        from now, the first ping a third of that."""
        self._deadline = now + self.ack_timeout
        self._next_ping = now + self.ack_timeout / 3

    @property
    def wake_at(self) -> float:
        """When the adapter must call :meth:`on_timeout` if no reply came."""
        if not self.started:
            # no pings before the first acknowledgement: a ping for sequence 1
            # would open the batch on the server if the first message was lost
            return self._deadline
        return min(self._deadline, self._next_ping)

    def on_timeout(self, now: float) -> tuple[str, str] | None:
        """No reply until ``now``: a ping to send (subject, reply subject), or
        ``None`` (not due yet); raises :class:`FastBatchAckTimeoutError` (and
        closes the batch) once the deadline passed."""
        if now >= self._deadline:
            self.closed = True
            what = (
                "final acknowledgement"
                if self.committing
                else "acknowledgement"
                if self.started
                else "acknowledgement of the first message"
            )
            err = FastBatchAckTimeoutError(
                f"fast batch {self.batch_id}: no {what} within {self.ack_timeout} s "
                f"(sent {self.seq}, acknowledged {self.ack_seq})",
                seq=self.seq,
                ack_seq=self.ack_seq,
            )
            self.cause = err
            raise err
        if self.started and now >= self._next_ping:
            self._next_ping = now + self.ack_timeout / 3
            self._pinged = True
            return self.ping()
        return None

    # ------------------------------------------------------------ replies

    def on_reply(self, msg: Msg | bytes, now: float) -> FlowEvent | None:
        """Read one reply from the batch's inbox at ``now``: the event it was
        (``None`` for one that changes nothing). A flow acknowledgement that
        moves :attr:`ack_seq` on pushes the wait's deadline back. A final
        acknowledgement sets :attr:`outcome` (and closes the batch); an error
        one, or one that comes before the commit, sets :attr:`cause`."""
        if isinstance(msg, Msg):
            if msg.is_no_responders:
                return self._end(NoStreamResponseError(self._first_subject))
            data = msg.data
        else:
            data = msg
        try:
            obj: Any = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            return self._end(
                InvalidResponseError(f"invalid fast batch reply: {bytes(data[:64])!r}")
            )
        if not isinstance(obj, Mapping):
            return self._end(InvalidResponseError(f"invalid fast batch reply: {obj!r:.64}"))
        kind = obj.get("type")
        try:
            if kind == "ack":
                return self._on_ack(FlowAck(_int(obj, "seq"), _int(obj, "msgs")), now)
            if kind == "gap":
                gap = FlowGap(_int(obj, "last_seq"), _int(obj, "seq"))
                self.gaps.append(gap)
                return gap
            if kind == "err":
                err = FlowErr(_int(obj, "seq"), api_error_from_json(obj.get("error")))
                self.errors.append(err)
                if self.continue_on_gap and err.seq > self.ack_seq:
                    self._refused.append(err.seq)
                    self.start_wait(now)  # an answer: the server is there
                return err
        except InvalidResponseError as exc:
            return self._end(exc)
        if kind is not None:
            return None  # a kind this client does not know: nothing to do
        return self._on_final(obj)

    def _on_ack(self, ack: FlowAck, now: float) -> FlowAck:
        if ack.msgs > 0:
            self.flow = ack.msgs
        if ack.seq > self.ack_seq:
            self.ack_seq = ack.seq
            self.start_wait(now)
            if self._refused:
                self._refused = [s for s in self._refused if s > ack.seq]
        elif not self.started:
            self.start_wait(now)
        self.started = True
        return ack

    def _on_final(self, obj: Mapping[str, Any]) -> BatchAck | None:
        self.closed = True
        if obj.get("error") is not None:
            error = api_error_from_json(obj["error"])
            if isinstance(error, UnknownBatchIdError) and self.committing and self._pinged:
                self._end(
                    FastBatchCommitLostError(
                        f"fast batch {self.batch_id}: the commit's acknowledgement was lost "
                        f"and the server no longer knows the batch (sent {self.seq}, "
                        f"acknowledged {self.ack_seq})",
                        seq=self.seq,
                        ack_seq=self.ack_seq,
                    )
                )
                return None
            self._end(error)
            return None
        ack = BatchAck.from_json(dict(obj))
        if not ack.stream or (ack.batch and ack.batch != self.batch_id):
            self._end(InvalidResponseError(f"fast batch ack does not match: {obj!r:.120}"))
            return None
        self.outcome = ack
        failed = not self.continue_on_gap and (self.errors or self.gaps)
        if not self.committing or failed:
            last = self.errors[-1].error if self.errors else None
            why = "a message failed a check" if last is not None else "a message was lost"
            if not self.errors and not self.gaps:
                why = "the server ended it"
            self.cause = FastBatchEndedError(
                f"fast batch {self.batch_id} ended before the commit ({why}): "
                f"{ack.count} message(s) of the batch stored, up to stream sequence {ack.seq}",
                seq=self.seq,
                ack_seq=self.ack_seq,
                ack=ack,
                cause=last,
            )
        return ack

    def _end(self, err: BaseException) -> FlowEvent | None:
        """Close the batch with ``err`` (the first cause wins); nothing to report."""
        self.closed = True
        if self.cause is None:
            self.cause = err
        return None

    def result(self) -> BatchAck:
        """After the commit's wait: the final acknowledgement, or the error."""
        if self.cause is not None:
            raise self.cause
        if self.outcome is None:
            raise InvalidOptionError(f"fast batch {self.batch_id} is not committed")
        return self.outcome

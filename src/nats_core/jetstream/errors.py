"""JetStream errors: API errors chosen by ``err_code`` (ADR-7), pull statuses, local misuse.

Three families, all under :class:`JetStreamError` (itself a
:class:`nats_core.errors.NatsError`):

* :class:`APIError` and its subclasses: the server answered a JetStream API
  request (or a publish) with ``{"error": {"code", "err_code", "description"}}``.
  :func:`api_error` picks the subclass from ``err_code``; an unknown code gives
  a plain :class:`APIError`, never a failure.
* :class:`PullStatusError` and its subclasses: a pull request ended with an
  inline status (404, 408, 409, 400, 423) as ADR-37 describes; ``terminal``
  says whether a continuous consume must stop.
* Local errors: :class:`InvalidNameError` and :class:`InvalidOptionError`
  (also ``ValueError``), raised before anything is sent.

:func:`check_response` turns any API reply into a dict or the right error.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from .._events import Msg
from ..errors import LocalProtocolError, NatsError

__all__ = [
    "APIError",
    "AsyncPublishTimeoutError",
    "BadRequestError",
    "BatchCompletedError",
    "ConsumerAlreadyBoundError",
    "ConsumerAlreadyExistsError",
    "ConsumerBindError",
    "ConsumerConfigMismatchError",
    "ConsumerDeletedError",
    "ConsumerDoesNotExistError",
    "ConsumerNameExistsError",
    "ConsumerNotFoundError",
    "ConsumerSequenceMismatchError",
    "DeliverGroupMismatchError",
    "DuplicateMessageInProcessError",
    "ExpectedStreamMismatchError",
    "FilterSubjectMismatchError",
    "InvalidMsgTTLError",
    "InvalidNameError",
    "InvalidOptionError",
    "InvalidResponseError",
    "JetStreamError",
    "JetStreamNotEnabledError",
    "JetStreamNotEnabledForAccountError",
    "LeadershipChangedError",
    "MaxBytesExceededError",
    "MaximumConsumersLimitError",
    "MaximumStreamsLimitError",
    "MessageSizeExceedsMaximumError",
    "MissedHeartbeatError",
    "MsgAlreadyAckedError",
    "MsgNotFoundError",
    "MsgTTLDisabledError",
    "NoMessagesError",
    "NoStreamResponseError",
    "NotJetStreamMessageError",
    "NotPullConsumerError",
    "NotPushConsumerError",
    "PinIdMismatchError",
    "PullBadRequestError",
    "PullRequestRejectedError",
    "PullRequestTimeoutError",
    "PullStatusError",
    "ServerShutdownError",
    "StreamNameInUseError",
    "StreamNotFoundError",
    "StreamSealedError",
    "StreamStoreFailedError",
    "StreamSubjectOverlapError",
    "TooManyPendingError",
    "WrongLastMsgIdError",
    "WrongLastSequenceError",
    "api_error",
    "api_error_from_json",
    "check_response",
]


class JetStreamError(NatsError):
    """Root of every JetStream error."""


class InvalidResponseError(JetStreamError):
    """A JetStream reply could not be understood (not JSON, not an object, fields missing)."""


class InvalidNameError(JetStreamError, LocalProtocolError, ValueError):
    """A stream, consumer or durable name cannot be used; nothing was sent."""


class InvalidOptionError(JetStreamError, LocalProtocolError, ValueError):
    """Options contradict each other or are out of range; nothing was sent."""


class NotJetStreamMessageError(JetStreamError, ValueError):
    """The message's reply subject is not a ``$JS.ACK`` subject, so it has no metadata."""


class NoStreamResponseError(JetStreamError):
    """A JetStream publish reached no stream (the server answered 503 no responders).

    No stream listens on the subject, or JetStream is not enabled.
    """

    def __init__(self, subject: str = "") -> None:
        where = f" on {subject!r}" if subject else ""
        super().__init__(
            f"no stream answered the publish{where}: create a stream that captures "
            "the subject, or check that JetStream is enabled"
        )
        self.subject = subject


class AsyncPublishTimeoutError(JetStreamError, TimeoutError):
    """An asynchronous publish got no ack within its ack timeout."""


class TooManyPendingError(JetStreamError):
    """Too many asynchronous publishes await their acks; wait for some to complete."""


class MsgAlreadyAckedError(JetStreamError):
    """The message was already acknowledged (ack, nak, term or a double ack); nothing was sent."""


class MissedHeartbeatError(JetStreamError):
    """No message, heartbeat or status arrived for two idle-heartbeat intervals.

    Not terminal: the consumer may be gone (deleted, server restarted) or the
    connection stalled; consume re-pulls, an ordered consumer resets.
    """


# ----------------------------------------------------------------- API errors


class APIError(JetStreamError):
    """The JetStream API answered with an error.

    ``code`` is the HTTP-like status (400, 404, 503...), ``err_code`` the
    JetStream error code of ADR-7 (10059 stream not found...), and
    ``description`` the server's text (not stable: match on ``err_code``).
    """

    def __init__(self, code: int = 0, err_code: int = 0, description: str = "") -> None:
        self.code = code
        self.err_code = err_code
        self.description = description
        super().__init__(self._message())

    def _message(self) -> str:
        desc = self.description or "jetstream api error"
        return f"{desc} (code={self.code}, err_code={self.err_code})"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code}, err_code={self.err_code}, "
            f"description={self.description!r})"
        )


class BadRequestError(APIError):
    """10003: the request was malformed."""


class ConsumerNameExistsError(APIError):
    """10013: a consumer of that name exists with a different configuration."""


class ConsumerNotFoundError(APIError):
    """10014: no consumer of that name on the stream."""


class MaximumConsumersLimitError(APIError):
    """10026: the stream or account reached its consumer limit."""


class MaximumStreamsLimitError(APIError):
    """10027: the account reached its stream limit."""


class MsgNotFoundError(APIError):
    """10037 (or a direct get's 404): no message matches the request."""


class JetStreamNotEnabledError(APIError):
    """10076: JetStream is not enabled on the server.

    Also raised (code 503, err_code 10076) when an API request finds no
    responders, which is how a server without JetStream (or a wrong domain or
    prefix) shows itself.
    """


class JetStreamNotEnabledForAccountError(JetStreamNotEnabledError):
    """10039: JetStream is not enabled for this account."""


class MessageSizeExceedsMaximumError(APIError):
    """10054: the message is larger than the stream's ``max_msg_size``."""


class StreamNameInUseError(APIError):
    """10058: a stream of that name exists with a different configuration."""


class StreamNotFoundError(APIError):
    """10059: no stream of that name (or none captures the subject)."""


class ExpectedStreamMismatchError(APIError):
    """10060: the publish's ``Nats-Expected-Stream`` names another stream."""


class StreamSubjectOverlapError(APIError):
    """10065: the stream's subjects overlap those of an existing stream."""


class WrongLastMsgIdError(APIError):
    """10070: ``Nats-Expected-Last-Msg-Id`` does not match the stream's last message id."""


class WrongLastSequenceError(APIError):
    """10071 (10164 on replicated streams): an expected last sequence did not match."""


class StreamStoreFailedError(APIError):
    """10077: the stream refused to store the message.

    The description says why, for instance "maximum messages per subject
    exceeded" on a ``discard_new_per_subject`` stream, or "maximum messages
    exceeded" / "maximum bytes exceeded" with discard new.
    """


class StreamSealedError(APIError):
    """10109: the operation is not allowed on a sealed stream."""


class ConsumerAlreadyExistsError(APIError):
    """10148: create (action ``create``) found a consumer with a different configuration."""


class ConsumerDoesNotExistError(APIError):
    """10149: update (action ``update``) found no such consumer."""


class DuplicateMessageInProcessError(APIError):
    """10158: a message with the same ``Nats-Msg-Id`` is being stored right now."""


class InvalidMsgTTLError(APIError):
    """10165: the ``Nats-TTL`` header is not a valid TTL (below 1 s, unparsable)."""


class MsgTTLDisabledError(APIError):
    """10166: the stream does not allow per-message TTLs (``allow_msg_ttl``)."""


_BY_ERR_CODE: dict[int, type[APIError]] = {
    10003: BadRequestError,
    10013: ConsumerNameExistsError,
    10014: ConsumerNotFoundError,
    10026: MaximumConsumersLimitError,
    10027: MaximumStreamsLimitError,
    10037: MsgNotFoundError,
    10039: JetStreamNotEnabledForAccountError,
    10054: MessageSizeExceedsMaximumError,
    10058: StreamNameInUseError,
    10059: StreamNotFoundError,
    10060: ExpectedStreamMismatchError,
    10065: StreamSubjectOverlapError,
    10070: WrongLastMsgIdError,
    10071: WrongLastSequenceError,
    10076: JetStreamNotEnabledError,
    10077: StreamStoreFailedError,
    10109: StreamSealedError,
    10148: ConsumerAlreadyExistsError,
    10149: ConsumerDoesNotExistError,
    10158: DuplicateMessageInProcessError,
    10164: WrongLastSequenceError,
    10165: InvalidMsgTTLError,
    10166: MsgTTLDisabledError,
}


def api_error(code: int, err_code: int, description: str = "") -> APIError:
    """The :class:`APIError` subclass for ``err_code`` (a plain APIError when unknown)."""
    cls = _BY_ERR_CODE.get(err_code, APIError)
    return cls(code, err_code, description)


def _as_int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return 0


def api_error_from_json(error: Any) -> APIError:
    """Build the typed error from an API reply's ``error`` object."""
    if not isinstance(error, dict):
        return APIError(0, 0, f"malformed error in api response: {error!r}")
    desc = error.get("description")
    return api_error(
        _as_int(error.get("code")),
        _as_int(error.get("err_code")),
        desc if isinstance(desc, str) else "",
    )


# -------------------------------------------------------------- pull statuses


class PullStatusError(JetStreamError):
    """A pull request ended with an inline status (ADR-37 "status handling").

    ``status`` and ``description`` come from the status line; ``terminal`` is
    true when a continuous consume must stop (400, 409 Consumer Deleted, 409
    Consumer is push based).
    """

    terminal: bool = False

    def __init__(self, status: int, description: str = "") -> None:
        self.status = status
        self.description = description
        text = f"{status} {description}".strip()
        super().__init__(f"pull request ended with status {text}")


class NoMessagesError(PullStatusError):
    """404 No Messages: a ``no_wait`` pull found nothing to deliver."""


class PullRequestTimeoutError(PullStatusError):
    """408 Request Timeout (or Interest Expired): the pull request expired."""


class PullBadRequestError(PullStatusError):
    """400 Bad Request: the server rejected the pull request."""

    terminal = True


class ConsumerDeletedError(PullStatusError):
    """409 Consumer Deleted: the consumer is gone."""

    terminal = True


class NotPullConsumerError(PullStatusError):
    """409 Consumer is push based: the consumer cannot be pulled from."""

    terminal = True


class LeadershipChangedError(PullStatusError):
    """409 Leadership Change: pending pull requests were dropped; pull again."""


class MaxBytesExceededError(PullStatusError):
    """409 Message Size Exceeds MaxBytes: the next message does not fit ``max_bytes``."""


class BatchCompletedError(PullStatusError):
    """409 Batch Completed: the batch was delivered though ``max_bytes`` was not reached."""


class PullRequestRejectedError(PullStatusError):
    """409 Exceeded MaxWaiting / MaxRequestBatch / MaxRequestExpires / MaxRequestMaxBytes.

    The consumer's limits refused the pull request.
    """


class ServerShutdownError(PullStatusError):
    """409 Server Shutdown: the server is going away; pull again after reconnecting."""


class PinIdMismatchError(PullStatusError):
    """423 Nats-Wrong-Pin-Id: this client is no longer the pinned one of its priority group."""


# ------------------------------------------------------------------ replies


def check_response(reply: Msg | bytes, *, subject: str = "") -> dict[str, Any]:
    """Decode an API reply into a dict, raising the typed error it carries.

    Raises :class:`JetStreamNotEnabledError` for a 503 no-responders status
    (no JetStream, or a wrong domain/prefix), the :class:`APIError` subclass
    chosen by ``err_code`` when the reply has ``error``, and
    :class:`InvalidResponseError` when it is not a JSON object.
    ``subject`` (the request's) only improves the messages.
    """
    if isinstance(reply, Msg):
        if reply.is_no_responders:
            where = f" on {subject!r}" if subject else ""
            raise JetStreamNotEnabledError(
                503,
                10076,
                f"no responders for the jetstream api request{where}: JetStream is not "
                "enabled, or the domain or api prefix is wrong",
            )
        status = reply.status
        if status is not None and not reply.data:
            desc = reply.headers.description if reply.headers is not None else ""
            raise APIError(status, 0, desc or f"unexpected status {status} in api reply")
        data = reply.data
    else:
        data = reply
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidResponseError(
            f"invalid JSON in jetstream api response: {bytes(data[:64])!r}"
        ) from exc
    if not isinstance(obj, dict):
        raise InvalidResponseError(f"jetstream api response is not a JSON object: {obj!r:.64}")
    error = obj.get("error")
    if error is not None:
        raise api_error_from_json(error)
    return obj


# ------------------------------------------------------- push subscriptions


class _NamedConsumer(Protocol):
    """What a bind error needs of a consumer's info (ConsumerInfo is one)."""

    @property
    def stream_name(self) -> str: ...

    @property
    def name(self) -> str: ...


class ConsumerBindError(JetStreamError):
    """The consumer found by name cannot serve this push subscription; nothing was
    subscribed. ``stream`` and ``consumer`` name it; ``field`` is the
    :class:`ConsumerConfig` field (or ``push_bound``) at fault, ``requested``
    what the subscription needs there and ``actual`` what the consumer has."""

    def __init__(
        self, message: str, info: _NamedConsumer, field: str, requested: object, actual: object
    ) -> None:
        super().__init__(message)
        self.stream, self.consumer = info.stream_name, info.name
        self.field, self.requested, self.actual = field, requested, actual


class NotPushConsumerError(ConsumerBindError):
    """The consumer has no ``deliver_subject``: it is a pull consumer."""


class ConsumerAlreadyBoundError(ConsumerBindError):
    """The consumer has no deliver group and a subscription is bound to it (``push_bound``)."""


class DeliverGroupMismatchError(ConsumerBindError):
    """The subscription's queue group is not the consumer's ``deliver_group``."""


class FilterSubjectMismatchError(ConsumerBindError):
    """The consumer filters other subjects than the subscription asks for."""


class ConsumerConfigMismatchError(ConsumerBindError):
    """A setting the subscription asks for differs from the consumer's."""


class ConsumerSequenceMismatchError(JetStreamError):
    """An idle heartbeat says the consumer delivered up to ``last_consumer_sequence``
    but the last message received had ``consumer_sequence``: messages were lost.
    ``stream_resume_sequence`` is the last received one's stream sequence (as
    nats.go and nats.py give it). Not terminal: with acks, they come again."""

    def __init__(
        self, *, stream_resume_sequence: int, consumer_sequence: int, last_consumer_sequence: int
    ) -> None:
        super().__init__(
            f"consumer sequence mismatch: received up to consumer sequence {consumer_sequence} "
            f"but the consumer is at {last_consumer_sequence}: messages after stream sequence "
            f"{stream_resume_sequence} were lost"
        )
        self.stream_resume_sequence, self.consumer_sequence = (
            stream_resume_sequence,
            consumer_sequence,
        )
        self.last_consumer_sequence = last_consumer_sequence


# ------------------------------------- counters, atomic batches, schedules (2.12+)


class MsgCounterDisabledError(APIError):
    """10168: ``Nats-Incr`` on a stream that is not a counter stream
    (``allow_msg_counter``); also raised locally by ``js.counter()``."""


class MsgCounterIncrMissingError(APIError):
    """10169: a publish to a counter stream without ``Nats-Incr``."""


class MsgCounterPayloadError(APIError):
    """10170: a counter increment carried a body."""


class InvalidMsgCounterIncrError(APIError):
    """10171: the increment is not an integer, or is combined with a header
    counters refuse (``Nats-Rollup``, ``Nats-Expected-*``)."""


class MsgCounterBrokenError(APIError):
    """10172: the subject's stored value is not a counter value."""


class AtomicPublishDisabledError(APIError):
    """10174: the stream does not allow atomic batches (``allow_atomic``)."""


class BatchMissingSequenceError(APIError):
    """10175: a batch message lacks ``Nats-Batch-Sequence``."""


class BatchIncompleteError(APIError):
    """10176: the batch has a gap, an unknown id, or was abandoned (10 s without
    a message); nothing of it was stored."""


class BatchUnsupportedHeaderError(APIError):
    """10177: a header a batch may not carry (``Nats-Expected-Last-Msg-Id``)."""


class InvalidBatchIdError(APIError):
    """10179: the batch id is empty or longer than 64 characters."""


class BatchTooLargeError(APIError):
    """10199: the batch has more messages than the server allows (1000 by default)."""


class InvalidBatchCommitError(APIError):
    """10200: a ``Nats-Batch-Commit`` value other than ``1`` or ``eob``."""


class BatchDuplicateMsgIdError(APIError):
    """10201: two messages of the batch have the same ``Nats-Msg-Id``."""


class TooManyInflightBatchesError(APIError):
    """10210 (code 429): too many open atomic batches on the stream or server."""


class MsgSchedulesDisabledError(APIError):
    """10188: the stream does not allow message schedules (``allow_msg_schedules``)."""


class InvalidSchedulePatternError(APIError):
    """10189: the ``Nats-Schedule`` pattern is not valid (or not on this server version)."""


class InvalidScheduleTargetError(APIError):
    """10190: the target is missing, not literal, outside the stream, or the
    schedule's own subject."""


class InvalidScheduleTTLError(APIError):
    """10191: the ``Nats-Schedule-TTL`` is not valid (or the stream lacks ``allow_msg_ttl``)."""


class InvalidScheduleRollupError(APIError):
    """10192: ``Nats-Schedule-Rollup`` is not ``sub``."""


class InvalidScheduleSourceError(APIError):
    """10203: ``Nats-Schedule-Source`` is not a valid literal subject."""


class InvalidSchedulerError(APIError):
    """10212: a ``Nats-Scheduler`` / ``Nats-Schedule-Next`` publish the server refuses."""


class InvalidScheduleTimeZoneError(APIError):
    """10223: the schedule's time zone is empty, unknown, or not on a cron schedule."""


class BatchGetIncompleteError(JetStreamError):
    """A batch direct get ended without its end-of-batch marker (the connection
    closed, or the server stopped answering): the messages read so far are not
    the whole answer. ``received`` says how many there were."""

    def __init__(self, message: str, received: int = 0) -> None:
        super().__init__(message)
        self.received = received


class BatchGetTimeoutError(BatchGetIncompleteError, TimeoutError):
    """A batch direct get waited too long for its next message or end marker."""


class BatchGetUnsupportedError(JetStreamError):
    """The server answered a batch direct get as a single get (older than 2.11)."""


_BY_ERR_CODE.update(
    {
        10168: MsgCounterDisabledError,
        10169: MsgCounterIncrMissingError,
        10170: MsgCounterPayloadError,
        10171: InvalidMsgCounterIncrError,
        10172: MsgCounterBrokenError,
        10174: AtomicPublishDisabledError,
        10175: BatchMissingSequenceError,
        10176: BatchIncompleteError,
        10177: BatchUnsupportedHeaderError,
        10179: InvalidBatchIdError,
        10188: MsgSchedulesDisabledError,
        10189: InvalidSchedulePatternError,
        10190: InvalidScheduleTargetError,
        10191: InvalidScheduleTTLError,
        10192: InvalidScheduleRollupError,
        10199: BatchTooLargeError,
        10200: InvalidBatchCommitError,
        10201: BatchDuplicateMsgIdError,
        10203: InvalidScheduleSourceError,
        10210: TooManyInflightBatchesError,
        10212: InvalidSchedulerError,
        10223: InvalidScheduleTimeZoneError,
    }
)

__all__ += [
    "AtomicPublishDisabledError",
    "BatchDuplicateMsgIdError",
    "BatchGetIncompleteError",
    "BatchGetTimeoutError",
    "BatchGetUnsupportedError",
    "BatchIncompleteError",
    "BatchMissingSequenceError",
    "BatchTooLargeError",
    "BatchUnsupportedHeaderError",
    "InvalidBatchCommitError",
    "InvalidBatchIdError",
    "InvalidMsgCounterIncrError",
    "InvalidSchedulePatternError",
    "InvalidScheduleRollupError",
    "InvalidScheduleSourceError",
    "InvalidScheduleTTLError",
    "InvalidScheduleTargetError",
    "InvalidScheduleTimeZoneError",
    "InvalidSchedulerError",
    "MsgCounterBrokenError",
    "MsgCounterDisabledError",
    "MsgCounterIncrMissingError",
    "MsgCounterPayloadError",
    "MsgSchedulesDisabledError",
    "TooManyInflightBatchesError",
]


# ------------------------------------------------- fast-ingest batch publish (2.14)


class BatchPublishDisabledError(APIError):
    """10205: the stream does not allow fast-ingest batches (``allow_batched``)."""


class InvalidBatchPatternError(APIError):
    """10206: the fast batch's reply subject is malformed (an unknown operation,
    a start that is not sequence 1, an append at sequence 1)."""


class InvalidFastBatchIdError(APIError):
    """10207: the fast batch id (the token before the flow value) is longer
    than 64 characters."""


class UnknownBatchIdError(APIError):
    """10208: the server knows no open fast batch by that id (it committed,
    ended, or dropped it after 10 s without a message)."""


class MirrorWithBatchPublishError(APIError):
    """10209: a mirror cannot allow fast-ingest batches."""


class TooManyInflightFastBatchesError(TooManyInflightBatchesError):
    """10211 (code 429): too many open fast batches on the stream (1000) or the
    server (50 000)."""


class FastBatchError(JetStreamError):
    """A fast-ingest batch failed on the client's side of the protocol;
    ``seq`` is the last batch sequence sent, ``ack_seq`` the last acknowledged."""

    def __init__(self, message: str, *, seq: int = 0, ack_seq: int = 0) -> None:
        super().__init__(message)
        self.seq, self.ack_seq = seq, ack_seq


class FastBatchAckTimeoutError(FastBatchError, TimeoutError):
    """No flow acknowledgement (or final ack) came within the ack timeout,
    pings included: the publisher is closed. Messages up to ``ack_seq`` are
    persisted (with ``continue_on_gap``: some of them)."""


class FastBatchEndedError(FastBatchError):
    """The server ended the batch before the commit (a lost message with gap
    mode ``fail``, or a message that failed a check): ``ack`` is the final
    acknowledgement (``seq``/``count`` of what was stored, or ``None``) and
    ``cause`` the per-message error that ended it, if the server said."""

    def __init__(
        self,
        message: str,
        *,
        seq: int = 0,
        ack_seq: int = 0,
        ack: Any = None,
        cause: APIError | None = None,
    ) -> None:
        super().__init__(message, seq=seq, ack_seq=ack_seq)
        self.ack, self.cause = ack, cause


class FastBatchGapError(FastBatchError):
    """Batch messages ``first`` to ``last`` never reached the stream (reported
    to a fast publisher's ``error_cb``; with gap mode ``fail`` the batch ends)."""

    def __init__(
        self, message: str, *, seq: int = 0, ack_seq: int = 0, first: int = 0, last: int = 0
    ) -> None:
        super().__init__(message, seq=seq, ack_seq=ack_seq)
        self.first, self.last = first, last


class FastBatchCommitLostError(FastBatchError):
    """The commit's final acknowledgement was lost and the server no longer
    knows the batch (10208 to a ping): it committed it (most likely) or dropped
    it. Read the stream to find out; ``ack_seq`` was acknowledged for sure."""


_BY_ERR_CODE.update(
    {
        10205: BatchPublishDisabledError,
        10206: InvalidBatchPatternError,
        10207: InvalidFastBatchIdError,
        10208: UnknownBatchIdError,
        10209: MirrorWithBatchPublishError,
        10211: TooManyInflightFastBatchesError,
    }
)

__all__ += [
    "BatchPublishDisabledError",
    "FastBatchAckTimeoutError",
    "FastBatchCommitLostError",
    "FastBatchEndedError",
    "FastBatchError",
    "FastBatchGapError",
    "InvalidBatchPatternError",
    "InvalidFastBatchIdError",
    "MirrorWithBatchPublishError",
    "TooManyInflightFastBatchesError",
    "UnknownBatchIdError",
]

"""Ordered consumer (ADR-17, pull based as in nats.go's ``jetstream`` package).

An ordered consumer delivers a stream's messages in order, exactly once per
consumer sequence, with no server-side state the user must manage: it uses an
ephemeral, ack-none, memory-storage, single-replica consumer that it deletes
and recreates whenever ordering cannot be trusted: a gap in the consumer
sequence, missed heartbeats, the consumer deleted (409), a reconnect. The new
consumer starts at the last delivered stream sequence plus one.

:class:`OrderedConsumerState` decides; the adapter acts. For each consumer
it creates (each :class:`ResetPlan`) it runs a fresh
:class:`~nats_core.jetstream.pull.PullConsumeState` (``ordered=True``) or
:class:`~nats_core.jetstream.pull.FetchState`, passes the statuses and errors
of that pull state to :meth:`OrderedConsumerState.on_error`, and every message
the pull state delivers to :meth:`OrderedConsumerState.on_msg`. When told to
reset, it sends ``plan.delete`` (best effort) and ``plan.create``, retrying the
creation after :meth:`OrderedConsumerState.reset_delay` seconds on failure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from .._events import Msg
from .._subjects import check_subscribe_subject
from ._codec import seconds
from .api import JSApi
from .errors import (
    ConsumerDeletedError,
    ConsumerNotFoundError,
    InvalidOptionError,
    JetStreamError,
    MissedHeartbeatError,
    NotJetStreamMessageError,
    PullStatusError,
)
from .models import AckPolicy, ConsumerConfig, DeliverPolicy, ReplayPolicy
from .msg import MsgMetadata, is_status_message, parse_metadata
from .requests import (
    JSRequest,
    create_or_update_consumer,
    delete_consumer,
    validate_name,
    validate_stream_name,
)

__all__ = [
    "DEFAULT_INACTIVE_THRESHOLD",
    "OrderedConsumerState",
    "OrderedOutcome",
    "ResetPlan",
    "serial_from_name",
]

DEFAULT_INACTIVE_THRESHOLD = 300.0
"""Seconds an unused ordered consumer lives on the server (5 minutes)."""
_RESET_DELAY_FIRST, _RESET_DELAY_MAX = 1.0, 10.0


def serial_from_name(name: str) -> int:
    """The serial number at the end of an ordered consumer's name (``<prefix>_<n>``), or 0."""
    _, sep, tail = name.rpartition("_")
    return int(tail) if sep and tail.isdigit() else 0


@dataclass(frozen=True, slots=True)
class ResetPlan:
    """How to (re)create the ordered consumer.

    Send ``delete`` first if set (the previous consumer; errors do not
    matter), then ``create``; parse its reply with
    :func:`~nats_core.jetstream.requests.parse_consumer_info` and start pulling
    from ``name``. ``reason`` says why (``"start"``, ``"gap"``,
    ``"heartbeat"``, ``"deleted"``, ``"reconnect"``, ``"fetch"`` ...).
    """

    serial: int
    name: str
    config: ConsumerConfig
    create: JSRequest
    delete: JSRequest | None
    reason: str
    start_seq: int


@dataclass(frozen=True, slots=True)
class OrderedOutcome:
    """What to do with a message: ``deliver`` it, or drop it (stale or out of
    order); when ``reset`` is set, recreate the consumer from that plan."""

    deliver: bool = False
    metadata: MsgMetadata | None = None
    reset: ResetPlan | None = None
    error: JetStreamError | None = None


class OrderedConsumerState:
    """State of one ordered consumer: cursor, serial, consumer configuration.

    ``name_prefix`` should be unique (a NUID from the connection); consumers
    are named ``<name_prefix>_<serial>``. The first consumer honours
    ``deliver_policy`` (with ``opt_start_seq`` / ``opt_start_time``); once a
    message was delivered, every new consumer starts by sequence after it.
    """

    __slots__ = (
        "_api",
        "consumer_seq",
        "deliver_policy",
        "filter_subjects",
        "headers_only",
        "inactive_threshold",
        "max_reset_attempts",
        "metadata",
        "name",
        "name_prefix",
        "opt_start_seq",
        "opt_start_time",
        "replay_policy",
        "serial",
        "stream",
        "stream_seq",
    )

    def __init__(
        self,
        stream: str,
        *,
        name_prefix: str,
        filter_subjects: str | Sequence[str] | None = None,
        deliver_policy: DeliverPolicy = DeliverPolicy.ALL,
        opt_start_seq: int | None = None,
        opt_start_time: datetime | None = None,
        replay_policy: ReplayPolicy | None = None,
        inactive_threshold: timedelta | float = DEFAULT_INACTIVE_THRESHOLD,
        headers_only: bool = False,
        metadata: Mapping[str, str] | None = None,
        max_reset_attempts: int | None = None,
        api: JSApi | None = None,
    ) -> None:
        self.stream = validate_stream_name(stream)
        self.name_prefix = validate_name(name_prefix, "ordered consumer name prefix")
        if isinstance(filter_subjects, str):
            filter_subjects = [filter_subjects]
        self.filter_subjects = [check_subscribe_subject(s) for s in filter_subjects or ()]
        self.deliver_policy = DeliverPolicy(deliver_policy)
        if self.deliver_policy is DeliverPolicy.BY_START_SEQUENCE:
            if isinstance(opt_start_seq, bool) or not isinstance(opt_start_seq, int):
                raise InvalidOptionError("deliver policy by_start_sequence needs opt_start_seq")
            if opt_start_seq < 1:
                raise InvalidOptionError(f"opt_start_seq must be positive, not {opt_start_seq}")
        elif opt_start_seq is not None:
            raise InvalidOptionError("opt_start_seq needs deliver policy by_start_sequence")
        if self.deliver_policy is DeliverPolicy.BY_START_TIME and opt_start_time is None:
            raise InvalidOptionError("deliver policy by_start_time needs opt_start_time")
        if self.deliver_policy is not DeliverPolicy.BY_START_TIME and opt_start_time is not None:
            raise InvalidOptionError("opt_start_time needs deliver policy by_start_time")
        self.opt_start_seq = opt_start_seq
        self.opt_start_time = opt_start_time
        self.replay_policy = None if replay_policy is None else ReplayPolicy(replay_policy)
        try:
            self.inactive_threshold = seconds(inactive_threshold)
        except TypeError:
            raise InvalidOptionError(f"bad inactive_threshold {inactive_threshold!r}") from None
        if not self.inactive_threshold > 0 or math.isinf(self.inactive_threshold):
            raise InvalidOptionError(f"inactive_threshold must be positive: {inactive_threshold!r}")
        self.headers_only = headers_only
        self.metadata = dict(metadata) if metadata else None
        if max_reset_attempts is not None and max_reset_attempts < 1:
            raise InvalidOptionError("max_reset_attempts must be positive (None: no limit)")
        self.max_reset_attempts = max_reset_attempts
        self._api = api
        self.serial = 0
        self.name: str | None = None
        self.stream_seq = 0
        self.consumer_seq = 0

    # ------------------------------------------------------------ config
    def _next_config(self) -> tuple[ConsumerConfig, int]:
        self.serial += 1
        name = f"{self.name_prefix}_{self.serial}"
        cfg = ConsumerConfig(
            name=name,
            ack_policy=AckPolicy.NONE,
            inactive_threshold=timedelta(seconds=self.inactive_threshold),
            num_replicas=1,
            mem_storage=True,
            headers_only=self.headers_only or None,
            replay_policy=self.replay_policy,
            metadata=self.metadata,
        )
        if len(self.filter_subjects) == 1:
            cfg.filter_subject = self.filter_subjects[0]
        elif self.filter_subjects:
            cfg.filter_subjects = list(self.filter_subjects)
        if self.stream_seq:
            start = self.stream_seq + 1
            cfg.deliver_policy = DeliverPolicy.BY_START_SEQUENCE
            cfg.opt_start_seq = start
            return cfg, start
        cfg.deliver_policy = self.deliver_policy
        start = 0
        if self.deliver_policy is DeliverPolicy.BY_START_SEQUENCE:
            cfg.opt_start_seq = start = self.opt_start_seq or 1
        elif self.deliver_policy is DeliverPolicy.BY_START_TIME:
            cfg.opt_start_time = self.opt_start_time
        elif self.deliver_policy is DeliverPolicy.LAST_PER_SUBJECT and not self.filter_subjects:
            cfg.filter_subjects = [">"]
        return cfg, start

    def _plan(self, reason: str) -> ResetPlan:
        old = self.name
        cfg, start = self._next_config()
        assert cfg.name is not None
        self.name = cfg.name
        self.consumer_seq = 0
        return ResetPlan(
            serial=self.serial,
            name=cfg.name,
            config=cfg,
            create=create_or_update_consumer(self.stream, cfg, api=self._api),
            delete=None if old is None else delete_consumer(self.stream, old, api=self._api),
            reason=reason,
            start_seq=start,
        )

    def start(self) -> ResetPlan:
        """The plan creating the first consumer."""
        if self.name is not None:
            raise InvalidOptionError("this ordered consumer already started; use reset()")
        return self._plan("start")

    def reset(self, reason: str = "reset") -> ResetPlan:
        """Drop the current consumer and plan a new one from the last stream sequence + 1."""
        return self._plan(reason)

    def on_reconnect(self) -> ResetPlan:
        """The connection came back: recreate the consumer (it may be gone)."""
        return self._plan("reconnect")

    def begin_fetch(self) -> ResetPlan:
        """Each fetch of an ordered consumer uses a fresh consumer (as nats.go does)."""
        return self._plan("fetch")

    # ------------------------------------------------------------- input
    def on_msg(self, msg: Msg) -> OrderedOutcome:
        """Check a delivered message's order.

        Statuses are not for this method (feed them to the pull state first);
        they are dropped. A message of an older consumer is dropped. A gap in
        the consumer sequence drops the message and returns a reset plan.
        """
        if is_status_message(msg):
            return OrderedOutcome()
        try:
            meta = parse_metadata(msg.reply)
        except NotJetStreamMessageError as exc:
            return OrderedOutcome(error=exc)
        if meta.consumer != self.name:
            return OrderedOutcome(metadata=meta)
        if meta.sequence.consumer != self.consumer_seq + 1:
            return OrderedOutcome(metadata=meta, reset=self._plan("gap"))
        self.consumer_seq = meta.sequence.consumer
        self.stream_seq = meta.sequence.stream
        return OrderedOutcome(deliver=True, metadata=meta)

    @staticmethod
    def should_reset(error: BaseException) -> bool:
        """True for the errors after which the consumer must be recreated:
        missed heartbeats, consumer deleted or not found, no responders (503)."""
        if isinstance(error, MissedHeartbeatError | ConsumerDeletedError | ConsumerNotFoundError):
            return True
        return isinstance(error, PullStatusError) and error.status == 503

    def on_error(self, error: BaseException) -> ResetPlan | None:
        """A reset plan when ``error`` calls for one (see :meth:`should_reset`), else ``None``."""
        if not self.should_reset(error):
            return None
        reason = "heartbeat" if isinstance(error, MissedHeartbeatError) else "deleted"
        return self._plan(reason)

    def reset_delay(self, attempt: int) -> float | None:
        """Seconds to wait before creation attempt ``attempt`` (1, 2, ...) after a
        failure: 1 s doubling to 10 s; ``None`` once ``max_reset_attempts`` is spent."""
        if attempt < 1:
            return 0.0
        if self.max_reset_attempts is not None and attempt > self.max_reset_attempts:
            return None
        return min(_RESET_DELAY_FIRST * float(1 << min(attempt - 1, 16)), _RESET_DELAY_MAX)

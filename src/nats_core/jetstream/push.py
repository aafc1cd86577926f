"""Push consumers (``js.subscribe``): their rules and state, without the I/O (ADR-9, ADR-17).

The server pushes a push consumer's messages to its ``deliver_subject``,
with statuses in between (idle heartbeats, flow control requests). What
``js.subscribe()`` decides is decided here, as nats.go's ``js.go`` does; the
adapter sends the requests, subscribes and waits. :func:`build_push_subscribe`
plans (:class:`PushSubscribePlan`), :meth:`PushSubscribePlan.binding` checks a
consumer found and says where to subscribe (:class:`PushBinding`),
:class:`PushSubscriptionState` follows the messages, :func:`should_auto_ack`
is the callback auto-ack rule. The adapter's flow::

    plan = build_push_subscribe(subject, deliver_subject=nc.new_inbox(), ...)
    stream = plan.stream or <find the stream by subject>
    if plan.ordered:
        state = PushSubscriptionState.for_ordered(plan, stream, name_prefix=nuid, now=t)
        first = state.start()   # SUB first.config.deliver_subject, send first.create
    else:
        info = <CONSUMER.INFO of plan.lookup> if plan.lookup else None
        # not found and plan.bind: raise; not found: send plan.create_request(stream);
        # create failed and plan.lookup_after_create_error(err) names one: look it up
        binding = plan.binding(info, created=<whether the create made it>)
        state = PushSubscriptionState.for_binding(binding, now=t)
        # SUB binding.deliver_subject with binding.queue

The state is not thread-safe: call it under the subscription's lock.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from .._events import Msg
from .._subjects import check_publish_subject, check_queue, check_subscribe_subject
from ..errors import ConnectionReconnectingError
from ._codec import seconds
from .api import JSApi
from .errors import (
    APIError,
    ConsumerAlreadyBoundError,
    ConsumerConfigMismatchError,
    ConsumerSequenceMismatchError,
    DeliverGroupMismatchError,
    FilterSubjectMismatchError,
    InvalidOptionError,
    JetStreamError,
    JetStreamNotEnabledError,
    JetStreamNotEnabledForAccountError,
    MissedHeartbeatError,
    NotJetStreamMessageError,
    NotPushConsumerError,
)
from .models import AckPolicy, ConsumerConfig, ConsumerInfo, DeliverPolicy, ReplayPolicy
from .msg import JSStatus, MsgMetadata, StatusKind, jetstream_status, parse_metadata
from .ordered import ResetPlan
from .requests import (
    JSRequest,
    create_consumer,
    create_or_update_consumer,
    delete_consumer,
    validate_consumer_name,
    validate_name,
    validate_stream_name,
)

__all__ = [
    "HEARTBEAT_MISSES",
    "MIN_IDLE_HEARTBEAT",
    "ORDERED_ACK_WAIT",
    "ORDERED_HEARTBEAT",
    "PushBinding",
    "PushOutcome",
    "PushSubscribePlan",
    "PushSubscriptionState",
    "build_push_subscribe",
    "check_push_consumer",
    "should_auto_ack",
]

ORDERED_HEARTBEAT = 5.0
"""Idle heartbeat (seconds) of an ordered push consumer unless given (nats.go's)."""
ORDERED_ACK_WAIT = timedelta(hours=22)
"""``ack_wait`` nats.go gives an ordered consumer (unused: it takes no acks)."""
MIN_IDLE_HEARTBEAT = 0.1
"""The smallest ``idle_heartbeat`` the server accepts for a push consumer (seconds)."""
HEARTBEAT_MISSES = 2
"""Heartbeat intervals without any message before heartbeats count as missed."""
_EXISTS = frozenset({10013, 10105, 10148})  # name exists / exists and active / already exists
_RETRY_RESET = frozenset({10008, 10023})  # JetStream not available / insufficient resources


# ------------------------------------------------------------ options


def _seconds(value: timedelta | float, what: str, least: float = 0.0) -> float:
    try:
        s = seconds(value)
    except TypeError:
        raise InvalidOptionError(f"{what} must be seconds or a timedelta, not {value!r}") from None
    if not (s > 0 and s >= least) or math.isinf(s):
        at_least = f" and at least {least}s" if least else ""
        raise InvalidOptionError(f"{what} must be positive{at_least}, not {value!r}")
    return s


def should_auto_ack(*, manual_ack: bool, ack_policy: AckPolicy | str | None) -> bool:
    """Whether a callback subscription acks each message after its callback returns:
    unless ``manual_ack`` or the consumer's ``ack_policy`` is ``none`` (as nats.go
    wraps callbacks). Subscriptions without a callback never auto-ack. The adapter
    skips messages already acked and those without a ``$JS.ACK`` reply subject."""
    return not manual_ack and ack_policy != AckPolicy.NONE


# --------------------------------------------------------------- plans


@dataclass(frozen=True, slots=True)
class PushBinding:
    """Where a push subscription listens, once its consumer is known: subscribe to
    ``deliver_subject`` with ``queue``. ``idle_heartbeat`` (seconds), ``flow_control``,
    ``ack_policy`` and ``max_ack_pending`` (which may raise the pending limits) are
    the consumer's. ``created``: this subscription made the consumer, so
    unsubscribing and draining delete it (as nats.go does)."""

    stream: str
    consumer: str
    deliver_subject: str
    queue: str | None
    idle_heartbeat: float | None
    flow_control: bool
    ack_policy: AckPolicy | None
    max_ack_pending: int | None
    created: bool
    manual_ack: bool = False

    @property
    def auto_ack(self) -> bool:
        """:func:`should_auto_ack` for this subscription's consumer."""
        return should_auto_ack(manual_ack=self.manual_ack, ack_policy=self.ack_policy)


_CHECKED = (  # what nats.go's checkConfig compares, when the user set it
    "durable_name",
    "description",
    "deliver_policy",
    "opt_start_seq",
    "opt_start_time",
    "ack_policy",
    "ack_wait",
    "max_deliver",
    "replay_policy",
    "rate_limit_bps",
    "sample_freq",
    "max_waiting",
    "max_ack_pending",
    "flow_control",
    "idle_heartbeat",
    "num_replicas",
    "mem_storage",
)


def check_push_consumer(
    info: ConsumerInfo,
    *,
    subjects: str | Sequence[str] | None = None,
    queue: str | None = None,
    requested: ConsumerConfig | None = None,
) -> str:
    """Check that a push subscription may bind to the consumer ``info`` describes;
    return the consumer's deliver subject.

    ``subjects``: the filter the subscription wants (none: any); a consumer
    without a filter takes any. ``queue``: the subscription's queue group.
    ``requested``: settings the user asked for; each field nats.go compares
    (durable, description, start, acks, ``max_deliver``, replay, rate, sample,
    ``max_waiting``, ``max_ack_pending``, flow control, heartbeat, replicas,
    memory) that is set must equal the consumer's. Raises, in nats.go's order,
    :class:`FilterSubjectMismatchError`, :class:`NotPushConsumerError`,
    :class:`DeliverGroupMismatchError`, :class:`ConsumerAlreadyBoundError`,
    :class:`ConsumerConfigMismatchError`.
    """
    cfg = info.config
    what = f"consumer {info.name!r} of stream {info.stream_name!r}"
    filters = [cfg.filter_subject] if cfg.filter_subject else list(cfg.filter_subjects or ())
    wanted = [subjects] if isinstance(subjects, str) else list(subjects or ())
    if wanted and filters and set(wanted) != set(filters):
        text = f"cannot subscribe to {', '.join(wanted)}: {what} filters {', '.join(filters)}"
        raise FilterSubjectMismatchError(text, info, "filter_subjects", wanted, filters)
    if not cfg.deliver_subject:
        text = f"{what} is a pull consumer (it has no deliver_subject): use a pull subscription"
        raise NotPushConsumerError(text, info, "deliver_subject", "a subject", None)
    group = cfg.deliver_group
    if not group and queue:
        text = f"cannot create a queue subscription {queue!r}: {what} has no deliver group"
        raise DeliverGroupMismatchError(text, info, "deliver_group", queue, group)
    if not group and info.push_bound:
        text = f"{what} is already bound to a subscription (it has no deliver group)"
        raise ConsumerAlreadyBoundError(text, info, "push_bound", False, True)
    if group and queue != group:
        sub = f"queue subscription {queue!r}" if queue else "subscription without a queue group"
        text = f"cannot create a {sub}: {what} has deliver group {group!r}"
        raise DeliverGroupMismatchError(text, info, "deliver_group", queue, group)
    for field in _CHECKED if requested is not None else ():
        want, have = getattr(requested, field), getattr(cfg, field)
        if want and want != have:
            text = f"the subscription asks for {field}={want!r} but {what} has {have!r}"
            raise ConsumerConfigMismatchError(text, info, field, want, have)
    return cfg.deliver_subject


@dataclass(frozen=True, slots=True)
class PushSubscribePlan:
    """What :func:`build_push_subscribe` worked out.

    ``stream``: ``None`` when it must be found by ``subject``. ``lookup``: the
    consumer to look up first (``None``: create one); ``bind``: it must exist
    (a look-up that finds nothing is the error). ``config``: what to create
    (for an ordered consumer, the template of each one it creates).
    ``requested``: the settings the user asked for, checked against a consumer
    found. ``auto_ack``: see :func:`should_auto_ack` (before the consumer is known).
    """

    subject: str
    stream: str | None
    queue: str | None
    lookup: str | None
    bind: bool
    ordered: bool
    manual_ack: bool
    config: ConsumerConfig
    requested: ConsumerConfig

    @property
    def auto_ack(self) -> bool:
        """:func:`should_auto_ack` with the ack policy asked for."""
        return should_auto_ack(manual_ack=self.manual_ack, ack_policy=self.config.ack_policy)

    def create_request(self, stream: str, *, api: JSApi | None = None) -> JSRequest:
        """``CONSUMER.CREATE`` (action ``create``) for :attr:`config`; parse the reply
        with :func:`~nats_core.jetstream.requests.parse_consumer_info`."""
        if self.config.flow_control and not self.config.idle_heartbeat:
            raise InvalidOptionError(
                "flow_control needs idle_heartbeat (the server refuses it, err_code 10108)"
            )
        return create_consumer(stream, self.config, api=api)

    def lookup_after_create_error(self, error: BaseException) -> str | None:
        """The consumer to look up (then :meth:`binding`) when creating failed because
        it exists already (err_code 10013, 10105, 10148); ``None``: ``error`` is final."""
        if not isinstance(error, APIError) or error.err_code not in _EXISTS:
            return None
        return self.lookup or self.config.name or self.config.durable_name

    def binding(self, info: ConsumerInfo, *, created: bool = False) -> PushBinding:
        """Where to subscribe for the consumer ``info`` describes.

        Unless ``created`` (this subscription just made it), the consumer is
        checked first (:func:`check_push_consumer`), raising a
        :class:`ConsumerBindError` when it cannot be used.
        """
        cfg = info.config
        if not created:
            own = self.config
            wanted = own.filter_subjects or ([own.filter_subject] if own.filter_subject else None)
            check_push_consumer(info, subjects=wanted, queue=self.queue, requested=self.requested)
        hb = cfg.idle_heartbeat
        return PushBinding(
            stream=info.stream_name,
            consumer=info.name,
            deliver_subject=cfg.deliver_subject or self.config.deliver_subject or "",
            queue=self.queue,
            idle_heartbeat=hb.total_seconds() if hb else None,
            flow_control=bool(cfg.flow_control),
            ack_policy=cfg.ack_policy,
            max_ack_pending=cfg.max_ack_pending,
            created=created,
            manual_ack=self.manual_ack,
        )


def build_push_subscribe(
    subject: str,
    *,
    deliver_subject: str,
    queue: str | None = None,
    durable: str | None = None,
    stream: str | None = None,
    consumer: str | None = None,
    deliver_policy: DeliverPolicy | str | None = None,
    opt_start_seq: int | None = None,
    opt_start_time: datetime | None = None,
    ack_policy: AckPolicy | str | None = None,
    manual_ack: bool = False,
    ordered_consumer: bool = False,
    idle_heartbeat: timedelta | float | None = None,
    flow_control: bool = False,
    headers_only: bool | None = None,
    inactive_threshold: timedelta | float | None = None,
    config: ConsumerConfig | None = None,
) -> PushSubscribePlan:
    """Check the options of ``js.subscribe(subject, ...)`` and plan it as nats.go does.

    ``deliver_subject``: a new inbox (unless ``config`` names one). ``queue``
    is the ``deliver_group`` and, without ``durable``, ``consumer`` or
    ``config.name``, the durable name. ``stream`` + ``consumer`` bind to an
    existing consumer; ``durable`` is looked up, created when missing.
    Keywords override ``config``'s fields. A created consumer filters
    ``subject``, delivers all, acks explicitly and replays instantly unless
    told otherwise; ``opt_start_seq`` / ``opt_start_time`` imply their policy.
    ``ordered_consumer``: ephemeral, ack none, flow control, heartbeats (5 s
    unless given), ``max_deliver`` 1, ``ack_wait`` 22 h, one replica in memory.
    ``config.ack_policy`` is ``explicit`` by default, so only ``ack_policy=``
    or another value there counts as asked for.

    Raises :class:`InvalidOptionError` for a queue with heartbeats or flow
    control, a consumer to bind without its stream, two consumer names, a
    subject with ``config.filter_subjects`` or another ``filter_subject``, an
    ordered consumer with a queue, durable, consumer, deliver subject, ack
    policy or ``max_deliver`` but 1; ``InvalidNameError`` / ``BadSubjectError``.
    """
    base = config if config is not None else ConsumerConfig()
    if subject:
        check_subscribe_subject(subject)
    elif stream is None:
        raise InvalidOptionError("a subject is needed (or the stream to bind to)")
    if stream is not None:
        validate_stream_name(stream)
    if consumer is not None and stream is None:
        raise InvalidOptionError(f"binding to consumer {consumer!r} needs its stream: give stream=")
    durable = durable if durable is not None else base.durable_name
    for name in (consumer, durable):
        if name is not None:
            validate_consumer_name(name)
    if consumer is not None and durable is not None and durable != consumer:
        raise InvalidOptionError(f"two consumer names: durable {durable!r}, consumer {consumer!r}")
    queue = queue or base.deliver_group or None
    if queue is not None:
        check_queue(queue)
    hb = idle_heartbeat if idle_heartbeat is not None else base.idle_heartbeat
    hb_s = None if hb is None else _seconds(hb, "idle_heartbeat", MIN_IDLE_HEARTBEAT)
    fc = flow_control or bool(base.flow_control)
    if queue and (hb_s is not None or fc):
        raise InvalidOptionError(
            "a queue subscription takes no idle_heartbeat nor flow_control: "
            "the group's members each see only some of the messages"
        )
    if queue and consumer is None and durable is None and not base.name:
        durable = validate_name(queue, "queue group (the durable name of a queue subscription)")
    seq = opt_start_seq if opt_start_seq is not None else base.opt_start_seq
    start_time = opt_start_time if opt_start_time is not None else base.opt_start_time
    asked = deliver_policy or base.deliver_policy  # else implied by a start (the server checks)
    if asked is None and (seq is not None or start_time is not None):
        asked = DeliverPolicy.BY_START_SEQUENCE if seq is not None else DeliverPolicy.BY_START_TIME
    policy = None if asked is None else DeliverPolicy(asked)
    acks = None if ack_policy is None else AckPolicy(ack_policy)
    if acks is None and config is not None and config.ack_policy is not AckPolicy.EXPLICIT:
        acks = config.ack_policy
    refused = {
        "queue group": queue is not None,
        "durable name": durable is not None,
        "consumer to bind": consumer is not None,
        "deliver subject": bool(base.deliver_subject),
        f"ack policy {acks}": acks not in (None, AckPolicy.NONE),
        f"max_deliver {base.max_deliver}": base.max_deliver not in (None, 0, 1),
    }
    for what, bad in refused.items() if ordered_consumer else ():
        if bad:
            raise InvalidOptionError(f"an ordered consumer takes no {what}")
    filters = base.filter_subject
    if subject and base.filter_subjects:
        raise InvalidOptionError("give a subject or config.filter_subjects, not both")
    if subject and filters and filters != subject:
        raise InvalidOptionError(
            f"subject {subject!r} and config.filter_subject {filters!r} differ"
        )
    deliver = check_publish_subject(base.deliver_subject or deliver_subject, "deliver subject")
    requested = replace(  # what the user set, compared with a consumer found (_CHECKED)
        base,
        extra=dict(base.extra),
        durable_name=durable,
        deliver_subject=deliver,
        deliver_group=queue,
        filter_subject=subject or filters or None,
        deliver_policy=policy,
        opt_start_seq=seq,
        opt_start_time=start_time,
        ack_policy=acks,
        idle_heartbeat=None if hb_s is None else timedelta(seconds=hb_s),
        flow_control=fc or None,
    )
    cfg = replace(
        requested,
        extra=dict(base.extra),
        deliver_policy=policy or DeliverPolicy.ALL,
        ack_policy=acks or base.ack_policy,
        replay_policy=base.replay_policy or ReplayPolicy.INSTANT,
    )
    if headers_only is not None:
        cfg.headers_only = headers_only or None
    if inactive_threshold is not None:
        threshold = _seconds(inactive_threshold, "inactive_threshold")
        cfg.inactive_threshold = timedelta(seconds=threshold)
    if ordered_consumer:
        cfg.flow_control = True
        cfg.ack_policy = AckPolicy.NONE
        cfg.max_deliver = 1
        cfg.ack_wait = ORDERED_ACK_WAIT
        cfg.num_replicas = 1
        cfg.mem_storage = True
        cfg.idle_heartbeat = timedelta(seconds=ORDERED_HEARTBEAT if hb_s is None else hb_s)
    return PushSubscribePlan(
        subject=subject,
        stream=stream,
        queue=queue,
        lookup=None if ordered_consumer else consumer or durable,
        bind=consumer is not None,
        ordered=ordered_consumer,
        manual_ack=manual_ack,
        config=cfg,
        requested=requested,
    )


# --------------------------------------------------------------- state


@dataclass(frozen=True, slots=True)
class PushOutcome:
    """What the adapter does with one message (or after :meth:`PushSubscriptionState.check`).

    ``deliver``: hand the message to the user (then call ``on_delivered``), else
    drop it. ``respond_to``: publish an empty message there now. ``reset``:
    re-create the ordered consumer (UNSUB the old deliver subject, SUB
    ``reset.config.deliver_subject``, send ``reset.delete`` without waiting, then
    ``reset.create``). ``error``: report it; the subscription goes on.
    ``status``: the status message received, if it was one."""

    deliver: bool = False
    metadata: MsgMetadata | None = None
    respond_to: str = ""
    reset: ResetPlan | None = None
    error: JetStreamError | None = None
    status: JSStatus | None = None


_NOTHING = PushOutcome()


class PushSubscriptionState:
    """The state of one push subscription: sequences, flow control, heartbeats.

    Feed :meth:`on_message` every message in the order received; call
    :meth:`on_delivered` when one it said to deliver was handed to the user (or
    dropped by pending limits), :meth:`check` at :attr:`deadline`.

    A flow control request is answered once every data message received
    before it was handed over (nats.go counts alike); ``Nats-Consumer-Stalled``
    at once. Nothing for :data:`HEARTBEAT_MISSES` heartbeat intervals gives
    :class:`MissedHeartbeatError` (again each such interval); a heartbeat's
    ``Nats-Last-Consumer`` other than the last consumer sequence received gives
    :class:`ConsumerSequenceMismatchError`, once (nats.go repeats it).

    Ordered (given the ``template`` of its consumers and a unique ``name_prefix``,
    a NUID): consumers ``<name_prefix>_<n>`` deliver to ``deliver_subject``, then
    ``<deliver_subject>.<n>``. A gap, a heartbeat mismatch, missed heartbeats
    and a reconnect re-create it from the last stream sequence received + 1
    (the original deliver policy while none was). An earlier consumer's
    messages are dropped. :meth:`is_retryable_reset_error` says whether a
    failed creation waits for the next reset (missed heartbeats) or ends it.
    """

    __slots__ = (
        "_api",
        "_base_subject",
        "_connected",
        "_deadline",
        "_fc",
        "_template",
        "closed",
        "consumer",
        "consumer_seq",
        "deliver_subject",
        "delivered",
        "idle_heartbeat",
        "last_activity",
        "name_prefix",
        "ordered",
        "received",
        "serial",
        "stream",
        "stream_seq",
    )

    def __init__(
        self,
        stream: str,
        *,
        deliver_subject: str,
        now: float,
        consumer: str | None = None,
        idle_heartbeat: timedelta | float | None = None,
        template: ConsumerConfig | None = None,
        name_prefix: str | None = None,
        api: JSApi | None = None,
    ) -> None:
        self.stream = validate_stream_name(stream)
        self.deliver_subject = check_publish_subject(deliver_subject, "deliver subject")
        self._base_subject = deliver_subject
        self.ordered = template is not None
        self._template = template
        self.name_prefix = None
        if template is not None:
            self.name_prefix = validate_name(name_prefix, "ordered consumer name prefix")
            if idle_heartbeat is None:
                idle_heartbeat = template.idle_heartbeat or ORDERED_HEARTBEAT
        hb = None if idle_heartbeat is None else _seconds(idle_heartbeat, "idle_heartbeat")
        self.idle_heartbeat = hb
        self.consumer = consumer
        self._api = api
        self.serial = 0
        self.consumer_seq = 0
        self.stream_seq = 0
        self.received = 0  # data messages said to deliver
        self.delivered = 0  # of which handed to the user
        self._fc: deque[tuple[int, str]] = deque()  # (received before it, reply)
        self.closed = False
        self._connected = True
        self._deadline: float | None = None
        self.last_activity = now
        self._active(now)

    @classmethod
    def for_binding(cls, binding: PushBinding, *, now: float) -> PushSubscriptionState:
        """The state of a subscription to the consumer of ``binding``."""
        return cls(
            binding.stream,
            deliver_subject=binding.deliver_subject,
            now=now,
            consumer=binding.consumer,
            idle_heartbeat=binding.idle_heartbeat,
        )

    @classmethod
    def for_ordered(
        cls,
        plan: PushSubscribePlan,
        stream: str,
        *,
        name_prefix: str,
        now: float,
        api: JSApi | None = None,
    ) -> PushSubscriptionState:
        """The state of an ordered subscription planned by ``plan``; call :meth:`start`."""
        if not plan.ordered:
            raise InvalidOptionError("this plan is not for an ordered consumer")
        return cls(
            stream,
            deliver_subject=plan.config.deliver_subject or "",
            now=now,
            template=plan.config,
            name_prefix=name_prefix,
            api=api,
        )

    # ---------------------------------------------------------- resets
    def _active(self, now: float) -> None:
        self.last_activity = now
        hb = self.idle_heartbeat
        self._deadline = None if hb is None else now + HEARTBEAT_MISSES * hb

    def reset(
        self, now: float | None, reason: str = "reset", *, deliver_subject: str | None = None
    ) -> ResetPlan:
        """Re-create the ordered consumer from the last stream sequence received + 1,
        delivering to ``deliver_subject`` if given; ``now`` restarts the heartbeat watch."""
        template = self._template
        if template is None:
            raise InvalidOptionError("only an ordered consumer is reset")
        old = self.consumer
        self.serial += 1
        name = f"{self.name_prefix}_{self.serial}"
        base = self._base_subject
        deliver_subject = deliver_subject or (f"{base}.{self.serial}" if self.serial > 1 else base)
        cfg = replace(
            template,
            extra=dict(template.extra),
            name=name,
            deliver_subject=check_publish_subject(deliver_subject, "deliver subject"),
        )
        start = 0
        if self.stream_seq:
            start = self.stream_seq + 1
            cfg.deliver_policy = DeliverPolicy.BY_START_SEQUENCE
            cfg.opt_start_seq = start
            cfg.opt_start_time = None
        elif cfg.deliver_policy is DeliverPolicy.BY_START_SEQUENCE:
            start = cfg.opt_start_seq or 0
        self.consumer = name
        self.deliver_subject = deliver_subject
        self.consumer_seq = 0
        self._fc.clear()  # the old consumer's requests: it is being deleted
        if now is not None:
            self._active(now)
        return ResetPlan(
            serial=self.serial,
            name=name,
            config=cfg,
            create=create_or_update_consumer(self.stream, cfg, api=self._api),
            delete=None if old is None else delete_consumer(self.stream, old, api=self._api),
            reason=reason,
            start_seq=start,
        )

    def start(self) -> ResetPlan:
        """The plan creating an ordered subscription's first consumer."""
        if self.serial:
            raise InvalidOptionError("this ordered consumer already started; use reset()")
        return self.reset(None, "start")

    @staticmethod
    def is_retryable_reset_error(error: BaseException) -> bool:
        """True when creating an ordered consumer failed for a passing reason
        (timeout, connection lost, JetStream not enabled or not available,
        insufficient resources): the next missed heartbeats reset again.
        Otherwise the subscription ends with ``error`` (nats.go's rule)."""
        if isinstance(error, TimeoutError | ConnectionReconnectingError):
            return True
        if isinstance(error, JetStreamNotEnabledError):
            return not isinstance(error, JetStreamNotEnabledForAccountError)
        return isinstance(error, APIError) and error.err_code in _RETRY_RESET

    # ----------------------------------------------------------- input
    def on_message(self, msg: Msg, now: float) -> PushOutcome:
        """Classify one message of the subscription and say what to do with it."""
        if self.closed:
            return _NOTHING
        status = jetstream_status(msg)
        if status is None:
            return self._on_data(msg, now)
        if self.ordered and msg.subject and msg.subject != self.deliver_subject:
            return PushOutcome(status=status)  # an earlier consumer's
        self._active(now)
        if status.kind is StatusKind.IDLE_HEARTBEAT:
            return self._on_heartbeat(status, now)
        if status.kind is StatusKind.FLOW_CONTROL and status.reply:
            if self.delivered >= self.received:
                return PushOutcome(status=status, respond_to=status.reply)
            self._fc.append((self.received, status.reply))
        return PushOutcome(status=status)  # other statuses are not for push consumers

    def _on_data(self, msg: Msg, now: float) -> PushOutcome:
        try:
            meta: MsgMetadata | None = parse_metadata(msg.reply)
        except NotJetStreamMessageError:
            meta = None  # delivered as nats.go does, without sequences
        if meta is not None and self.ordered:
            if meta.consumer != self.consumer:
                return PushOutcome(metadata=meta)  # an earlier consumer's
            if meta.sequence.consumer != self.consumer_seq + 1:
                return PushOutcome(metadata=meta, reset=self.reset(now, "gap"))
        self._active(now)
        if meta is not None:
            self.consumer_seq = meta.sequence.consumer
            self.stream_seq = meta.sequence.stream
        self.received += 1
        return PushOutcome(deliver=True, metadata=meta)

    def _on_heartbeat(self, status: JSStatus, now: float) -> PushOutcome:
        stalled = status.reply
        if stalled:
            self._fc = deque(entry for entry in self._fc if entry[1] != stalled)
        last = status.last_consumer
        if not self.consumer_seq or last is None or last == self.consumer_seq:
            return PushOutcome(status=status, respond_to=stalled)
        if self.ordered:
            return PushOutcome(status=status, respond_to=stalled, reset=self.reset(now, "mismatch"))
        error = ConsumerSequenceMismatchError(
            stream_resume_sequence=self.stream_seq,
            consumer_sequence=self.consumer_seq,
            last_consumer_sequence=last,
        )
        self.consumer_seq = last  # report it once
        return PushOutcome(status=status, respond_to=stalled, error=error)

    def on_delivered(self) -> tuple[str, ...]:
        """A message :meth:`on_message` said to deliver was handed to the user (or
        dropped): the flow control replies now due, to publish empty, in order."""
        self.delivered += 1
        due: list[str] = []
        while self._fc and self._fc[0][0] <= self.delivered:
            due.append(self._fc.popleft()[1])
        return tuple(due)

    # ---------------------------------------------------------- timers
    @property
    def deadline(self) -> float | None:
        """When :meth:`check` must run next; ``None`` without heartbeats, while
        disconnected, or once stopped."""
        if self.closed or not self._connected:
            return None
        return self._deadline

    def check(self, now: float) -> PushOutcome | None:
        """At ``now``: :class:`MissedHeartbeatError` when nothing came for
        :data:`HEARTBEAT_MISSES` heartbeat intervals (with a reset plan for an
        ordered consumer), else ``None``. The watch starts over from ``now``."""
        deadline = self.deadline
        if deadline is None or now < deadline:
            return None
        hb = self.idle_heartbeat or 0.0
        silent = f"{self.consumer!r} of stream {self.stream!r} for {HEARTBEAT_MISSES * hb:g}s"
        error = MissedHeartbeatError(
            f"nothing from consumer {silent}: it may be gone, or the connection stalled"
        )
        if self.ordered:
            return PushOutcome(error=error, reset=self.reset(now, "heartbeat"))
        self._active(now)
        return PushOutcome(error=error)

    def on_disconnect(self) -> None:
        """The connection dropped: pause the heartbeat watch."""
        self._connected = False

    def on_reconnect(self, now: float) -> ResetPlan | None:
        """The connection is back: restart the heartbeat watch; an ordered consumer
        is re-created (the plan), as the server may have lost it."""
        self._connected = True
        if self.closed:
            return None
        self._active(now)
        return self.reset(now, "reconnect") if self.ordered else None

    def stop(self) -> None:
        """The subscription ended: later messages are dropped, no timer runs."""
        self.closed = True
        self._fc.clear()

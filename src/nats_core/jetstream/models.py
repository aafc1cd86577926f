"""JetStream models: stream and consumer configurations and infos, account info, acks.

Every model is a slotted dataclass with ``from_json(dict)`` and ``to_json()``.
Field names are the JSON keys of the JetStream API (ADR-1), so the NATS
documentation's words work here. Durations are :class:`datetime.timedelta`,
times aware :class:`datetime.datetime` (UTC), enums :class:`enum.StrEnum`.

Optional fields default to ``None`` and ``to_json`` omits them, so a config
holds only what its author set and the server fills in its defaults. One
exception: :attr:`ConsumerConfig.ack_policy` defaults to ``explicit`` (the
server's default, ``none``, takes no acks), as in nats.go and nats-py. Unknown
keys from newer servers land in ``extra`` and go back out unchanged.
"""

# Every field is declared with fld(), which wraps dataclasses.field() to attach
# the JSON codec; RUF009 cannot see that it returns a Field, not a default value.
# ruff: noqa: RUF009

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Self

from .._headers import Headers
from ..errors import ConfigTypeError
from ._codec import (
    BASE64,
    BASE64_HEADERS,
    BOOL,
    DURATION,
    DURATION_LIST,
    INT,
    INT_LIST,
    INT_MAP,
    STR,
    STR_LIST,
    STR_MAP,
    TIME,
    Model,
    _EnumCodec,
    _ListCodec,
    _ModelCodec,
    enum,
    extra_field,
    fld,
    model,
    model_map,
    models,
)

__all__ = [
    "APIStats",
    "AccountInfo",
    "AccountLimits",
    "AccountTier",
    "AckPolicy",
    "ClusterInfo",
    "ConsumerConfig",
    "ConsumerInfo",
    "ConsumerPauseResponse",
    "DeliverPolicy",
    "DiscardPolicy",
    "ExternalStream",
    "PeerInfo",
    "Placement",
    "PriorityGroupState",
    "PriorityPolicy",
    "PubAck",
    "RawStreamMsg",
    "RePublish",
    "ReplayPolicy",
    "RetentionPolicy",
    "SequenceInfo",
    "StorageType",
    "StoreCompression",
    "StoredMsg",
    "StreamConfig",
    "StreamConsumerLimits",
    "StreamInfo",
    "StreamSource",
    "StreamSourceInfo",
    "StreamState",
    "SubjectTransform",
]


# ------------------------------------------------- configs given loosely


def _normalize(obj: Model) -> None:
    """Give a config's fields the types they are declared with, where the
    value given says plainly what it means.

    A list field given one item holds a one-item list: ``subjects="orders.*"``
    becomes ``["orders.*"]`` (a ``str`` is never taken for its characters) and
    ``sources=StreamSource(...)`` a list of it; a ``str`` where the list holds
    no strings (``sources="A"``) raises a :class:`TypeError` naming the field.
    An enum field given its value (``storage="memory"``) holds the enum member
    (an unknown value is left for the request to reject, as before); a
    duration given in seconds (``ack_wait=10``) holds a timedelta.

    Called by the configs' ``__post_init__``, so by their constructors,
    ``dataclasses.replace`` and the clients' ``create_stream(**fields)``.
    """
    for name, _key, codec in obj._fields():
        value = getattr(obj, name)
        if value is None:
            continue
        if isinstance(codec, _ListCodec):
            if isinstance(value, str):
                if codec is not STR_LIST:
                    raise ConfigTypeError(
                        f"{type(obj).__name__}.{name} must be a list, not the string {value!r}"
                    )
                setattr(obj, name, [value])
            elif isinstance(value, Model) and isinstance(codec.inner, _ModelCodec):
                setattr(obj, name, [value])
            elif codec is DURATION_LIST and isinstance(value, list):
                setattr(obj, name, [_seconds(v) for v in value])
        elif isinstance(codec, _EnumCodec):
            if isinstance(value, str) and not isinstance(value, codec.enum):
                with contextlib.suppress(ValueError):
                    setattr(obj, name, codec.decode(value))
        elif codec is DURATION:
            setattr(obj, name, _seconds(value))


def _seconds(value: Any) -> Any:
    """A number of seconds as a timedelta; anything else as it is."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    return value


# -------------------------------------------------------------------- enums


class RetentionPolicy(StrEnum):
    """When a stream may drop messages (``retention``)."""

    LIMITS = "limits"
    INTEREST = "interest"
    WORK_QUEUE = "workqueue"


class DiscardPolicy(StrEnum):
    """What a full stream discards (``discard``)."""

    OLD = "old"
    NEW = "new"


class StorageType(StrEnum):
    """Where a stream keeps its messages (``storage``)."""

    FILE = "file"
    MEMORY = "memory"


class StoreCompression(StrEnum):
    """On-disk compression of a file stream (``compression``)."""

    NONE = "none"
    S2 = "s2"


class DeliverPolicy(StrEnum):
    """Where a consumer starts (``deliver_policy``)."""

    ALL = "all"
    LAST = "last"
    NEW = "new"
    BY_START_SEQUENCE = "by_start_sequence"
    BY_START_TIME = "by_start_time"
    LAST_PER_SUBJECT = "last_per_subject"


class AckPolicy(StrEnum):
    """How a consumer's messages are acknowledged (``ack_policy``)."""

    NONE = "none"
    ALL = "all"
    EXPLICIT = "explicit"
    FLOW_CONTROL = "flow_control"


class ReplayPolicy(StrEnum):
    """How fast a consumer replays stored messages (``replay_policy``)."""

    INSTANT = "instant"
    ORIGINAL = "original"


class PriorityPolicy(StrEnum):
    """How a pull consumer's priority groups share its messages (``priority_policy``, ADR-42).

    ``overflow`` and ``pinned_client`` need server 2.11, ``prioritized`` 2.12.
    """

    NONE = "none"
    """No priority groups (the server's default)."""
    OVERFLOW = "overflow"
    """A pull with ``min_pending`` / ``min_ack_pending`` is served only past those thresholds."""
    PINNED_CLIENT = "pinned_client"
    """One client (the pinned one) gets every message; the others stand by."""
    PRIORITIZED = "prioritized"
    """Pulls with a lower ``priority`` (0-9) are served first (server 2.12+)."""


# ---------------------------------------------------- stream config parts


@dataclass(slots=True)
class SubjectTransform(Model):
    """A subject transform: messages on ``src`` are stored as ``dest``."""

    src: str | None = fld(STR)
    dest: str | None = fld(STR)
    extra: dict[str, Any] = extra_field()


@dataclass(slots=True)
class RePublish(Model):
    """Republish stored messages from ``src`` to ``dest`` (optionally headers only)."""

    src: str | None = fld(STR)
    dest: str | None = fld(STR)
    headers_only: bool | None = fld(BOOL)
    extra: dict[str, Any] = extra_field()


@dataclass(slots=True)
class Placement(Model):
    """Where a stream's replicas go: a cluster, server tags, a preferred leader."""

    cluster: str | None = fld(STR)
    tags: list[str] | None = fld(STR_LIST)
    preferred: str | None = fld(STR)
    extra: dict[str, Any] = extra_field()

    def __post_init__(self) -> None:
        _normalize(self)


@dataclass(slots=True)
class ExternalStream(Model):
    """A stream in another account or domain: its API prefix and delivery prefix."""

    api: str | None = fld(STR)
    deliver: str | None = fld(STR)
    extra: dict[str, Any] = extra_field()


@dataclass(slots=True)
class StreamSource(Model):
    """A mirror or source of a stream."""

    name: str = fld(STR, default="")
    opt_start_seq: int | None = fld(INT)
    opt_start_time: datetime | None = fld(TIME)
    filter_subject: str | None = fld(STR)
    subject_transforms: list[SubjectTransform] | None = fld(models(SubjectTransform))
    external: ExternalStream | None = fld(model(ExternalStream))
    extra: dict[str, Any] = extra_field()

    def __post_init__(self) -> None:
        _normalize(self)


@dataclass(slots=True)
class StreamConsumerLimits(Model):
    """Defaults and limits a stream imposes on its consumers."""

    inactive_threshold: timedelta | None = fld(DURATION)
    max_ack_pending: int | None = fld(INT)
    extra: dict[str, Any] = extra_field()


@dataclass(slots=True)
class StreamConfig(Model):
    """A stream's configuration (``STREAM.CREATE`` / ``STREAM.UPDATE`` body, ``config`` of info).

    Only ``name`` is required; unset fields are left to the server's defaults
    (limits retention, file storage, discard old, unlimited sizes, one replica).
    """

    name: str = fld(STR, default="")
    description: str | None = fld(STR)
    subjects: list[str] | None = fld(STR_LIST)
    retention: RetentionPolicy | None = fld(enum(RetentionPolicy))
    max_consumers: int | None = fld(INT)
    max_msgs: int | None = fld(INT)
    max_bytes: int | None = fld(INT)
    discard: DiscardPolicy | None = fld(enum(DiscardPolicy))
    discard_new_per_subject: bool | None = fld(BOOL)
    max_age: timedelta | None = fld(DURATION)
    max_msgs_per_subject: int | None = fld(INT)
    max_msg_size: int | None = fld(INT)
    storage: StorageType | None = fld(enum(StorageType))
    num_replicas: int | None = fld(INT)
    no_ack: bool | None = fld(BOOL)
    duplicate_window: timedelta | None = fld(DURATION)
    placement: Placement | None = fld(model(Placement))
    mirror: StreamSource | None = fld(model(StreamSource))
    sources: list[StreamSource] | None = fld(models(StreamSource))
    sealed: bool | None = fld(BOOL)
    deny_delete: bool | None = fld(BOOL)
    deny_purge: bool | None = fld(BOOL)
    allow_rollup_hdrs: bool | None = fld(BOOL)
    allow_direct: bool | None = fld(BOOL)
    mirror_direct: bool | None = fld(BOOL)
    republish: RePublish | None = fld(model(RePublish))
    subject_transform: SubjectTransform | None = fld(model(SubjectTransform))
    compression: StoreCompression | None = fld(enum(StoreCompression))
    first_seq: int | None = fld(INT)
    consumer_limits: StreamConsumerLimits | None = fld(model(StreamConsumerLimits))
    metadata: dict[str, str] | None = fld(STR_MAP)
    allow_msg_ttl: bool | None = fld(BOOL)
    subject_delete_marker_ttl: timedelta | None = fld(DURATION)
    allow_msg_counter: bool | None = fld(BOOL)
    allow_atomic: bool | None = fld(BOOL)
    allow_msg_schedules: bool | None = fld(BOOL)
    allow_batched: bool | None = fld(BOOL)
    extra: dict[str, Any] = extra_field()

    def __post_init__(self) -> None:
        _normalize(self)


# ------------------------------------------------------------ stream info


@dataclass(slots=True)
class StreamState(Model):
    """What a stream holds now."""

    messages: int = fld(INT, default=0)
    bytes: int = fld(INT, default=0)
    first_seq: int = fld(INT, default=0)
    first_ts: datetime | None = fld(TIME)
    last_seq: int = fld(INT, default=0)
    last_ts: datetime | None = fld(TIME)
    consumer_count: int = fld(INT, default=0)
    num_deleted: int | None = fld(INT)
    deleted: list[int] | None = fld(INT_LIST)
    num_subjects: int | None = fld(INT)
    subjects: dict[str, int] | None = fld(INT_MAP)
    extra: dict[str, Any] = extra_field()


@dataclass(slots=True)
class PeerInfo(Model):
    """One replica of a clustered stream or consumer."""

    name: str = fld(STR, default="")
    current: bool = fld(BOOL, default=False)
    offline: bool | None = fld(BOOL)
    active: timedelta | None = fld(DURATION)
    lag: int | None = fld(INT)
    observer: bool | None = fld(BOOL)
    extra: dict[str, Any] = extra_field()


@dataclass(slots=True)
class ClusterInfo(Model):
    """The cluster of a stream or consumer: its name, leader and replicas."""

    name: str | None = fld(STR)
    raft_group: str | None = fld(STR)
    leader: str | None = fld(STR)
    leader_since: datetime | None = fld(TIME)
    system_account: bool | None = fld(BOOL)
    traffic_account: str | None = fld(STR)
    replicas: list[PeerInfo] | None = fld(models(PeerInfo))
    extra: dict[str, Any] = extra_field()


@dataclass(slots=True)
class StreamSourceInfo(Model):
    """The state of a mirror or source: how far behind it is, when it was active."""

    name: str = fld(STR, default="")
    lag: int | None = fld(INT)
    active: timedelta | None = fld(DURATION)
    filter_subject: str | None = fld(STR)
    subject_transforms: list[SubjectTransform] | None = fld(models(SubjectTransform))
    external: ExternalStream | None = fld(model(ExternalStream))
    error: dict[str, Any] | None = fld()
    extra: dict[str, Any] = extra_field()


@dataclass(slots=True)
class StreamInfo(Model):
    """``STREAM.INFO`` (and create/update) answer: configuration, state, cluster."""

    config: StreamConfig = fld(model(StreamConfig), default=None)
    created: datetime | None = fld(TIME)
    state: StreamState = fld(model(StreamState), default=None)
    cluster: ClusterInfo | None = fld(model(ClusterInfo))
    mirror: StreamSourceInfo | None = fld(model(StreamSourceInfo))
    sources: list[StreamSourceInfo] | None = fld(models(StreamSourceInfo))
    ts: datetime | None = fld(TIME)
    extra: dict[str, Any] = extra_field()

    def __post_init__(self) -> None:
        if self.config is None:
            self.config = StreamConfig()
        if self.state is None:
            self.state = StreamState()


# -------------------------------------------------------------- consumers


@dataclass(slots=True)
class ConsumerConfig(Model):
    """A consumer's configuration (``CONSUMER.CREATE`` body, ``config`` of info).

    Pull consumers leave ``deliver_subject`` unset. A durable consumer has
    ``durable_name`` (or ``name`` with no ``inactive_threshold``); without a
    name the consumer is ephemeral.

    ``ack_policy`` defaults to :attr:`AckPolicy.EXPLICIT`: each message is
    acknowledged on its own, as nats.go and nats-py default to (the server,
    when the field is left out, makes a consumer that takes no acks). Give
    ``AckPolicy.NONE`` for a consumer without acks, or ``None`` to leave the
    field out of the request.

    Priority groups (ADR-42, pull consumers only): ``priority_groups`` names
    the groups (1 to 16 of ``A-Z a-z 0-9 - _ / =``; the ADR allows one for
    now), ``priority_policy`` says how they share the messages (see
    :class:`PriorityPolicy`), and ``priority_timeout`` (nats.go's
    ``PinnedTTL``; ``pinned_client`` only, server default 2 minutes) is how
    long the pinned client may go without pulling before another is pinned.
    """

    name: str | None = fld(STR)
    durable_name: str | None = fld(STR)
    description: str | None = fld(STR)
    deliver_policy: DeliverPolicy | None = fld(enum(DeliverPolicy))
    opt_start_seq: int | None = fld(INT)
    opt_start_time: datetime | None = fld(TIME)
    ack_policy: AckPolicy | None = fld(enum(AckPolicy), default=AckPolicy.EXPLICIT)
    ack_wait: timedelta | None = fld(DURATION)
    max_deliver: int | None = fld(INT)
    backoff: list[timedelta] | None = fld(DURATION_LIST)
    filter_subject: str | None = fld(STR)
    filter_subjects: list[str] | None = fld(STR_LIST)
    replay_policy: ReplayPolicy | None = fld(enum(ReplayPolicy))
    rate_limit_bps: int | None = fld(INT)
    sample_freq: str | None = fld(STR)
    max_waiting: int | None = fld(INT)
    max_ack_pending: int | None = fld(INT)
    headers_only: bool | None = fld(BOOL)
    max_batch: int | None = fld(INT)
    max_expires: timedelta | None = fld(DURATION)
    max_bytes: int | None = fld(INT)
    inactive_threshold: timedelta | None = fld(DURATION)
    num_replicas: int | None = fld(INT)
    mem_storage: bool | None = fld(BOOL)
    metadata: dict[str, str] | None = fld(STR_MAP)
    pause_until: datetime | None = fld(TIME)
    priority_policy: PriorityPolicy | None = fld(enum(PriorityPolicy))
    priority_groups: list[str] | None = fld(STR_LIST)
    priority_timeout: timedelta | None = fld(DURATION)
    # push consumers
    deliver_subject: str | None = fld(STR)
    deliver_group: str | None = fld(STR)
    flow_control: bool | None = fld(BOOL)
    idle_heartbeat: timedelta | None = fld(DURATION)
    extra: dict[str, Any] = extra_field()

    def __post_init__(self) -> None:
        _normalize(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        """Build from a decoded JSON object. The ``explicit`` default is for configs
        written here: a read one without a known ``ack_policy`` keeps ``None``
        (an unknown value stays in ``extra`` and goes back out unchanged)."""
        cfg = super(ConsumerConfig, cls).from_json(data)
        if not isinstance(data.get("ack_policy"), str) or "ack_policy" in cfg.extra:
            cfg.ack_policy = None
        return cfg


@dataclass(slots=True)
class SequenceInfo(Model):
    """A consumer's position: consumer and stream sequences, and when it last moved."""

    consumer_seq: int = fld(INT, default=0)
    stream_seq: int = fld(INT, default=0)
    last_active: datetime | None = fld(TIME)
    extra: dict[str, Any] = extra_field()


@dataclass(slots=True)
class PriorityGroupState(Model):
    """One priority group in a consumer's info: the pinned client, if any.

    ``pinned_client_id`` is the pin id the server gave the pinned client (sent
    to it in the ``Nats-Pin-Id`` header), ``pinned_ts`` when it was pinned.
    """

    group: str = fld(STR, default="")
    pinned_client_id: str | None = fld(STR)
    pinned_ts: datetime | None = fld(TIME)
    extra: dict[str, Any] = extra_field()


@dataclass(slots=True)
class ConsumerInfo(Model):
    """``CONSUMER.INFO`` (and create) answer."""

    stream_name: str = fld(STR, default="")
    name: str = fld(STR, default="")
    created: datetime | None = fld(TIME)
    config: ConsumerConfig = fld(model(ConsumerConfig), default=None)
    delivered: SequenceInfo = fld(model(SequenceInfo), default=None)
    ack_floor: SequenceInfo = fld(model(SequenceInfo), default=None)
    num_ack_pending: int = fld(INT, default=0)
    num_redelivered: int = fld(INT, default=0)
    num_waiting: int = fld(INT, default=0)
    num_pending: int = fld(INT, default=0)
    cluster: ClusterInfo | None = fld(model(ClusterInfo))
    push_bound: bool | None = fld(BOOL)
    paused: bool | None = fld(BOOL)
    pause_remaining: timedelta | None = fld(DURATION)
    priority_groups: list[PriorityGroupState] | None = fld(models(PriorityGroupState))
    ts: datetime | None = fld(TIME)
    extra: dict[str, Any] = extra_field()

    def __post_init__(self) -> None:
        if self.config is None:
            self.config = ConsumerConfig(ack_policy=None)  # none was given: claim none
        if self.delivered is None:
            self.delivered = SequenceInfo()
        if self.ack_floor is None:
            self.ack_floor = SequenceInfo()


@dataclass(slots=True)
class ConsumerPauseResponse(Model):
    """``CONSUMER.PAUSE`` answer: whether the consumer is paused, until when."""

    paused: bool = fld(BOOL, default=False)
    pause_until: datetime | None = fld(TIME)
    pause_remaining: timedelta | None = fld(DURATION)
    extra: dict[str, Any] = extra_field()


# ---------------------------------------------------------------- account


@dataclass(slots=True)
class AccountLimits(Model):
    """The JetStream limits of an account (-1 means unlimited)."""

    max_memory: int = fld(INT, default=0)
    max_storage: int = fld(INT, default=0)
    max_streams: int = fld(INT, default=0)
    max_consumers: int = fld(INT, default=0)
    max_ack_pending: int | None = fld(INT)
    memory_max_stream_bytes: int | None = fld(INT)
    storage_max_stream_bytes: int | None = fld(INT)
    max_bytes_required: bool | None = fld(BOOL)
    extra: dict[str, Any] = extra_field()


@dataclass(slots=True)
class APIStats(Model):
    """JetStream API calls made by the account."""

    level: int | None = fld(INT)
    total: int = fld(INT, default=0)
    errors: int = fld(INT, default=0)
    inflight: int | None = fld(INT)
    extra: dict[str, Any] = extra_field()


@dataclass(slots=True)
class AccountTier(Model):
    """Usage and limits of one account tier (R1, R3...)."""

    memory: int = fld(INT, default=0)
    storage: int = fld(INT, default=0)
    reserved_memory: int | None = fld(INT)
    reserved_storage: int | None = fld(INT)
    streams: int = fld(INT, default=0)
    consumers: int = fld(INT, default=0)
    limits: AccountLimits = fld(model(AccountLimits), default=None)
    extra: dict[str, Any] = extra_field()

    def __post_init__(self) -> None:
        if self.limits is None:
            self.limits = AccountLimits()


@dataclass(slots=True)
class AccountInfo(Model):
    """``$JS.API.INFO`` answer: the account's usage, limits, domain and API stats."""

    memory: int = fld(INT, default=0)
    storage: int = fld(INT, default=0)
    reserved_memory: int | None = fld(INT)
    reserved_storage: int | None = fld(INT)
    streams: int = fld(INT, default=0)
    consumers: int = fld(INT, default=0)
    limits: AccountLimits = fld(model(AccountLimits), default=None)
    domain: str | None = fld(STR)
    api: APIStats = fld(model(APIStats), default=None)
    tiers: dict[str, AccountTier] | None = fld(model_map(AccountTier))
    extra: dict[str, Any] = extra_field()

    def __post_init__(self) -> None:
        if self.limits is None:
            self.limits = AccountLimits()
        if self.api is None:
            self.api = APIStats()


# --------------------------------------------------------- publish, get


@dataclass(slots=True)
class PubAck(Model):
    """A stream's acknowledgement of a publish: where the message was stored."""

    stream: str = fld(STR, default="")
    seq: int = fld(INT, default=0)
    duplicate: bool | None = fld(BOOL)
    domain: str | None = fld(STR)
    extra: dict[str, Any] = extra_field()


@dataclass(slots=True)
class StoredMsg(Model):
    """A message read from a stream (``STREAM.MSG.GET`` or a direct get).

    ``data`` is the payload (base64-decoded from JSON), ``headers`` the decoded
    header block (``hdrs``) or ``None``; ``stream`` is set by a direct get.
    """

    subject: str = fld(STR, default="")
    seq: int = fld(INT, default=0)
    data: bytes = fld(BASE64, default=b"")
    headers: Headers | None = fld(BASE64_HEADERS, key="hdrs")
    time: datetime | None = fld(TIME)
    stream: str | None = fld(STR)
    extra: dict[str, Any] = extra_field()


RawStreamMsg = StoredMsg
"""nats.go's name for :class:`StoredMsg`."""

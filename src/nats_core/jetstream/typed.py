"""The keyword arguments of the configuration calls, typed for type checkers.

``js.create_stream(name="ORDERS", subjcts=["orders.>"])`` or
``storage="fil"`` would otherwise pass a type checker and fail at run time (or,
worse, do something else). The clients' calls that take a configuration as
keywords (``create_stream(**fields)``, ``create_consumer(stream, **fields)``,
``create_key_value(**fields)``, ``create_object_store(**fields)`` and their
``update_`` / ``create_or_update_`` siblings) declare them with these
:class:`~typing.TypedDict` classes through :data:`typing.Unpack`, so mypy and
pyright check each name and the type of each value.

Each holds the fields of its dataclass (:class:`~nats_core.jetstream.StreamConfig`,
:class:`~nats_core.jetstream.ConsumerConfig`,
:class:`~nats_core.jetstream.kv.KeyValueConfig`,
:class:`~nats_core.jetstream.objectstore.ObjectStoreConfig`), every one optional
(a ``config`` may be given instead, the keywords then replace its fields). They
accept what the dataclasses accept when built:

- an enum field takes the member or its value (``storage=StorageType.MEMORY``
  or ``storage="memory"``, the :data:`typing.Literal` aliases below);
- a list of strings takes one string (``subjects="orders.*"`` is
  ``["orders.*"]``), a list of sources one source;
- a duration takes a :class:`~datetime.timedelta` or seconds (``ack_wait=30``).

:class:`OrderedConsumerOptions` holds the keywords of ``js.ordered_consumer``
for ``stream.ordered_consumer(...)``, which passes them on;
:class:`PushSubscribeOptions` those of ``js.subscribe`` but ``queue``, for
``js.queue_subscribe(subject, queue, ...)``.

``tests/test_typed_config.py`` keeps the keys and the dataclasses' fields (and
``js.ordered_consumer``'s and ``js.subscribe``'s keywords) the same.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, TypedDict

from .models import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    Placement,
    PriorityPolicy,
    ReplayPolicy,
    RePublish,
    RetentionPolicy,
    StorageType,
    StoreCompression,
    StreamConsumerLimits,
    StreamSource,
    SubjectTransform,
)

__all__ = [
    "AckPolicyValue",
    "ConsumerConfigFields",
    "DeliverPolicyValue",
    "DiscardPolicyValue",
    "ErrorCallback",
    "KeyValueConfigFields",
    "ObjectStoreConfigFields",
    "OrderedConsumerOptions",
    "PriorityPolicyValue",
    "PushSubscribeOptions",
    "ReplayPolicyValue",
    "RetentionPolicyValue",
    "StorageTypeValue",
    "StoreCompressionValue",
    "StreamConfigFields",
]

RetentionPolicyValue = RetentionPolicy | Literal["limits", "interest", "workqueue"]
"""A :class:`~nats_core.jetstream.RetentionPolicy` or its value."""
DiscardPolicyValue = DiscardPolicy | Literal["old", "new"]
"""A :class:`~nats_core.jetstream.DiscardPolicy` or its value."""
StorageTypeValue = StorageType | Literal["file", "memory"]
"""A :class:`~nats_core.jetstream.StorageType` or its value."""
StoreCompressionValue = StoreCompression | Literal["none", "s2"]
"""A :class:`~nats_core.jetstream.StoreCompression` or its value."""
DeliverPolicyValue = (
    DeliverPolicy
    | Literal["all", "last", "new", "by_start_sequence", "by_start_time", "last_per_subject"]
)
"""A :class:`~nats_core.jetstream.DeliverPolicy` or its value."""
AckPolicyValue = AckPolicy | Literal["none", "all", "explicit", "flow_control"]
"""A :class:`~nats_core.jetstream.AckPolicy` or its value."""
ReplayPolicyValue = ReplayPolicy | Literal["instant", "original"]
"""A :class:`~nats_core.jetstream.ReplayPolicy` or its value."""
PriorityPolicyValue = PriorityPolicy | Literal["none", "overflow", "pinned_client", "prioritized"]
"""A :class:`~nats_core.jetstream.PriorityPolicy` or its value."""

Duration = timedelta | float
"""A :class:`~datetime.timedelta`, or seconds."""

ErrorCallback = Callable[[BaseException], object]
"""A JetStream subscription's or consumer's ``error_cb``: called (plain or async)
with each error met while running."""


class StreamConfigFields(TypedDict, total=False):
    """The keywords of ``create_stream`` / ``update_stream`` /
    ``create_or_update_stream``: the fields of :class:`~nats_core.jetstream.StreamConfig`."""

    name: str
    description: str | None
    subjects: str | list[str] | None
    retention: RetentionPolicyValue | None
    max_consumers: int | None
    max_msgs: int | None
    max_bytes: int | None
    discard: DiscardPolicyValue | None
    discard_new_per_subject: bool | None
    max_age: Duration | None
    max_msgs_per_subject: int | None
    max_msg_size: int | None
    storage: StorageTypeValue | None
    num_replicas: int | None
    no_ack: bool | None
    duplicate_window: Duration | None
    placement: Placement | None
    mirror: StreamSource | None
    sources: StreamSource | list[StreamSource] | None
    sealed: bool | None
    deny_delete: bool | None
    deny_purge: bool | None
    allow_rollup_hdrs: bool | None
    allow_direct: bool | None
    mirror_direct: bool | None
    republish: RePublish | None
    subject_transform: SubjectTransform | None
    compression: StoreCompressionValue | None
    first_seq: int | None
    consumer_limits: StreamConsumerLimits | None
    metadata: dict[str, str] | None
    allow_msg_ttl: bool | None
    subject_delete_marker_ttl: Duration | None
    allow_msg_counter: bool | None
    allow_atomic: bool | None
    allow_msg_schedules: bool | None
    allow_batched: bool | None
    extra: dict[str, Any]


class ConsumerConfigFields(TypedDict, total=False):
    """The keywords of ``create_consumer`` / ``update_consumer`` /
    ``create_or_update_consumer``: the fields of :class:`~nats_core.jetstream.ConsumerConfig`."""

    name: str | None
    durable_name: str | None
    description: str | None
    deliver_policy: DeliverPolicyValue | None
    opt_start_seq: int | None
    opt_start_time: datetime | None
    ack_policy: AckPolicyValue | None
    ack_wait: Duration | None
    max_deliver: int | None
    backoff: list[Duration] | None
    filter_subject: str | None
    filter_subjects: str | list[str] | None
    replay_policy: ReplayPolicyValue | None
    rate_limit_bps: int | None
    sample_freq: str | None
    max_waiting: int | None
    max_ack_pending: int | None
    headers_only: bool | None
    max_batch: int | None
    max_expires: Duration | None
    max_bytes: int | None
    inactive_threshold: Duration | None
    num_replicas: int | None
    mem_storage: bool | None
    metadata: dict[str, str] | None
    pause_until: datetime | None
    priority_policy: PriorityPolicyValue | None
    priority_groups: str | list[str] | None
    priority_timeout: Duration | None
    deliver_subject: str | None
    deliver_group: str | None
    flow_control: bool | None
    idle_heartbeat: Duration | None
    extra: dict[str, Any]


class KeyValueConfigFields(TypedDict, total=False):
    """The keywords of ``create_key_value`` / ``update_key_value`` /
    ``create_or_update_key_value``: the fields of
    :class:`~nats_core.jetstream.kv.KeyValueConfig` (``bucket`` is needed
    unless a ``config`` is given)."""

    bucket: str
    description: str | None
    max_value_size: int
    history: int
    ttl: Duration
    max_bytes: int
    storage: StorageTypeValue
    replicas: int
    compression: bool
    metadata: dict[str, str] | None
    limit_marker_ttl: Duration
    placement: Placement | None
    republish: RePublish | None
    mirror: StreamSource | None
    sources: StreamSource | list[StreamSource] | None
    extra: dict[str, Any]


class ObjectStoreConfigFields(TypedDict, total=False):
    """The keywords of ``create_object_store`` / ``update_object_store`` /
    ``create_or_update_object_store``: the fields of
    :class:`~nats_core.jetstream.objectstore.ObjectStoreConfig` (``bucket`` is
    needed unless a ``config`` is given)."""

    bucket: str
    description: str | None
    ttl: Duration
    max_bytes: int
    storage: StorageTypeValue
    replicas: int
    compression: bool
    metadata: dict[str, str] | None


class OrderedConsumerOptions(TypedDict, total=False):
    """The keywords of ``js.ordered_consumer(stream, ...)``, for the calls that
    pass them on (``stream.ordered_consumer(...)``): the same names and types."""

    filter_subjects: str | Sequence[str] | None
    deliver_policy: DeliverPolicy | str
    opt_start_seq: int | None
    opt_start_time: datetime | None
    replay_policy: ReplayPolicy | str | None
    inactive_threshold: timedelta | float
    headers_only: bool
    max_reset_attempts: int | None


class PushSubscribeOptions(TypedDict, total=False):
    """The keywords of ``js.subscribe(subject, cb, ...)`` but ``queue``, for
    ``js.queue_subscribe(subject, queue, cb, ...)``, which passes them on: the
    same names and types."""

    durable: str | None
    stream: str | None
    consumer: str | None
    deliver_policy: DeliverPolicy | str | None
    opt_start_seq: int | None
    opt_start_time: datetime | None
    ack_policy: AckPolicy | str | None
    manual_ack: bool
    ordered_consumer: bool
    idle_heartbeat: timedelta | float | None
    flow_control: bool
    headers_only: bool
    inactive_threshold: timedelta | float | None
    config: ConsumerConfig | None
    pending_msgs_limit: int | None
    pending_bytes_limit: int | None
    error_cb: ErrorCallback | None
